//! The small value types of the pipe API: modes, access, timeouts, results.

use std::time::Duration;

/// Whether data is written to a pipe as a stream of bytes or as messages
/// (the `PIPE_TYPE_*` flags of `dwPipeMode` in [`CreateNamedPipe`]).
///
/// [`CreateNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-createnamedpipea
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PipeMode {
    /// A stream of bytes; write boundaries are not kept (`PIPE_TYPE_BYTE`).
    #[default]
    #[doc(alias = "PIPE_TYPE_BYTE")]
    Byte,
    /// Each write is one message, delivered whole (`PIPE_TYPE_MESSAGE`).
    #[doc(alias = "PIPE_TYPE_MESSAGE")]
    Message,
}

/// How a handle reads a pipe (the `PIPE_READMODE_*` flags; changeable on an
/// open handle with [`SetNamedPipeHandleState`]).
///
/// [`SetNamedPipeHandleState`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-setnamedpipehandlestate
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReadMode {
    /// Reads return bytes across message boundaries (`PIPE_READMODE_BYTE`).
    #[default]
    #[doc(alias = "PIPE_READMODE_BYTE")]
    Byte,
    /// A read returns at most one message; a longer message reports
    /// `ERROR_MORE_DATA` and the rest comes with the next read
    /// (`PIPE_READMODE_MESSAGE`). Valid only on message-type pipes.
    #[doc(alias = "PIPE_READMODE_MESSAGE")]
    Message,
}

/// The direction data flows in a named pipe, seen from the server
/// (`PIPE_ACCESS_*` in `dwOpenMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Access {
    /// Clients write, the server reads (`PIPE_ACCESS_INBOUND`).
    #[doc(alias = "PIPE_ACCESS_INBOUND")]
    Inbound,
    /// The server writes, clients read (`PIPE_ACCESS_OUTBOUND`).
    #[doc(alias = "PIPE_ACCESS_OUTBOUND")]
    Outbound,
    /// Both ways (`PIPE_ACCESS_DUPLEX`).
    #[default]
    #[doc(alias = "PIPE_ACCESS_DUPLEX")]
    Duplex,
}

impl Access {
    /// Whether the server end may read.
    pub fn server_reads(self) -> bool {
        matches!(self, Access::Inbound | Access::Duplex)
    }

    /// Whether the server end may write.
    pub fn server_writes(self) -> bool {
        matches!(self, Access::Outbound | Access::Duplex)
    }
}

/// Which end of a named pipe a handle is (`PIPE_CLIENT_END` /
/// `PIPE_SERVER_END` from [`GetNamedPipeInfo`]).
///
/// [`GetNamedPipeInfo`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-getnamedpipeinfo
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PipeEnd {
    /// `PIPE_CLIENT_END`
    #[doc(alias = "PIPE_CLIENT_END")]
    Client,
    /// `PIPE_SERVER_END`
    #[doc(alias = "PIPE_SERVER_END")]
    Server,
}

/// How long [`ClientOptions::wait`](crate::ClientOptions::wait) waits for a
/// free instance (`nTimeOut` of [`WaitNamedPipe`]).
///
/// [`WaitNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-waitnamedpipea
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitTimeout {
    /// The pipe's default time-out, set by the server with
    /// [`ServerOptions::default_timeout`](crate::ServerOptions::default_timeout)
    /// (`NMPWAIT_USE_DEFAULT_WAIT`).
    #[doc(alias = "NMPWAIT_USE_DEFAULT_WAIT")]
    Default,
    /// No limit (`NMPWAIT_WAIT_FOREVER`).
    #[doc(alias = "NMPWAIT_WAIT_FOREVER")]
    Forever,
    /// At most this long.
    Duration(Duration),
}

impl From<Duration> for WaitTimeout {
    fn from(d: Duration) -> WaitTimeout {
        WaitTimeout::Duration(d)
    }
}

/// What one message read delivered (`ReadFile` on a pipe in message read
/// mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
#[non_exhaustive]
pub enum MessageRead {
    /// The whole (rest of the) message: this many bytes.
    Complete(usize),
    /// The buffer filled with this many bytes and the message goes on; the
    /// next read returns the rest (`ERROR_MORE_DATA` on Windows).
    #[doc(alias = "ERROR_MORE_DATA")]
    MoreData(usize),
}

impl MessageRead {
    /// Bytes copied into the buffer.
    pub fn len(self) -> usize {
        match self {
            MessageRead::Complete(n) | MessageRead::MoreData(n) => n,
        }
    }

    /// Whether nothing was copied (a zero-length message, or end of data).
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Whether the message ended within this read.
    pub fn is_complete(self) -> bool {
        matches!(self, MessageRead::Complete(_))
    }
}

/// What [`peek`](crate::NamedPipeClient::peek) saw, without consuming
/// anything (the out-parameters of [`PeekNamedPipe`]).
///
/// [`PeekNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-peeknamedpipe
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct PeekInfo {
    /// Bytes copied into the buffer (`lpBytesRead`).
    pub copied: usize,
    /// Bytes waiting to be read, all messages together, headers excluded
    /// (`lpTotalBytesAvail`).
    pub total_available: usize,
    /// Bytes of the first message not copied into the buffer; always 0 on a
    /// byte-type pipe (`lpBytesLeftThisMessage`).
    pub left_in_message: usize,
}

/// The fixed properties of a named pipe ([`GetNamedPipeInfo`]) and the state
/// of one handle ([`GetNamedPipeHandleState`]).
///
/// [`GetNamedPipeInfo`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-getnamedpipeinfo
/// [`GetNamedPipeHandleState`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-getnamedpipehandlestatea
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipeInfo {
    /// Which end this handle is.
    pub end: PipeEnd,
    /// Byte or message type, fixed by the first instance.
    pub pipe_mode: PipeMode,
    /// This handle's read mode.
    pub read_mode: ReadMode,
    /// Whether this handle is in non-blocking mode (`PIPE_NOWAIT`).
    pub nowait: bool,
    /// The server's outgoing buffer size in bytes, 0 for the system default.
    pub out_buffer_size: u32,
    /// The server's incoming buffer size in bytes, 0 for the system default.
    pub in_buffer_size: u32,
    /// The instance limit; 255 means unlimited (`PIPE_UNLIMITED_INSTANCES`).
    pub max_instances: u32,
    /// Instances of this pipe that exist now, in every process.
    pub current_instances: u32,
}

/// The credentials of the process on the other end, read from the kernel
/// when it connected (`SO_PEERCRED`); the Linux counterpart of
/// `ImpersonateNamedPipeClient` and `GetNamedPipeClientProcessId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Credentials {
    /// Process id.
    pub pid: u32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

/// The instance limit that means "no limit" (`PIPE_UNLIMITED_INSTANCES`).
pub const PIPE_UNLIMITED_INSTANCES: u32 = 255;

/// The default time-out of a pipe whose server set none (Windows: 50 ms).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
