//! The async driver of one connected instance: the same [`Conn`] the
//! blocking front end drives, with tokio's reactor in place of `poll`.
//!
//! Every operation is a loop of the core's non-blocking step
//! ([`Conn::try_read`], [`Conn::try_write`], [`Conn::try_push_unsent`],
//! [`Conn::unread_by_peer`]) and a wait for the socket's readiness. The
//! socket is registered edge-triggered, so readiness is cleared only after
//! a step returned "would block" under the same readiness guard; tokio
//! keeps any edge that arrived meanwhile, and no wake-up is lost.
//!
//! The `async fn`s wait through [`AsyncFd::readable`] / [`AsyncFd::writable`],
//! which wake every waiting task; the `poll_*` functions behind
//! `AsyncRead` / `AsyncWrite` use tokio's single waker per direction, as
//! tokio's own sockets do.
//!
//! A message write that only partly fitted leaves its rest in the `Conn`;
//! it goes out before anything else, pushed by the next operation of any
//! kind (a read included: the peer may be waiting for the end of the
//! message before it answers).

use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;

use crate::pipe::conn::{lock, Conn};
use crate::pipe::endpoint::Endpoint;
use crate::sys::reactor::{self, StableFd};
use crate::sys::socket;
use crate::{Error, MessageRead, ReadMode, Result};

/// One connection registered with the runtime.
#[derive(Debug)]
pub(crate) struct AsyncConn {
    pub conn: Arc<Conn>,
    /// A duplicate of the connection's data socket, registered with the
    /// reactor (readiness belongs to the socket, not to one descriptor).
    fd: AsyncFd<OwnedFd>,
    /// Tasks of `poll_*` callers waiting for the unsent rest of a frame to
    /// go out. Whoever empties it wakes them: another task may have taken
    /// the direction's single reactor waker meanwhile.
    unsent_waiters: Mutex<Vec<Waker>>,
    /// `poll_flush`'s bounded re-check after a wake-up (see
    /// [`socket::wait_drained`] for the race it closes).
    flush_recheck: Mutex<Option<Pin<Box<::tokio::time::Sleep>>>>,
    /// The server end of a remote client's connection: its control socket,
    /// registered, where the relay answers flushes (see
    /// [`Conn::through_relay`]).
    relay_ctl: Option<Arc<AsyncFd<OwnedFd>>>,
    /// `poll_flush`'s wait past the peer's socket, once started.
    flush_beyond: Mutex<PendingFlush>,
}

type BoxedFlush = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// A flush's wait under way, kept between polls.
#[derive(Default)]
struct PendingFlush(Option<BoxedFlush>);

impl std::fmt::Debug for PendingFlush {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "PendingFlush(waiting)"
        } else {
            "PendingFlush(none)"
        })
    }
}

impl AsyncConn {
    /// Registers `conn` with the current runtime's reactor.
    pub fn new(conn: Arc<Conn>) -> Result<AsyncConn> {
        let fd = socket::duplicate(conn.readiness_fd())?;
        let fd = register_with(fd, Interest::READABLE | Interest::WRITABLE)?;
        let relay_ctl = if conn.is_relayed() {
            let ctl = socket::duplicate(conn.control_fd())?;
            Some(Arc::new(register_with(ctl, Interest::READABLE)?))
        } else {
            None
        };
        Ok(AsyncConn {
            conn,
            fd,
            unsent_waiters: Mutex::new(Vec::new()),
            flush_recheck: Mutex::new(None),
            relay_ctl,
            flush_beyond: Mutex::default(),
        })
    }

    /// What a flush waits for once the peer's socket is drained: the far
    /// end's reads when the peer is a relay (`npiped` for this server, or
    /// the pump of a remote client handle). The request is made when this
    /// is called; the future owns what it needs, so `poll_flush` can keep
    /// it between polls.
    fn flush_beyond(&self) -> Option<BoxedFlush> {
        if let Some(remote) = self.conn.transport_flush_beyond() {
            let conn = Arc::clone(&self.conn);
            return Some(Box::pin(async move {
                remote.await.map_err(|e| conn.flush_error(e))
            }));
        }
        let ctl = Arc::clone(self.relay_ctl.as_ref()?);
        let conn = Arc::clone(&self.conn);
        Some(Box::pin(async move {
            let flush = conn.ask_relay_to_flush();
            // Any task may take the relay's answers off the socket; each
            // looks at what was taken before it waits (and the readiness
            // is cleared only after a look that found the socket empty).
            while !conn.relay_flushed(flush)? {
                let mut guard = ctl.readable().await?;
                if conn.relay_flushed(flush)? {
                    break;
                }
                guard.clear_ready();
            }
            Ok(())
        }))
    }

    // ---- async fns: any number of tasks may wait at once ----

    /// Reads one message (or bytes), pushing a half-sent frame meanwhile.
    pub async fn read(&self, buf: &mut [u8], mode: ReadMode) -> Result<MessageRead> {
        let mut push_failed = false;
        loop {
            match self.conn.try_read(buf, mode) {
                Err(Error::WouldBlock) => {}
                other => return other,
            }
            let mut guard = if self.conn.has_unsent() && !push_failed {
                ::tokio::select! {
                    biased;
                    guard = self.fd.readable() => guard?,
                    pushed = self.push_unsent() => {
                        // An error here is the read's to report, once the
                        // data before it is read.
                        push_failed = pushed.is_err();
                        continue;
                    }
                }
            } else {
                self.fd.readable().await?
            };
            match self.conn.try_read(buf, mode) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                other => return other,
            }
        }
    }

    /// Writes one message (or bytes) and, on a message pipe, waits until
    /// the whole frame is handed to the kernel.
    pub async fn write(&self, buf: &[u8]) -> Result<usize> {
        let written = loop {
            match self.conn.try_write(buf) {
                Err(Error::WouldBlock) => {}
                other => break other?,
            }
            let mut guard = self.fd.writable().await?;
            match self.conn.try_write(buf) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                other => break other?,
            }
        };
        self.wake_if_sent();
        self.push_unsent().await?;
        Ok(written)
    }

    /// Sends the rest of a frame a write left half sent.
    pub async fn push_unsent(&self) -> Result<()> {
        loop {
            if self.try_push()? {
                return Ok(());
            }
            let mut guard = self.fd.writable().await?;
            if self.try_push()? {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// FlushFileBuffers: resolves once the peer has read everything.
    ///
    /// Each read by the peer frees buffer space, which the kernel reports
    /// as a writability edge. The last edge can come just before the count
    /// falls to zero (see [`socket::wait_drained`]), so after a wake-up the
    /// next wait is bounded by [`socket::DRAIN_RECHECK`]; this needs the
    /// runtime's time driver.
    pub async fn flush(&self) -> Result<()> {
        match self.flush_socket().await {
            Ok(()) => {}
            Err(e) if self.conn.relay_decides(&e) => {}
            Err(e) => return Err(e),
        }
        match self.flush_beyond() {
            Some(beyond) => beyond.await,
            None => Ok(()),
        }
    }

    /// The first part of [`flush`](Self::flush): until the peer has read
    /// everything from the socket.
    async fn flush_socket(&self) -> Result<()> {
        self.push_unsent().await?;
        let mut woken = false;
        loop {
            if self.conn.unread_by_peer()? == 0 {
                return Ok(());
            }
            let guard = if woken {
                match ::tokio::time::timeout(socket::DRAIN_RECHECK, self.fd.writable()).await {
                    Ok(guard) => Some(guard?),
                    Err(_elapsed) => None, // look again
                }
            } else {
                Some(self.fd.writable().await?)
            };
            woken = guard.is_some();
            let Some(mut guard) = guard else { continue };
            if self.conn.unread_by_peer()? == 0 {
                return Ok(());
            }
            if guard.ready().is_write_closed() {
                return Err(self.conn.flush_ended());
            }
            guard.clear_ready();
        }
    }

    /// TransactNamedPipe: the endpoint's checks, one message out, one in.
    pub async fn transact(
        &self,
        endpoint: &Endpoint,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<MessageRead> {
        endpoint.check_transact(&self.conn)?;
        self.write(input).await?;
        self.read(output, ReadMode::Message).await
    }

    // ---- poll functions: one task per direction, as tokio's sockets ----

    /// `AsyncRead`'s step: a read that also pushes a half-sent frame.
    pub fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        mode: ReadMode,
    ) -> Poll<Result<MessageRead>> {
        if self.conn.has_unsent() {
            // Pending is fine: the task is now woken when it can push more.
            if let Poll::Ready(Err(_)) = self.poll_push_unsent(cx) {
                // The read reports the end of the stream in its turn.
            }
        }
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            match self.conn.try_read(buf, mode) {
                Err(Error::WouldBlock) => guard.clear_ready(),
                other => return Poll::Ready(other),
            }
        }
    }

    /// `AsyncWrite`'s step: accepts a whole message or nothing.
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            let result = self.conn.try_write(buf);
            self.wake_if_sent();
            match result {
                Err(Error::WouldBlock) => guard.clear_ready(),
                other => return Poll::Ready(other),
            }
        }
    }

    /// Pushes the unsent rest of a frame until none is left.
    pub fn poll_push_unsent(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if !self.conn.has_unsent() {
            return Poll::Ready(Ok(()));
        }
        // Register before trying, so an empty-making push by another task
        // after our try still wakes us.
        {
            let mut waiters = lock(&self.unsent_waiters);
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            if self.try_push()? {
                return Poll::Ready(Ok(()));
            }
            guard.clear_ready();
        }
    }

    /// `AsyncWrite::poll_flush`: [`flush`](Self::flush) as a poll function.
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        // A wait past the socket under way finishes first.
        {
            let mut beyond = lock(&self.flush_beyond);
            if let Some(wait) = beyond.0.as_mut() {
                let done = ready!(wait.as_mut().poll(cx));
                beyond.0 = None;
                return Poll::Ready(done);
            }
        }
        match ready!(self.poll_flush_socket(cx)) {
            Ok(()) => {}
            Err(e) if self.conn.relay_decides(&e) => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
        let Some(mut wait) = self.flush_beyond() else {
            return Poll::Ready(Ok(()));
        };
        match wait.as_mut().poll(cx) {
            Poll::Ready(done) => Poll::Ready(done),
            Poll::Pending => {
                lock(&self.flush_beyond).0 = Some(wait);
                Poll::Pending
            }
        }
    }

    /// [`flush_socket`](Self::flush_socket) as a poll function.
    fn poll_flush_socket(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        ready!(self.poll_push_unsent(cx))?;
        loop {
            if self.conn.unread_by_peer()? == 0 {
                *lock(&self.flush_recheck) = None;
                return Poll::Ready(Ok(()));
            }
            let mut guard = match self.fd.poll_write_ready(cx) {
                Poll::Ready(guard) => guard?,
                Poll::Pending => {
                    // Woken before? Then look again soon even without an
                    // edge (the race described in `flush`).
                    let mut recheck = lock(&self.flush_recheck);
                    match recheck.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
                        Some(Poll::Ready(())) => {
                            *recheck = None;
                            continue;
                        }
                        _ => return Poll::Pending,
                    }
                }
            };
            if self.conn.unread_by_peer()? == 0 {
                *lock(&self.flush_recheck) = None;
                return Poll::Ready(Ok(()));
            }
            if guard.ready().is_write_closed() {
                return Poll::Ready(Err(self.conn.flush_ended()));
            }
            guard.clear_ready();
            *lock(&self.flush_recheck) =
                Some(Box::pin(::tokio::time::sleep(socket::DRAIN_RECHECK)));
        }
    }

    /// One non-blocking push; true once nothing is left. Wakes the tasks
    /// waiting for that.
    fn try_push(&self) -> Result<bool> {
        let result = self.conn.try_push_unsent();
        self.wake_if_sent();
        result
    }

    fn wake_if_sent(&self) {
        if self.conn.has_unsent() {
            return;
        }
        let waiters = std::mem::take(&mut *lock(&self.unsent_waiters));
        for waker in waiters {
            waker.wake();
        }
    }
}

/// Registers `fd` with the current runtime's reactor for `interest`.
pub(crate) fn register_with<T: StableFd>(fd: T, interest: Interest) -> Result<AsyncFd<T>> {
    Ok(reactor::register(fd, interest)?)
}
