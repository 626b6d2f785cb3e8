//! The network protocol between a remote client and `npiped`, without I/O.
//!
//! A remote client reaches `\\host\pipe\NAME` through a TLS 1.3 connection
//! to `npiped` on `host`. Inside TLS both sides exchange frames
//! ([`frame`]): a handshake (`ClientHello` → `ServerHello`), one request
//! (`Open` → `Opened`, or `Wait` → `WaitDone`, or `Error`), then, after an
//! open, the data phase driven by a [`Link`] on each side: `Data` frames
//! carry the pipe's byte stream exactly as a local client's socket would
//! (message frames included), within credit windows, and small requests
//! carry what a byte stream cannot: flush, sync (for peek), info, the
//! server's disconnect, end of stream and close. `docs/PROTOCOL.md` is the
//! specification.
//!
//! Drivers: `npipe::net` (the client library's pump) and `npiped`'s relay.
//! Both feed received bytes to a [`FrameDecoder`] or [`Link`] and write what
//! [`Link::poll_transmit`] gives; neither parses frames itself.

mod check;
pub mod frame;
mod link;

#[cfg(test)]
mod proptests;

pub use check::MessageCheck;
pub use frame::{
    ClientHello, Frame, FrameDecoder, FrameType, OpenRequest, OpenedPipe, ServerHello, WireWait,
    FRAME_HEADER_LEN, HANDSHAKE_FRAME_LIMIT, MAX_FRAME_LIMIT, MIN_FRAME_LIMIT, REMOTE_MAGIC,
    REMOTE_VERSION,
};
pub use link::{Event, Link, LinkConfig, Role};

use std::time::Duration;

/// What the network protocol core refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// A frame header announced a payload above the receiver's limit.
    #[error("a frame of {len} bytes is larger than the limit of {max} bytes")]
    FrameTooLarge {
        /// The announced payload length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A frame type this version does not know.
    #[error("unknown frame type {0}")]
    UnknownFrame(u8),
    /// A frame whose payload does not follow its layout.
    #[error("malformed {frame:?} frame: {reason}")]
    Malformed {
        /// The frame's type.
        frame: FrameType,
        /// What is wrong.
        reason: &'static str,
    },
    /// A frame that may not come now, or not from this peer.
    #[error("unexpected {0:?} frame")]
    UnexpectedFrame(FrameType),
    /// The client hello does not start with the protocol's magic.
    #[error("not an npipe client (bad magic)")]
    BadMagic,
    /// The peer speaks a version this side does not.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u16),
    /// The peer sent more data than it had credit for.
    #[error("the peer sent more data than its credit")]
    CreditExceeded,
    /// A hello announced a limit outside the protocol's bounds.
    #[error("a hello announced a limit out of bounds: {0}")]
    BadLimit(&'static str),
    /// The relayed message stream is malformed.
    #[error("bad message stream: {0}")]
    BadStream(crate::proto::ProtoError),
    /// Nothing arrived from the peer for this long.
    #[error("nothing arrived for {0:?} (idle time-out)")]
    IdleTimeout(Duration),
}

/// Checks a peer's announced frame limit and window.
///
/// # Errors
/// [`RemoteError::BadLimit`] outside [`MIN_FRAME_LIMIT`]..=[`MAX_FRAME_LIMIT`]
/// or for a window smaller than one frame of the minimum size.
pub fn check_limits(max_frame: u32, window: u32) -> Result<(), RemoteError> {
    if !(MIN_FRAME_LIMIT..=MAX_FRAME_LIMIT).contains(&max_frame) {
        return Err(RemoteError::BadLimit("max_frame"));
    }
    if window < MIN_FRAME_LIMIT {
        return Err(RemoteError::BadLimit("window"));
    }
    Ok(())
}
