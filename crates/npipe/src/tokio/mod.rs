//! The async API on tokio (feature `tokio`): every capability of the
//! blocking API, with no thread per connection.
//!
//! | Win32 | blocking | async |
//! |---|---|---|
//! | `CreatePipe` | [`crate::anonymous::pipe`] | [`anonymous::pipe`] |
//! | `CreateNamedPipe` | [`ServerOptions::create`](crate::ServerOptions::create) | [`NamedPipeServer::create`], [`PipeListener::bind`] |
//! | `ConnectNamedPipe` | [`connect`](crate::NamedPipeServer::connect) | [`NamedPipeServer::connect`], [`PipeListener::accept`] |
//! | `DisconnectNamedPipe` | [`disconnect`](crate::NamedPipeServer::disconnect) | [`NamedPipeServer::disconnect`] |
//! | `CreateFile` | [`ClientOptions::open`](crate::ClientOptions::open) | [`NamedPipeClient::open`], [`NamedPipeClient::open_wait`] |
//! | `WaitNamedPipe` | [`ClientOptions::wait`](crate::ClientOptions::wait) | [`NamedPipeClient::wait`] |
//! | `CallNamedPipe` | [`ClientOptions::call`](crate::ClientOptions::call) | [`NamedPipeClient::call`] |
//! | `ReadFile` / `WriteFile` | `read_message` / `write_message`, `Read` / `Write` | `read_message` / `write_message`, [`AsyncRead`](::tokio::io::AsyncRead) / [`AsyncWrite`](::tokio::io::AsyncWrite) |
//! | `PeekNamedPipe` | `peek` | `peek` (never waits) |
//! | `TransactNamedPipe` | `transact` | `transact` |
//! | `FlushFileBuffers` | `flush_buffers`, `Write::flush` | `flush`, `AsyncWriteExt::flush` |
//! | `GetNamedPipeClientProcessId`, `ImpersonateNamedPipeClient` | `client_process_id`, `client_credentials` | the same, on the async types |
//!
//! The options builders are the blocking API's own
//! ([`ServerOptions`](crate::ServerOptions),
//! [`ClientOptions`](crate::ClientOptions)), and the errors are the same
//! [`Error`](crate::Error)s.
//!
//! # One core, two front ends
//!
//! The async types wrap the blocking ones and drive the same connection
//! core with tokio's reactor in place of `poll(2)`: reads loop over the
//! core's non-blocking read step and the socket's readiness, writes over
//! its non-blocking write step, flush over the kernel's count of bytes the
//! peer has not read, a server's connect over the instance's non-blocking
//! accept, and a client's wait over the pipe directory's inotify watch.
//! Framing, `ERROR_MORE_DATA`, peek, the transact checks, the client
//! checks and the namespace rendezvous are the blocking API's code, so the
//! two front ends interoperate in every combination, across processes.
//!
//! # Cancellation
//!
//! Every future may be dropped at any await point without losing,
//! doubling or splitting a message: received bytes stay in the connection
//! until a read delivers them whole, and a message write takes a whole
//! message or nothing (a part that did not fit goes out before anything
//! else). Each method's doc says what dropping it leaves behind.
//!
//! # Runtime
//!
//! Handles can be made anywhere; I/O and waits need a tokio runtime with
//! I/O and time enabled (`#[tokio::main]` has both). Without one they
//! return an error rather than panic.

pub mod anonymous;
mod client;
mod conn;
mod io;
mod listener;
mod server;
mod watch;

pub use client::NamedPipeClient;
pub use listener::PipeListener;
pub use server::NamedPipeServer;
