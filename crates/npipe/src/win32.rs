//! The Win32 error numbers npipe reports, under their Windows names.
//!
//! Ported code can keep matching on the same constants:
//!
//! ```
//! use npipe::win32::ERROR_PIPE_BUSY;
//! let err = npipe::Error::PipeBusy { name: r"\\.\pipe\x".into() };
//! assert_eq!(err.win32_code(), ERROR_PIPE_BUSY);
//! ```

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        $($(#[$doc])* pub const $name: u32 = $value;)*

        /// The symbolic name of a Win32 error number npipe knows.
        ///
        /// ```
        /// assert_eq!(npipe::win32::name(231), Some("ERROR_PIPE_BUSY"));
        /// assert_eq!(npipe::win32::name(4242), None);
        /// ```
        pub fn name(code: u32) -> Option<&'static str> {
            match code {
                $($value => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

codes! {
    /// Incorrect function.
    ERROR_INVALID_FUNCTION = 1;
    /// The system cannot find the file specified.
    ERROR_FILE_NOT_FOUND = 2;
    /// Access is denied.
    ERROR_ACCESS_DENIED = 5;
    /// Not enough memory resources are available.
    ERROR_NOT_ENOUGH_MEMORY = 8;
    /// The data is invalid.
    ERROR_INVALID_DATA = 13;
    /// A device attached to the system is not functioning.
    ERROR_GEN_FAILURE = 31;
    /// The request is not supported.
    ERROR_NOT_SUPPORTED = 50;
    /// The network path was not found.
    ERROR_BAD_NETPATH = 53;
    /// No more connections can be made to this remote computer at this time.
    ERROR_REQ_NOT_ACCEP = 71;
    /// The parameter is incorrect.
    ERROR_INVALID_PARAMETER = 87;
    /// The pipe has been ended.
    ERROR_BROKEN_PIPE = 109;
    /// The semaphore timeout period has expired.
    ERROR_SEM_TIMEOUT = 121;
    /// The data area passed to a system call is too small.
    ERROR_INSUFFICIENT_BUFFER = 122;
    /// The filename, directory name, or volume label syntax is incorrect.
    ERROR_INVALID_NAME = 123;
    /// The specified path is invalid.
    ERROR_BAD_PATHNAME = 161;
    /// Cannot create a file when that file already exists.
    ERROR_ALREADY_EXISTS = 183;
    /// The filename or extension is too long.
    ERROR_FILENAME_EXCED_RANGE = 206;
    /// The pipe state is invalid.
    ERROR_BAD_PIPE = 230;
    /// All pipe instances are busy.
    ERROR_PIPE_BUSY = 231;
    /// The pipe is being closed.
    ERROR_NO_DATA = 232;
    /// No process is on the other end of the pipe.
    ERROR_PIPE_NOT_CONNECTED = 233;
    /// More data is available.
    ERROR_MORE_DATA = 234;
    /// There is a process on other end of the pipe.
    ERROR_PIPE_CONNECTED = 535;
    /// Waiting for a process to open the other end of the pipe.
    ERROR_PIPE_LISTENING = 536;
}
