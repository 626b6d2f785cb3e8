//! The npipe error type, with the Win32 identity of every condition.
//!
//! Ported code matches on the same conditions it matched on Windows: every
//! [`Error`] variant maps to one `ERROR_*` code ([`Error::win32_code`]), and
//! the code survives a trip through [`std::io::Error`] ([`win32_code_of`]).

use std::fmt;
use std::io;

use crate::win32;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in npipe, one variant per Win32 condition.
///
/// Display messages are lower case, name the pipe and give the Win32 name.
/// Convert into [`io::Error`] with `?` or `From`; get the npipe error back
/// with [`Error::from_io`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No pipe or mailslot of this name exists (`ERROR_FILE_NOT_FOUND`).
    #[error("no instance of {name} exists (ERROR_FILE_NOT_FOUND); is the server running?")]
    FileNotFound {
        /// The name asked for.
        name: String,
    },
    /// Every instance of the pipe is busy, or the instance limit is reached
    /// (`ERROR_PIPE_BUSY`).
    #[error("all instances of {name} are busy (ERROR_PIPE_BUSY); wait for one with WaitNamedPipe or raise max_instances on the server")]
    PipeBusy {
        /// The pipe's name.
        name: String,
    },
    /// The caller may not do this (`ERROR_ACCESS_DENIED`).
    #[error("access to {name} denied (ERROR_ACCESS_DENIED): {reason}")]
    AccessDenied {
        /// The pipe or mailslot name, or the path involved.
        name: String,
        /// Why, in a few words.
        reason: String,
    },
    /// The name is not a pipe or mailslot name (`ERROR_BAD_PATHNAME`).
    #[error("{name} is not a valid name (ERROR_BAD_PATHNAME): {reason}")]
    BadPathname {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A parameter is out of range or contradicts another
    /// (`ERROR_INVALID_PARAMETER`).
    #[error("invalid parameter (ERROR_INVALID_PARAMETER): {reason}")]
    InvalidParameter {
        /// Which parameter and why.
        reason: String,
    },
    /// A mailslot or other object of this name exists already
    /// (`ERROR_ALREADY_EXISTS`).
    #[error("{name} exists already (ERROR_ALREADY_EXISTS)")]
    AlreadyExists {
        /// The name.
        name: String,
    },
    /// A client connected between creating the instance and waiting for one
    /// (`ERROR_PIPE_CONNECTED`). The blocking and async `connect` calls
    /// fold this into `Ok(())`, as tokio does; the variant exists for codes
    /// that arrive from a peer.
    #[error("a client is already connected (ERROR_PIPE_CONNECTED)")]
    PipeConnected,
    /// A non-blocking instance has no client yet (`ERROR_PIPE_LISTENING`).
    #[error("the pipe is listening and no client has connected yet (ERROR_PIPE_LISTENING)")]
    PipeListening,
    /// The instance is not connected to a client, or the server disconnected
    /// this client (`ERROR_PIPE_NOT_CONNECTED`).
    #[error("no process is on the other end of the pipe (ERROR_PIPE_NOT_CONNECTED)")]
    PipeNotConnected,
    /// The pipe is being closed: a write found the other end gone
    /// (`ERROR_NO_DATA`). A non-blocking read that finds nothing gives
    /// [`Error::WouldBlock`], which carries the same Win32 code.
    #[error("the pipe is being closed (ERROR_NO_DATA)")]
    NoData,
    /// A non-blocking (`PIPE_NOWAIT`) read found no data waiting
    /// (`ERROR_NO_DATA`); try again later.
    #[error("no data is waiting on the non-blocking pipe (ERROR_NO_DATA)")]
    WouldBlock,
    /// The other end closed its handle, or its process died
    /// (`ERROR_BROKEN_PIPE`).
    #[error("the pipe has been ended (ERROR_BROKEN_PIPE)")]
    BrokenPipe,
    /// A message was longer than the buffer; `read` bytes were delivered and
    /// the rest waits for the next read (`ERROR_MORE_DATA`). Reads report
    /// this as [`MessageRead::MoreData`](crate::MessageRead::MoreData), a
    /// success; the variant exists for callers that want it as an error and
    /// for codes that arrive from a peer.
    #[error("more data is available: {read} bytes read, the rest of the message follows (ERROR_MORE_DATA)")]
    MoreData {
        /// Bytes copied into the buffer.
        read: usize,
    },
    /// The buffer is too small for the next message, which stays queued
    /// (`ERROR_INSUFFICIENT_BUFFER`).
    #[error("the buffer of {buffer} bytes is too small for the next message of {needed} bytes (ERROR_INSUFFICIENT_BUFFER)")]
    InsufficientBuffer {
        /// Bytes the message needs.
        needed: usize,
        /// Bytes the buffer had.
        buffer: usize,
    },
    /// A wait ran out of time (`ERROR_SEM_TIMEOUT`).
    #[error("the wait timed out (ERROR_SEM_TIMEOUT)")]
    Timeout,
    /// The operation needs a message-type pipe in message read mode, or the
    /// pipe state does not allow it (`ERROR_BAD_PIPE`).
    #[error("the pipe state is invalid for this operation (ERROR_BAD_PIPE): {reason}")]
    BadPipe {
        /// Why.
        reason: String,
    },
    /// A message is larger than this pipe or mailslot accepts, or than npipe
    /// can carry (`ERROR_INVALID_PARAMETER` on Windows for mailslots).
    #[error("a message of {len} bytes is larger than the limit of {max} bytes (ERROR_INVALID_PARAMETER)")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The peer sent bytes that do not follow the npipe protocol
    /// (`ERROR_INVALID_DATA`).
    #[error("the peer broke the npipe protocol (ERROR_INVALID_DATA): {reason}")]
    Protocol {
        /// What was wrong.
        reason: String,
    },
    /// The remote computer, or its `npiped`, cannot be reached
    /// (`ERROR_BAD_NETPATH`).
    #[error("cannot reach {host} (ERROR_BAD_NETPATH): {reason}")]
    BadNetpath {
        /// The computer (and port) tried.
        host: String,
        /// What failed.
        reason: String,
    },
    /// `npiped` answered with a Win32 error npipe has no variant for; the
    /// code survives, and prints by name when npipe knows it.
    #[error("{name}: {message} ({code})")]
    Remote {
        /// The pipe asked for.
        name: String,
        /// The code as it came from the network.
        code: Win32Code,
        /// npiped's message.
        message: String,
    },
    /// Any other operating-system error.
    #[error(transparent)]
    Io(io::Error),
}

impl From<io::Error> for Error {
    /// Keeps the npipe error inside an `io::Error` that npipe made, so `?`
    /// on an `io::Result` does not hide a Win32 condition behind `Error::Io`.
    fn from(err: io::Error) -> Error {
        Error::from_io_owned(err)
    }
}

impl Error {
    /// The Win32 `ERROR_*` number of this error.
    ///
    /// For [`Error::Io`] it is the number Windows would give for the nearest
    /// condition, or `ERROR_GEN_FAILURE` when there is none.
    ///
    /// ```
    /// let err = npipe::Error::PipeBusy { name: r"\\.\pipe\x".into() };
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_PIPE_BUSY);
    /// ```
    pub fn win32_code(&self) -> u32 {
        use win32::*;
        match self {
            Error::FileNotFound { .. } => ERROR_FILE_NOT_FOUND,
            Error::PipeBusy { .. } => ERROR_PIPE_BUSY,
            Error::AccessDenied { .. } => ERROR_ACCESS_DENIED,
            Error::BadPathname { .. } => ERROR_BAD_PATHNAME,
            Error::InvalidParameter { .. } => ERROR_INVALID_PARAMETER,
            Error::AlreadyExists { .. } => ERROR_ALREADY_EXISTS,
            Error::PipeConnected => ERROR_PIPE_CONNECTED,
            Error::PipeListening => ERROR_PIPE_LISTENING,
            Error::PipeNotConnected => ERROR_PIPE_NOT_CONNECTED,
            Error::NoData => ERROR_NO_DATA,
            Error::WouldBlock => ERROR_NO_DATA,
            Error::BrokenPipe => ERROR_BROKEN_PIPE,
            Error::MoreData { .. } => ERROR_MORE_DATA,
            Error::InsufficientBuffer { .. } => ERROR_INSUFFICIENT_BUFFER,
            Error::Timeout => ERROR_SEM_TIMEOUT,
            Error::BadPipe { .. } => ERROR_BAD_PIPE,
            Error::MessageTooLarge { .. } => ERROR_INVALID_PARAMETER,
            Error::Protocol { .. } => ERROR_INVALID_DATA,
            Error::BadNetpath { .. } => ERROR_BAD_NETPATH,
            Error::Remote { code, .. } => code.0,
            Error::Io(e) => io_to_win32(e),
        }
    }

    /// The symbolic Win32 name of [`Error::win32_code`], such as
    /// `"ERROR_PIPE_BUSY"`.
    pub fn win32_name(&self) -> &'static str {
        win32::name(self.win32_code()).unwrap_or("ERROR_GEN_FAILURE")
    }

    /// The `std::io::ErrorKind` this error converts to.
    pub fn kind(&self) -> io::ErrorKind {
        use io::ErrorKind as K;
        match self {
            Error::FileNotFound { .. } => K::NotFound,
            Error::PipeBusy { .. } => K::ResourceBusy,
            Error::AccessDenied { .. } => K::PermissionDenied,
            Error::BadPathname { .. } => K::InvalidInput,
            Error::InvalidParameter { .. } => K::InvalidInput,
            Error::AlreadyExists { .. } => K::AlreadyExists,
            Error::PipeConnected => K::AlreadyExists,
            Error::PipeListening => K::WouldBlock,
            Error::PipeNotConnected => K::NotConnected,
            Error::NoData => K::BrokenPipe,
            Error::WouldBlock => K::WouldBlock,
            Error::BrokenPipe => K::BrokenPipe,
            Error::MoreData { .. } => K::Other,
            Error::InsufficientBuffer { .. } => K::InvalidInput,
            Error::Timeout => K::TimedOut,
            Error::BadPipe { .. } => K::Unsupported,
            Error::MessageTooLarge { .. } => K::InvalidInput,
            Error::Protocol { .. } => K::InvalidData,
            Error::BadNetpath { .. } => K::HostUnreachable,
            Error::Remote { .. } => K::Other,
            Error::Io(e) => e.kind(),
        }
    }

    /// The npipe error inside an [`io::Error`] that npipe produced, if any.
    ///
    /// ```
    /// let io: std::io::Error = npipe::Error::Timeout.into();
    /// assert!(matches!(npipe::Error::from_io(&io), Some(npipe::Error::Timeout)));
    /// ```
    pub fn from_io(err: &io::Error) -> Option<&Error> {
        err.get_ref()?.downcast_ref::<Error>()
    }

    /// Turns an [`io::Error`] back into an npipe error: the one inside if
    /// npipe made it, otherwise [`Error::Io`].
    pub fn from_io_owned(err: io::Error) -> Error {
        if Error::from_io(&err).is_some() {
            // The check above guarantees the downcast succeeds.
            match err.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(inner)) => return *inner,
                _ => unreachable!("checked by from_io"),
            }
        }
        Error::Io(err)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Io(e) => e,
            other => io::Error::new(other.kind(), other),
        }
    }
}

/// The Win32 `ERROR_*` number of an [`io::Error`]: the npipe error's own code
/// when npipe made it, otherwise the nearest code for its kind.
///
/// ```
/// let io: std::io::Error = npipe::Error::BrokenPipe.into();
/// assert_eq!(npipe::win32_code_of(&io), npipe::win32::ERROR_BROKEN_PIPE);
/// ```
pub fn win32_code_of(err: &io::Error) -> u32 {
    match Error::from_io(err) {
        Some(e) => e.win32_code(),
        None => io_to_win32(err),
    }
}

fn io_to_win32(err: &io::Error) -> u32 {
    use io::ErrorKind as K;
    use win32::*;
    if let Some(inner) = Error::from_io(err) {
        return inner.win32_code();
    }
    match err.kind() {
        K::NotFound => ERROR_FILE_NOT_FOUND,
        K::PermissionDenied => ERROR_ACCESS_DENIED,
        K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted => ERROR_BROKEN_PIPE,
        K::NotConnected => ERROR_PIPE_NOT_CONNECTED,
        K::TimedOut => ERROR_SEM_TIMEOUT,
        K::InvalidInput => ERROR_INVALID_PARAMETER,
        K::AlreadyExists => ERROR_ALREADY_EXISTS,
        K::WouldBlock => ERROR_NO_DATA,
        K::InvalidData => ERROR_INVALID_DATA,
        K::OutOfMemory => ERROR_NOT_ENOUGH_MEMORY,
        _ => ERROR_GEN_FAILURE,
    }
}

/// A Win32 error code that may or may not be one npipe knows, as it arrives
/// from a peer. Unknown codes survive and print as numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Win32Code(pub u32);

impl fmt::Debug for Win32Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match win32::name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "Win32Code({})", self.0),
        }
    }
}

impl fmt::Display for Win32Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match win32::name(self.0) {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "Win32 error {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io::ErrorKind as K;

    /// One row per variant: the code, the io kind, and a word the message
    /// must contain. This is the table in docs/WIN32-MAPPING.md.
    #[test]
    fn every_variant_has_its_code_kind_and_message() {
        let name = || r"\\.\pipe\t".to_string();
        let rows: Vec<(Error, u32, K, &str)> = vec![
            (
                Error::FileNotFound { name: name() },
                2,
                K::NotFound,
                "ERROR_FILE_NOT_FOUND",
            ),
            (
                Error::PipeBusy { name: name() },
                231,
                K::ResourceBusy,
                "ERROR_PIPE_BUSY",
            ),
            (
                Error::AccessDenied {
                    name: name(),
                    reason: "uid 5 not allowed".into(),
                },
                5,
                K::PermissionDenied,
                "uid 5 not allowed",
            ),
            (
                Error::BadPathname {
                    name: "x".into(),
                    reason: "r".into(),
                },
                161,
                K::InvalidInput,
                "ERROR_BAD_PATHNAME",
            ),
            (
                Error::InvalidParameter { reason: "r".into() },
                87,
                K::InvalidInput,
                "ERROR_INVALID_PARAMETER",
            ),
            (
                Error::AlreadyExists { name: name() },
                183,
                K::AlreadyExists,
                "ERROR_ALREADY_EXISTS",
            ),
            (
                Error::PipeConnected,
                535,
                K::AlreadyExists,
                "ERROR_PIPE_CONNECTED",
            ),
            (
                Error::PipeListening,
                536,
                K::WouldBlock,
                "ERROR_PIPE_LISTENING",
            ),
            (
                Error::PipeNotConnected,
                233,
                K::NotConnected,
                "ERROR_PIPE_NOT_CONNECTED",
            ),
            (Error::NoData, 232, K::BrokenPipe, "ERROR_NO_DATA"),
            (Error::WouldBlock, 232, K::WouldBlock, "non-blocking"),
            (Error::BrokenPipe, 109, K::BrokenPipe, "ERROR_BROKEN_PIPE"),
            (Error::MoreData { read: 3 }, 234, K::Other, "3 bytes read"),
            (
                Error::InsufficientBuffer {
                    needed: 9,
                    buffer: 4,
                },
                122,
                K::InvalidInput,
                "9 bytes",
            ),
            (Error::Timeout, 121, K::TimedOut, "ERROR_SEM_TIMEOUT"),
            (
                Error::BadPipe { reason: "r".into() },
                230,
                K::Unsupported,
                "ERROR_BAD_PIPE",
            ),
            (
                Error::MessageTooLarge { len: 425, max: 424 },
                87,
                K::InvalidInput,
                "424",
            ),
            (
                Error::Protocol { reason: "r".into() },
                13,
                K::InvalidData,
                "ERROR_INVALID_DATA",
            ),
            (
                Error::BadNetpath {
                    host: "h:4445".into(),
                    reason: "refused".into(),
                },
                53,
                K::HostUnreachable,
                "ERROR_BAD_NETPATH",
            ),
            (
                Error::Remote {
                    name: name(),
                    code: Win32Code(71),
                    message: "busy".into(),
                },
                71,
                K::Other,
                "ERROR_REQ_NOT_ACCEP",
            ),
        ];
        for (err, code, kind, needle) in rows {
            let msg = err.to_string();
            assert_eq!(err.win32_code(), code, "{msg}");
            assert_eq!(err.kind(), kind, "{msg}");
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
            assert!(msg.starts_with(|c: char| !c.is_uppercase()), "{msg:?}");
            let io: io::Error = err.into();
            assert_eq!(io.kind(), kind);
            assert_eq!(win32_code_of(&io), code);
            assert_eq!(Error::from_io_owned(io).win32_code(), code);
        }
    }

    #[test]
    fn question_mark_on_io_results_keeps_the_npipe_error() {
        fn inner() -> Result<()> {
            let io: io::Result<()> = Err(Error::PipeBusy { name: "p".into() }.into());
            io?;
            Ok(())
        }
        assert!(matches!(inner(), Err(Error::PipeBusy { .. })));
    }

    #[test]
    fn foreign_io_errors_map_by_kind() {
        let io = io::Error::from(K::ConnectionReset);
        assert_eq!(win32_code_of(&io), win32::ERROR_BROKEN_PIPE);
        assert!(Error::from_io(&io).is_none());
        let io = io::Error::from_raw_os_error(13);
        assert_eq!(win32_code_of(&io), win32::ERROR_ACCESS_DENIED);
    }

    #[test]
    fn unknown_codes_survive_and_print_as_numbers() {
        assert_eq!(format!("{:?}", Win32Code(231)), "ERROR_PIPE_BUSY");
        assert_eq!(Win32Code(99999).to_string(), "Win32 error 99999");
    }
}
