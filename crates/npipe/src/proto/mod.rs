//! The sans-IO protocol core: framing, message assembly, handshake and the
//! checks Win32 pipe calls make before they touch a socket.
//!
//! Nothing here touches sockets, files, threads or clocks. Drivers (the
//! blocking front end, the tokio front end, the `npiped` relay) own the
//! socket, move bytes between it and the types here, and turn
//! [`ProtoError`] into [`crate::Error`] with `?`.
//!
//! # Wire format
//!
//! A connected pipe instance is one Unix stream socket. The client first
//! sends a [`Hello`] of exactly [`HELLO_LEN`] bytes; everything after it is
//! user data. On a byte-type pipe the user data is the bytes as written. On a
//! message-type pipe every message is a frame: a 4-byte little-endian `u32`
//! payload length ([`HEADER_LEN`]), then the payload. Zero-length messages
//! are frames with an empty payload. Out-of-band requests ([`Control`]) travel
//! one per datagram on a separate `SOCK_SEQPACKET` control socket.
//!
//! # Calling order for drivers
//!
//! **Connect.** The client writes [`Hello::encode`] before anything else. The
//! server reads exactly [`HELLO_LEN`] bytes and calls [`Hello::decode`]; on
//! an error it drops the connection.
//!
//! **Write a message.** Call [`encode_header`] (it refuses messages above
//! [`MAX_MESSAGE_LEN`]), then write the header and the payload, ideally in
//! one `sendmsg` with two slices, continuing after short writes until the
//! whole frame is out. Frames from two writers must never interleave.
//! [`encode_message`] builds the frame in one `Vec` for small messages.
//!
//! **Read (message-type pipe).** Keep one [`RecvBuffer`] per connection and
//! loop:
//!
//! 1. call [`RecvBuffer::read`] with the user's buffer and [`ReadMode`];
//!    `Ok(Some(outcome))` is the answer ([`ReadOutcome::MoreData`] becomes
//!    `ERROR_MORE_DATA`), `Err` means the stream is dead;
//! 2. on `Ok(None)`, `recv` into `spare(DEFAULT_RECV_CHUNK)`
//!    ([`RecvBuffer::spare`], [`DEFAULT_RECV_CHUNK`]) and pass the count to
//!    [`RecvBuffer::commit`], then go back to 1;
//! 3. when `recv` returns 0 (end of stream), messages already complete are
//!    still delivered by step 1; once it gives `Ok(None)`, call
//!    [`RecvBuffer::finish`]: whether it returns `Ok` or
//!    [`ProtoError::TruncatedMessage`], report `ERROR_BROKEN_PIPE`. A message
//!    cut short by a dying peer is never delivered, not even in part.
//!
//! Receive only when `read` returned `Ok(None)` (or for a peek that found
//! nothing): the buffer then never holds more than one message plus one
//! receive chunk.
//!
//! **Peek.** [`RecvBuffer::peek`] never consumes. A driver that wants to see
//! data still in the socket first receives without blocking (step 2).
//!
//! **Set the read mode.** [`check_read_mode`] refuses message read mode on a
//! byte-type pipe.
//!
//! **Transact.** After draining the socket without blocking, call
//! [`check_transact`] with [`RecvBuffer::buffered_payload`]; if it passes,
//! write the request frame, then read the reply with steps 1 to 3.
//!
//! **Disconnect.** Send [`Control::encode`] on the control socket; the
//! receiving side decodes it with [`Control::decode`].

mod byte_queue;
pub mod datagram;
mod frame;
mod handshake;
mod recv;
pub mod remote;
mod rules;

#[cfg(test)]
mod proptests;

pub use frame::{decode_header, encode_header, encode_message};
pub use handshake::{
    ClientAccess, Control, Hello, RemoteClaim, HELLO_LEN, HELLO_MAGIC, MAX_REMOTE_CLAIM_FIELD_LEN,
    MAX_REMOTE_CLAIM_LEN, PROTOCOL_VERSION,
};
pub use recv::{PeekInfo, ReadMode, ReadOutcome, RecvBuffer, DEFAULT_RECV_CHUNK};
pub use rules::{check_read_mode, check_transact, ReadModeRefusal, TransactRefusal};

/// Bytes in a message frame header: the payload length as a little-endian
/// `u32`.
pub const HEADER_LEN: usize = 4;

/// The largest message npipe carries, in bytes (1 GiB).
pub const MAX_MESSAGE_LEN: usize = 1 << 30;

/// What the protocol core refuses. Converts into [`crate::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A message, to send or announced by a received header, is larger than
    /// the limit. A receiving stream is dead afterwards.
    #[error("a message of {len} bytes is larger than the limit of {max} bytes")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The client's hello is not one this side understands.
    #[error("bad handshake: {0}")]
    BadHandshake(&'static str),
    /// A control datagram carries a code this side does not know.
    #[error("unknown control message {0}")]
    UnknownControl(u8),
    /// A control datagram is malformed (empty, or extra bytes after the code).
    #[error("malformed control message: {0}")]
    BadControl(&'static str),
    /// The stream ended inside a frame: `got` of the `expected` frame bytes
    /// (header included; `expected` is [`HEADER_LEN`] while the header itself
    /// is incomplete) arrived.
    #[error("the stream ended inside a message: {got} of {expected} bytes arrived")]
    TruncatedMessage {
        /// Bytes of the frame, header included, that should have arrived.
        expected: usize,
        /// Bytes of it that did.
        got: usize,
    },
}

impl From<ProtoError> for crate::Error {
    fn from(err: ProtoError) -> crate::Error {
        match err {
            ProtoError::MessageTooLarge { len, max } => crate::Error::MessageTooLarge { len, max },
            other => crate::Error::Protocol {
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::win32;

    #[test]
    fn proto_errors_convert_to_their_win32_identity() {
        let e: crate::Error = ProtoError::MessageTooLarge { len: 9, max: 8 }.into();
        assert!(matches!(
            e,
            crate::Error::MessageTooLarge { len: 9, max: 8 }
        ));
        for err in [
            ProtoError::BadHandshake("bad magic"),
            ProtoError::UnknownControl(7),
            ProtoError::BadControl("empty datagram"),
            ProtoError::TruncatedMessage {
                expected: 10,
                got: 3,
            },
        ] {
            let text = err.to_string();
            let e: crate::Error = err.into();
            assert_eq!(e.win32_code(), win32::ERROR_INVALID_DATA);
            assert!(e.to_string().contains(&text), "{e} lacks {text}");
        }
    }
}
