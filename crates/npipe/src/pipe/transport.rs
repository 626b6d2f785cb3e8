//! The data path of one connection, behind a small seam.
//!
//! [`Conn`](super::conn::Conn) implements every pipe semantic (framing,
//! partial reads, peek, transact, flush, disconnect) over this trait and
//! nothing else, so another transport — a shared-memory ring for the fast
//! path, or a relay to `npiped` — can be added without touching the
//! semantics. Today there is one: a Unix stream socket.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys::socket;

/// A reliable, ordered byte stream between the two ends of a pipe instance.
pub(crate) trait Transport: Send + Sync + fmt::Debug {
    /// Receives up to `buf.len()` bytes; 0 at the end of the stream.
    fn recv(&self, buf: &mut [u8], nonblocking: bool) -> io::Result<usize>;
    /// Copies queued bytes without consuming them; never blocks.
    fn peek(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Sends some of `buf`.
    fn send(&self, buf: &[u8], nonblocking: bool) -> io::Result<usize>;
    /// Sends from several buffers in order.
    fn send_vectored(&self, iov: &[IoSlice<'_>], nonblocking: bool) -> io::Result<usize>;
    /// Bytes queued for this end to receive.
    fn queued(&self) -> io::Result<usize>;
    /// Waits until something can be received (or the stream ended).
    fn wait_readable(&self) -> io::Result<()>;
    /// Waits until something can be sent (or the stream ended).
    fn wait_writable(&self) -> io::Result<()>;
    /// Waits until the peer has received everything sent so far.
    fn wait_drained(&self) -> io::Result<()>;
    /// Ends the stream both ways, waking every waiting thread.
    fn shutdown(&self);
    /// Ends this end's sending: the peer reads the end of the stream after
    /// the data, and this end can still receive.
    fn shutdown_write(&self) -> io::Result<()>;
    /// The descriptor whose readiness tells when `recv` or `send` can make
    /// progress. The async front end registers it with its reactor in
    /// place of `wait_readable` / `wait_writable`; it must stay open as
    /// long as the transport.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn readiness_fd(&self) -> BorrowedFd<'_>;
    /// Bytes sent that the peer has not read yet: the count `wait_drained`
    /// waits to see fall to zero, for a front end that does its own
    /// waiting.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn unread_by_peer(&self) -> io::Result<usize>;
    /// What a flush waits for once `unread_by_peer` is zero, for a front
    /// end that does its own waiting: a request made now, resolving when
    /// the far end has read everything (a relay's peer), or `None` when
    /// the peer's socket is the far end.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    fn flush_beyond(&self) -> Option<FlushBeyond> {
        None
    }
}

/// See [`Transport::flush_beyond`].
pub(crate) type FlushBeyond =
    std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send>>;

/// The transport over a connected Unix stream socket.
#[derive(Debug)]
pub(crate) struct UnixStreamTransport {
    fd: OwnedFd,
}

impl UnixStreamTransport {
    pub fn new(fd: OwnedFd) -> UnixStreamTransport {
        UnixStreamTransport { fd }
    }
}

impl Transport for UnixStreamTransport {
    fn recv(&self, buf: &mut [u8], nonblocking: bool) -> io::Result<usize> {
        socket::recv(self.fd.as_fd(), buf, nonblocking)
    }

    fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        socket::peek(self.fd.as_fd(), buf)
    }

    fn send(&self, buf: &[u8], nonblocking: bool) -> io::Result<usize> {
        socket::send(self.fd.as_fd(), buf, nonblocking)
    }

    fn send_vectored(&self, iov: &[IoSlice<'_>], nonblocking: bool) -> io::Result<usize> {
        socket::send_vectored(self.fd.as_fd(), iov, nonblocking)
    }

    fn queued(&self) -> io::Result<usize> {
        socket::bytes_readable(self.fd.as_fd())
    }

    fn wait_readable(&self) -> io::Result<()> {
        socket::wait_readable(self.fd.as_fd(), None).map(drop)
    }

    fn wait_writable(&self) -> io::Result<()> {
        socket::wait_writable(self.fd.as_fd(), None).map(drop)
    }

    fn wait_drained(&self) -> io::Result<()> {
        socket::wait_drained(self.fd.as_fd())
    }

    fn shutdown(&self) {
        let _ = socket::shutdown(self.fd.as_fd());
    }

    fn shutdown_write(&self) -> io::Result<()> {
        socket::shutdown_write(self.fd.as_fd())
    }

    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    fn unread_by_peer(&self) -> io::Result<usize> {
        socket::unread_outgoing(self.fd.as_fd())
    }
}
