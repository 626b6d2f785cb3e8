//! npipe: the Win32 pipe model — anonymous pipes, named pipes and mailslots —
//! natively on Linux.
//!
//! The blocking API is shaped after the Win32 calls, one for one:
//!
//! | Win32 | npipe |
//! |---|---|
//! | `CreatePipe` | [`anonymous::pipe`], [`anonymous::AnonymousPipeOptions`] |
//! | `CreateNamedPipe` | [`ServerOptions::create`] |
//! | `ConnectNamedPipe` / `DisconnectNamedPipe` | [`NamedPipeServer::connect`] / [`NamedPipeServer::disconnect`] |
//! | `CreateFile` on a pipe name | [`ClientOptions::open`] |
//! | `WaitNamedPipe` | [`ClientOptions::wait`] |
//! | `CallNamedPipe` | [`ClientOptions::call`] |
//! | `ReadFile` / `WriteFile` | [`std::io::Read`] / [`std::io::Write`], [`NamedPipeClient::read_message`] |
//! | `PeekNamedPipe` | [`NamedPipeClient::peek`] |
//! | `TransactNamedPipe` | [`NamedPipeClient::transact`] |
//! | `FlushFileBuffers` | [`std::io::Write::flush`] |
//! | `GetNamedPipeClientComputerName` | [`NamedPipeServer::client_computer_name`], [`NamedPipeServer::remote_client`] |
//! | `CreateFile` on `\\host\pipe\name` (through `npiped`) | [`ClientOptions::open`] with the `remote` feature, see [`net`] |
//! | `CreateMailslot` / `GetMailslotInfo` / `SetMailslotInfo` | [`mailslot::MailslotOptions::create`], [`Mailslot::info`], [`Mailslot::set_read_timeout`] |
//! | `CreateFile` + `WriteFile` on a mailslot name | [`mailslot::MailslotWriter`] |
//!
//! `docs/WIN32-MAPPING.md` in the repository lists every function, flag and
//! error with its npipe counterpart.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use npipe::{ClientOptions, ServerOptions};
//!
//! # let root = npipe::doc_support::TempRoot::new()?;
//! let name = r"\\.\pipe\doc-crate-example";
//! let server = ServerOptions::new().root(root.path()).create(name)?;
//! let mut client = ClientOptions::new().root(root.path()).open(name)?;
//! server.connect()?;
//! client.write_all(b"hello")?;
//! let mut buf = [0; 5];
//! (&server).read_exact(&mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![doc(test(attr(deny(warnings))))]

pub mod anonymous;
mod error;
pub mod mailslot;
pub mod name;
mod namespace;
pub mod net;
mod pipe;
#[doc(hidden)]
pub mod proto;
mod sys;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
pub mod win32;

#[doc(hidden)]
pub mod doc_support;

pub use error::{win32_code_of, Error, Result, Win32Code};
pub use mailslot::{Mailslot, MailslotEntry, MailslotInfo, MailslotOptions, MailslotWriter};
pub use name::{Host, NameKind, PipeName};
pub use namespace::{Namespace, PipeEntry, DEFAULT_ROOT};
pub use pipe::{
    Access, ClientOptions, Credentials, MessageRead, NamedPipeClient, NamedPipeServer, PeekInfo,
    PipeEnd, PipeInfo, PipeMode, ReadMode, ServerOptions, WaitTimeout, DEFAULT_TIMEOUT,
    PIPE_UNLIMITED_INSTANCES,
};

#[cfg(test)]
mod tests {
    /// Like Win32 handles, every handle can be shared between threads
    /// (one blocked in a read while another writes).
    #[test]
    fn handles_are_send_and_sync() {
        fn is<T: Send + Sync>() {}
        is::<crate::NamedPipeServer>();
        is::<crate::NamedPipeClient>();
        is::<crate::anonymous::PipeReader>();
        is::<crate::anonymous::PipeWriter>();
        is::<crate::mailslot::Mailslot>();
        is::<crate::mailslot::MailslotWriter>();
    }
}
