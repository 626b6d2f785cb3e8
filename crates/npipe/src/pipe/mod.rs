//! Named pipes: the server end, the client end, and the builders.
//!
//! `conn` drives one connected instance over the protocol core and a
//! `transport` (today a Unix stream socket);
//! `endpoint` holds what both ends share; `server` and `client` do the
//! rendezvous in the namespace.

pub(crate) mod client;
pub(crate) mod conn;
pub(crate) mod endpoint;
mod options;
mod server;
pub(crate) mod transport;
mod types;

pub use client::NamedPipeClient;
pub use options::{ClientOptions, ServerOptions};
pub use server::NamedPipeServer;
pub use types::{
    Access, Credentials, MessageRead, PeekInfo, PipeEnd, PipeInfo, PipeMode, ReadMode, WaitTimeout,
    DEFAULT_TIMEOUT, PIPE_UNLIMITED_INSTANCES,
};

#[cfg(feature = "tokio")]
pub(crate) use server::{to_credentials, Connecting};
