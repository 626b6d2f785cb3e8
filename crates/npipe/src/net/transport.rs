//! [`RemoteTransport`]: the client handle's data path to a remote pipe.
//!
//! The handle's [`Conn`](crate::pipe::conn::Conn) talks to one end of a
//! local socket pair exactly as it talks to a local pipe's socket; the
//! pump on the other end relays to `npiped`. Three operations need the
//! network and not just the local socket:
//!
//! - `wait_drained` (FlushFileBuffers): first the pump must have taken
//!   every byte, then `npiped` must see the server's socket drained; the
//!   async front end awaits the second half as `flush_beyond`.
//! - `queued` (peek, transact's "nothing unread" check): when nothing has
//!   arrived yet, ask `npiped` to send what the server wrote (a round trip)
//!   before counting.
//! - dropping the handle lingers until what was written reached `npiped`.

use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::net::RemoteHandle;
use crate::pipe::transport::{FlushBeyond, Transport, UnixStreamTransport};

/// The transport of a client handle whose pipe is behind `npiped`.
#[derive(Debug)]
pub(crate) struct RemoteTransport {
    /// `Some` until dropped.
    local: Option<UnixStreamTransport>,
    remote: RemoteHandle,
    linger: Duration,
    /// Bytes received in all: what the handle read, told to the server's
    /// side when it closes (a closed socket's count of unread bytes says
    /// nothing, and the server's flush needs to know).
    received: AtomicU64,
}

impl RemoteTransport {
    pub fn new(fd: OwnedFd, remote: RemoteHandle, linger: Duration) -> RemoteTransport {
        RemoteTransport {
            local: Some(UnixStreamTransport::new(fd)),
            remote,
            linger,
            received: AtomicU64::new(0),
        }
    }

    fn local(&self) -> &UnixStreamTransport {
        self.local.as_ref().expect("present until dropped")
    }
}

impl Transport for RemoteTransport {
    fn recv(&self, buf: &mut [u8], nonblocking: bool) -> io::Result<usize> {
        let n = self.local().recv(buf, nonblocking)?;
        self.received.fetch_add(n as u64, Ordering::AcqRel);
        Ok(n)
    }

    fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.local().peek(buf)
    }

    fn send(&self, buf: &[u8], nonblocking: bool) -> io::Result<usize> {
        self.local().send(buf, nonblocking)
    }

    fn send_vectored(&self, iov: &[IoSlice<'_>], nonblocking: bool) -> io::Result<usize> {
        self.local().send_vectored(iov, nonblocking)
    }

    fn queued(&self) -> io::Result<usize> {
        let here = self.local().queued()?;
        if here > 0 {
            return Ok(here);
        }
        // Nothing here yet: fetch what the server wrote, so a peek sees
        // what a local peek would. A lost connection shows at the next read.
        let _ = self.remote.sync();
        self.local().queued()
    }

    fn wait_readable(&self) -> io::Result<()> {
        self.local().wait_readable()
    }

    fn wait_writable(&self) -> io::Result<()> {
        self.local().wait_writable()
    }

    fn wait_drained(&self) -> io::Result<()> {
        // The pump has taken everything; then the server has read it.
        self.local().wait_drained()?;
        self.remote.flush()
    }

    fn shutdown(&self) {
        self.local().shutdown()
    }

    fn shutdown_write(&self) -> io::Result<()> {
        self.local().shutdown_write()
    }

    fn readiness_fd(&self) -> BorrowedFd<'_> {
        self.local().readiness_fd()
    }

    fn unread_by_peer(&self) -> io::Result<usize> {
        // For the async front end: bytes the pump has not taken yet; then
        // it awaits `flush_beyond`.
        self.local().unread_by_peer()
    }

    fn flush_beyond(&self) -> Option<FlushBeyond> {
        Some(Box::pin(self.remote.flush_async()))
    }
}

impl Drop for RemoteTransport {
    fn drop(&mut self) {
        // Ending our end tells the pump; wait (a little) for it to send
        // what is left, as a local pipe's data would stay in the kernel.
        // Shut down, not just close: the async front end may hold a
        // duplicate of the descriptor for its reactor a little longer.
        if let Some(local) = self.local.take() {
            self.remote
                .read_at_close(self.received.load(Ordering::Acquire));
            local.shutdown();
        }
        self.remote.wait_ended(self.linger);
    }
}
