//! Pure checks Win32 pipe calls make before they touch the connection.

use super::ReadMode;
use crate::win32;

/// Why `TransactNamedPipe` refuses to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransactRefusal {
    /// The pipe is not a message-type pipe in message read mode
    /// (`ERROR_BAD_PIPE`).
    #[error("TransactNamedPipe needs a message-type pipe in message read mode")]
    NotMessagePipe,
    /// Unread data is waiting in the pipe (`ERROR_PIPE_BUSY`).
    #[error("unread data is waiting in the pipe")]
    UnreadData,
}

impl TransactRefusal {
    /// The Win32 error number Windows gives for this refusal.
    pub fn win32_code(self) -> u32 {
        match self {
            TransactRefusal::NotMessagePipe => win32::ERROR_BAD_PIPE,
            TransactRefusal::UnreadData => win32::ERROR_PIPE_BUSY,
        }
    }

    /// The public error for this refusal on the pipe named `pipe_name`:
    /// [`crate::Error::BadPipe`] or [`crate::Error::PipeBusy`].
    pub fn into_error(self, pipe_name: &str) -> crate::Error {
        match self {
            TransactRefusal::NotMessagePipe => crate::Error::BadPipe {
                reason: self.to_string(),
            },
            TransactRefusal::UnreadData => crate::Error::PipeBusy {
                name: pipe_name.to_owned(),
            },
        }
    }
}

/// Checks that `TransactNamedPipe` may run: the pipe must be message type in
/// message read mode, with no unread data (`unread_bytes`, for example
/// [`RecvBuffer::buffered_payload`](super::RecvBuffer::buffered_payload)
/// after draining the socket).
///
/// # Errors
/// [`TransactRefusal::NotMessagePipe`] first, then
/// [`TransactRefusal::UnreadData`].
pub fn check_transact(
    pipe_is_message: bool,
    read_mode: ReadMode,
    unread_bytes: usize,
) -> Result<(), TransactRefusal> {
    if !pipe_is_message || read_mode != ReadMode::Message {
        return Err(TransactRefusal::NotMessagePipe);
    }
    if unread_bytes > 0 {
        return Err(TransactRefusal::UnreadData);
    }
    Ok(())
}

/// Why a read mode cannot be set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadModeRefusal {
    /// Message read mode asked for on a byte-type pipe
    /// (`ERROR_INVALID_PARAMETER`).
    #[error("message read mode needs a message-type pipe")]
    MessageModeOnBytePipe,
}

impl ReadModeRefusal {
    /// The Win32 error number Windows gives for this refusal.
    pub fn win32_code(self) -> u32 {
        win32::ERROR_INVALID_PARAMETER
    }
}

impl From<ReadModeRefusal> for crate::Error {
    fn from(refusal: ReadModeRefusal) -> crate::Error {
        crate::Error::InvalidParameter {
            reason: refusal.to_string(),
        }
    }
}

/// Checks that `mode` may be used on a pipe of this type
/// (`SetNamedPipeHandleState`, `CreateNamedPipe`).
///
/// # Errors
/// [`ReadModeRefusal::MessageModeOnBytePipe`] for message read mode on a
/// byte-type pipe. Byte read mode is valid on both types.
pub fn check_read_mode(pipe_is_message: bool, mode: ReadMode) -> Result<(), ReadModeRefusal> {
    if mode == ReadMode::Message && !pipe_is_message {
        return Err(ReadModeRefusal::MessageModeOnBytePipe);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReadMode::{Byte, Message};

    #[test]
    fn transact_needs_message_pipe_in_message_mode() {
        assert_eq!(check_transact(true, Message, 0), Ok(()));
        for (is_message, mode) in [(true, Byte), (false, Byte), (false, Message)] {
            assert_eq!(
                check_transact(is_message, mode, 0),
                Err(TransactRefusal::NotMessagePipe)
            );
            // The pipe type is checked before unread data.
            assert_eq!(
                check_transact(is_message, mode, 5),
                Err(TransactRefusal::NotMessagePipe)
            );
        }
    }

    #[test]
    fn transact_refuses_while_data_is_unread() {
        assert_eq!(
            check_transact(true, Message, 1),
            Err(TransactRefusal::UnreadData)
        );
    }

    #[test]
    fn transact_refusals_keep_their_win32_identity() {
        for (refusal, code) in [
            (TransactRefusal::NotMessagePipe, win32::ERROR_BAD_PIPE),
            (TransactRefusal::UnreadData, win32::ERROR_PIPE_BUSY),
        ] {
            assert_eq!(refusal.win32_code(), code);
            let err = refusal.into_error(r"\\.\pipe\t");
            assert_eq!(err.win32_code(), code);
        }
    }

    #[test]
    fn message_read_mode_needs_a_message_pipe() {
        assert_eq!(check_read_mode(true, Message), Ok(()));
        assert_eq!(check_read_mode(true, Byte), Ok(()));
        assert_eq!(check_read_mode(false, Byte), Ok(()));
        let refusal = check_read_mode(false, Message).unwrap_err();
        assert_eq!(refusal, ReadModeRefusal::MessageModeOnBytePipe);
        let err: crate::Error = refusal.into();
        assert_eq!(err.win32_code(), win32::ERROR_INVALID_PARAMETER);
        assert_eq!(refusal.win32_code(), win32::ERROR_INVALID_PARAMETER);
    }
}
