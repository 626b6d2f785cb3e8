//! The relay side, for `npiped`: open a local pipe on behalf of a remote
//! client, and relay between the client's network connection and the
//! pipe's socket.
//!
//! `npiped` authenticates the client and decodes its request; everything
//! about pipes happens here, in the library: the open carries the remote
//! claim in its hello (the server believes it only from a trusted relay,
//! see `docs/REMOTE.md`), and [`RelayPipe::relay`] moves the pipe's byte
//! stream as it is, checking the message framing of what the remote client
//! sends, answering flush, sync and info, and passing on the server's
//! disconnect and close.

use std::collections::VecDeque;
use std::future::Future;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, Interest};
use tokio::net::UnixStream;

use crate::net::wire::Outbox;
use crate::net::RemoteClient;
use crate::pipe::client::RawConnection;
use crate::pipe::{PipeMode, WaitTimeout};
use crate::proto::remote::{Event, Frame, Link, MessageCheck, OpenedPipe, WireWait};
use crate::proto::{Control, RemoteClaim};
use crate::sys::socket;
use crate::{win32, ClientOptions, Error, PipeName, Result};

/// Requests a hostile client may leave unanswered (flushes waiting for the
/// server) before it is cut off; also the most flushes of the server kept
/// waiting for the client.
const MAX_PENDING_FLUSHES: usize = 1024;
/// Outgoing bytes queued beyond the credit before a client that does not
/// read is cut off.
const OUTBOX_SLACK: usize = 4 << 20;

/// A local pipe opened for a remote client, not yet relaying.
#[derive(Debug)]
pub struct RelayPipe {
    raw: RawConnection,
}

/// The local name `\\.\pipe\PATH` of a remote request's path.
///
/// # Errors
/// [`Error::BadPathname`] if it does not make a valid pipe name.
pub fn local_name(path: &str) -> Result<PipeName> {
    PipeName::parse(&format!(r"\\.\pipe\{path}"))
}

impl RelayPipe {
    /// Opens the local pipe `\\.\pipe\PATH` for `client` (`CreateFile`
    /// with the remote claim), with `options`' namespace.
    ///
    /// # Errors
    /// As [`ClientOptions::open`]; [`Error::AccessDenied`] when the pipe
    /// rejects remote clients or this principal.
    pub fn open(
        options: &ClientOptions,
        path: &str,
        read: bool,
        write: bool,
        client: &RemoteClient,
    ) -> Result<RelayPipe> {
        let name = local_name(path)?;
        let mut options = options.clone();
        options.read(read).write(write);
        options.relay_for = Some(Arc::new(RemoteClaim {
            principal: client.principal.clone(),
            computer_name: client.computer_name.clone(),
            address: client.address.clone(),
        }));
        Ok(RelayPipe {
            raw: options.connect_raw(name.as_str())?,
        })
    }

    /// [`open`](Self::open), waiting as `wait` says (at most `max_wait`)
    /// for a free instance when all are busy.
    ///
    /// # Errors
    /// As [`open`](Self::open); [`Error::Timeout`] when none became free.
    pub async fn open_wait(
        options: &ClientOptions,
        path: &str,
        read: bool,
        write: bool,
        client: &RemoteClient,
        wait: WireWait,
        max_wait: Duration,
    ) -> Result<RelayPipe> {
        let name = local_name(path)?;
        let (timeout, cap) = wait_limits(wait, max_wait);
        let attempt = async {
            loop {
                match RelayPipe::open(options, path, read, write, client) {
                    Err(Error::PipeBusy { .. }) if wait != WireWait::No => {}
                    other => return other,
                }
                crate::tokio::NamedPipeClient::wait(options, name.as_str(), timeout).await?;
            }
        };
        tokio::time::timeout(cap, attempt)
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// What the client learns about the pipe.
    pub fn opened(&self) -> OpenedPipe {
        let meta = &self.raw.meta;
        OpenedPipe {
            message: meta.pipe_mode == PipeMode::Message,
            access: u8::from(meta.access.server_reads())
                | (u8::from(meta.access.server_writes()) << 1),
            max_instances: meta.max_instances,
            in_buffer: meta.in_buffer,
            out_buffer: meta.out_buffer,
            default_timeout_ms: meta.default_timeout_ms.min(u64::from(u32::MAX)) as u32,
            instances: self.instances(),
            server_pid: self.raw.peer.pid,
            server_uid: self.raw.peer.uid,
        }
    }

    fn instances(&self) -> u32 {
        self.raw
            .dir
            .live_instances()
            .map(|l| l.len() as u32)
            .unwrap_or(0)
    }

    /// Relays between the client's connection `tls` (whose hellos and
    /// request are done; `link` holds what followed) and the pipe, until
    /// either side ends or `stop` resolves. Returns why it ended, for the
    /// log.
    pub async fn relay<S, F>(self, tls: S, link: Link, stop: F) -> RelayEnd
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
        F: Future<Output = ()>,
    {
        match Relay::new(self, link) {
            Ok(relay) => relay.run(tls, stop).await,
            Err(e) => RelayEnd::Failed(format!("cannot register the pipe's sockets: {e}")),
        }
    }
}

/// `WaitNamedPipe` for a remote client on `\\.\pipe\PATH`, at most
/// `max_wait`.
///
/// # Errors
/// As [`ClientOptions::wait`].
pub async fn wait(
    options: &ClientOptions,
    path: &str,
    wait: WireWait,
    max_wait: Duration,
) -> Result<()> {
    let name = local_name(path)?;
    let (timeout, cap) = wait_limits(wait, max_wait);
    tokio::time::timeout(
        cap,
        crate::tokio::NamedPipeClient::wait(options, name.as_str(), timeout),
    )
    .await
    .map_err(|_| Error::Timeout)?
}

fn wait_limits(wait: WireWait, max_wait: Duration) -> (WaitTimeout, Duration) {
    match wait {
        WireWait::No => (WaitTimeout::Duration(Duration::ZERO), max_wait),
        WireWait::Default => (WaitTimeout::Default, max_wait),
        WireWait::Forever => (WaitTimeout::Forever, max_wait),
        WireWait::Millis(ms) => {
            let d = Duration::from_millis(u64::from(ms)).min(max_wait);
            (WaitTimeout::Duration(d), max_wait)
        }
    }
}

/// How a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelayEnd {
    /// The remote client closed its handle.
    ClientClosed,
    /// The server closed its handle.
    ServerClosed,
    /// The server disconnected the client.
    Disconnected,
    /// The client's connection broke or timed out.
    ClientLost(String),
    /// The client broke the protocol; it was told and cut off.
    ClientMisbehaved(String),
    /// The relay was stopped (npiped shutting down).
    Stopped,
    /// Something failed locally.
    Failed(String),
}

impl std::fmt::Display for RelayEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RelayEnd::ClientClosed => f.write_str("the client closed the pipe"),
            RelayEnd::ServerClosed => f.write_str("the server closed the pipe"),
            RelayEnd::Disconnected => f.write_str("the server disconnected the client"),
            RelayEnd::ClientLost(why) => write!(f, "lost the client: {why}"),
            RelayEnd::ClientMisbehaved(why) => write!(f, "the client broke the protocol: {why}"),
            RelayEnd::Stopped => f.write_str("stopped (shutting down)"),
            RelayEnd::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

struct Relay {
    raw_dir: crate::namespace::PipeDir,
    pipe: UnixStream,
    /// The pipe's socket registered a second time, to wait for the
    /// server's reads (each frees space: a writability edge) without
    /// clearing the readiness that writes to it go by.
    server_reads: AsyncFd<std::os::fd::OwnedFd>,
    ctl: AsyncFd<std::os::fd::OwnedFd>,
    link: Link,
    check: Option<MessageCheck>,
    /// The pipe server's flushes sent on to the client, oldest first: the
    /// id on the wire and the id on the control socket (at most
    /// `MAX_PENDING_FLUSHES`).
    server_flushes: VecDeque<(u32, u64)>,
    next_flush_id: u32,
}

impl Relay {
    fn new(pipe: RelayPipe, link: Link) -> std::io::Result<Relay> {
        let raw = pipe.raw;
        let message = raw.meta.pipe_mode == PipeMode::Message;
        let data = std::os::unix::net::UnixStream::from(raw.data);
        data.set_nonblocking(true)?;
        let ctl = crate::sys::reactor::register(raw.ctl, Interest::READABLE)?;
        let server_reads =
            crate::sys::reactor::register(socket::duplicate(data.as_fd())?, Interest::WRITABLE)?;
        Ok(Relay {
            raw_dir: raw.dir,
            server_reads,
            pipe: UnixStream::from_std(data)?,
            ctl,
            link,
            check: message.then(MessageCheck::new),
            server_flushes: VecDeque::new(),
            next_flush_id: 0,
        })
    }

    async fn run<S, F>(mut self, tls: S, stop: F) -> RelayEnd
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
        F: Future<Output = ()>,
    {
        let (mut rd, wr) = tokio::io::split(tls);
        let (mut outbox, writer) = Outbox::spawn(wr);
        tokio::pin!(stop);
        let mut to_pipe = ToPipe::default();
        // Flush requests: id, and the count of bytes received before it.
        let mut flushes: VecDeque<(u32, u64)> = VecDeque::new();
        // After a wake-up that found the server still reading, look again
        // by then even without another.
        let mut recheck: Option<Instant> = None;
        let mut reading_pipe = true;
        let mut client_eof = false;
        let mut client_closed = false;
        let mut pipe_write_shut = false;
        let mut rbuf = vec![0u8; 64 << 10];
        let mut pbuf = vec![0u8; 64 << 10];
        // Bytes that came with the request may already hold frames.
        let mut fresh = true;
        let end = loop {
            if fresh {
                fresh = false;
                let mut misbehaved = None;
                loop {
                    let event = match self.link.poll_event() {
                        Ok(Some(event)) => event,
                        Ok(None) => break,
                        Err(e) => {
                            misbehaved = Some(e.to_string());
                            break;
                        }
                    };
                    match event {
                        Event::Data(bytes) => {
                            if let Some(check) = &mut self.check {
                                if let Err(e) = check.feed(&bytes) {
                                    misbehaved = Some(format!("bad message stream: {e}"));
                                    break;
                                }
                            }
                            if to_pipe.dead {
                                // Nobody reads: discard, keep the credit flowing.
                                self.link.consumed(bytes.len());
                            }
                            to_pipe.push(bytes);
                        }
                        Event::Eof => client_eof = true,
                        Event::Close => client_closed = true,
                        Event::Flush(id) => {
                            if flushes.len() >= MAX_PENDING_FLUSHES {
                                misbehaved = Some("too many flushes pending".into());
                                break;
                            }
                            flushes.push_back((id, to_pipe.received));
                        }
                        Event::Sync(id) => {
                            self.pull_from_pipe(&mut pbuf, reading_pipe);
                            self.link.send(&Frame::Synced(id));
                        }
                        Event::Flushed { id, .. } => self.client_flushed(id),
                        Event::AllRead(bytes) => {
                            // The server's flushes of no more are done.
                            let _ = socket::send(
                                self.ctl.get_ref().as_fd(),
                                &Control::ClientRead(bytes).encode(),
                                true,
                            );
                        }
                        Event::Info(id) => {
                            let instances = self
                                .raw_dir
                                .live_instances()
                                .map(|l| l.len() as u32)
                                .unwrap_or(0);
                            self.link.send(&Frame::InfoReply { id, instances });
                        }
                        // The link refuses client-bound events here.
                        _ => {}
                    }
                }
                if let Some(why) = misbehaved {
                    self.link.send(&Frame::Error {
                        code: win32::ERROR_INVALID_DATA,
                        message: why.clone(),
                    });
                    break RelayEnd::ClientMisbehaved(why);
                }
            }
            // Hand the pipe what it takes now: waiting for writability
            // first could wait forever (a flush's wait may have cleared
            // the readiness of a socket with room to spare).
            if !to_pipe.is_empty() {
                if let Some(end) = self.write_to_pipe(&mut to_pipe, reading_pipe) {
                    break end;
                }
            }
            // Answer flushes whose bytes the server has read.
            while let Some(&(id, upto)) = flushes.front() {
                let done = to_pipe.dead
                    || (to_pipe.written >= upto
                        && socket::unread_outgoing(self.pipe.as_fd()).map_or(true, |n| n == 0));
                if !done {
                    break;
                }
                flushes.pop_front();
                self.link.send(&Frame::Flushed { id, status: 0 });
            }
            if to_pipe.is_empty() && client_eof && !pipe_write_shut {
                pipe_write_shut = true;
                let _ = socket::shutdown_write(self.pipe.as_fd());
            }
            if client_closed && to_pipe.is_empty() {
                break RelayEnd::ClientClosed;
            }
            let mut out = Vec::new();
            if self.link.poll_transmit(&mut out) {
                outbox.send(out);
            }
            if outbox.queued() > self.link.max_send_frame() + OUTBOX_SLACK + (1 << 20) {
                break RelayEnd::ClientLost("the client stopped reading".into());
            }
            let credit = self.link.send_credit().min(pbuf.len());
            // Flushes wait for the server to read what was written.
            let waiting_for_reads = to_pipe.is_empty() && !flushes.is_empty();
            tokio::select! {
                r = rd.read(&mut rbuf), if !client_closed => {
                    let n = match r {
                        Ok(0) => break RelayEnd::ClientLost("the connection ended without a close".into()),
                        Ok(n) => n,
                        Err(e) => break RelayEnd::ClientLost(e.to_string()),
                    };
                    self.link.handle_input(&rbuf[..n], Instant::now());
                    fresh = true;
                }
                r = self.pipe.readable(), if reading_pipe && credit > 0 => {
                    if r.is_err() {
                        break RelayEnd::ServerClosed;
                    }
                    match self.pipe.try_read(&mut pbuf[..credit]) {
                        Ok(0) => {
                            reading_pipe = false;
                            // DisconnectNamedPipe sends its notice first,
                            // then shuts the socket down.
                            if self.take_control() {
                                self.link.send(&Frame::Disconnected);
                                break RelayEnd::Disconnected;
                            }
                            if socket::hung_up(self.pipe.as_fd()).unwrap_or(true) {
                                self.link.send(&Frame::Close);
                                break RelayEnd::ServerClosed;
                            }
                            self.link.send(&Frame::Eof);
                        }
                        Ok(n) => {
                            self.link.send_data(&pbuf[..n]);
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                            ) => {}
                        Err(_) => {
                            // A reset: the server's end is gone.
                            if self.take_control() {
                                self.link.send(&Frame::Disconnected);
                                break RelayEnd::Disconnected;
                            }
                            self.link.send(&Frame::Close);
                            break RelayEnd::ServerClosed;
                        }
                    }
                }
                r = self.pipe.writable(), if !to_pipe.is_empty() => {
                    if r.is_err() {
                        to_pipe.dead = true;
                        continue;
                    }
                    if let Some(end) = self.write_to_pipe(&mut to_pipe, reading_pipe) {
                        break end;
                    }
                }
                r = self.server_reads.writable(), if waiting_for_reads => {
                    // The server read something: look again, and once more
                    // soon even without another read (see
                    // `socket::wait_drained` for the race in the kernel's
                    // count).
                    match r {
                        Ok(mut guard) => guard.clear_ready(),
                        Err(e) => break RelayEnd::Failed(e.to_string()),
                    }
                    recheck = Some(Instant::now() + socket::DRAIN_RECHECK);
                }
                _ = tokio::time::sleep_until(recheck.unwrap_or_else(Instant::now).into()), if recheck.is_some() => {
                    recheck = None;
                }
                r = self.ctl.readable() => {
                    match r {
                        // Cleared before taking: a notice that comes after
                        // this is a new edge, and wakes this arm again.
                        Ok(mut guard) => guard.clear_ready(),
                        Err(e) => break RelayEnd::Failed(e.to_string()),
                    }
                    // (A closed end reads as nothing more: the data socket
                    // tells the server's close.)
                    if self.take_control() {
                        self.link.send(&Frame::Disconnected);
                        break RelayEnd::Disconnected;
                    }
                }
                _ = tokio::time::sleep_until(self.link.poll_timeout().into()) => {
                    if let Err(e) = self.link.handle_timeout(Instant::now()) {
                        self.link.send(&Frame::Error {
                            code: win32::ERROR_SEM_TIMEOUT,
                            message: e.to_string(),
                        });
                        break RelayEnd::ClientLost(e.to_string());
                    }
                }
                _ = &mut stop => {
                    self.link.send(&Frame::Error {
                        code: win32::ERROR_PIPE_NOT_CONNECTED,
                        message: "npiped is shutting down".into(),
                    });
                    break RelayEnd::Stopped;
                }
            }
        };
        let mut out = Vec::new();
        if self.link.poll_transmit(&mut out) {
            outbox.send(out);
        }
        outbox.close();
        match end {
            RelayEnd::ClientLost(_) => writer.abort(),
            _ => {
                // The last frames (Close, Disconnected, Error) go out, but a
                // client that does not read cannot hold the relay.
                let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
            }
        }
        end
    }

    /// Writes what the pipe takes without waiting. When the server has
    /// closed, what the client sends is moot; the relay ends if the
    /// server's side is done reading too.
    fn write_to_pipe(&mut self, to_pipe: &mut ToPipe, reading_pipe: bool) -> Option<RelayEnd> {
        if to_pipe.write_to(&self.pipe, &mut self.link).is_ok() {
            return None;
        }
        to_pipe.dead = true;
        to_pipe.buf.clear();
        if reading_pipe {
            return None;
        }
        self.link.send(&Frame::Close);
        Some(RelayEnd::ServerClosed)
    }

    /// Reads what the server wrote (within the credit) without waiting.
    fn pull_from_pipe(&mut self, buf: &mut [u8], reading: bool) {
        if !reading {
            return;
        }
        loop {
            let credit = self.link.send_credit().min(buf.len());
            if credit == 0 {
                return;
            }
            match self.pipe.try_read(&mut buf[..credit]) {
                Ok(0) | Err(_) => return, // the main loop sees the end
                Ok(n) => {
                    self.link.send_data(&buf[..n]);
                }
            }
        }
    }

    /// Takes every notice the server put on the control socket, without
    /// waiting: sends its flush requests on to the client (after the data
    /// already sent, which is all the server wrote before: it asks only
    /// once this relay has read everything). True once the server's
    /// disconnect notice was among them.
    fn take_control(&mut self) -> bool {
        let mut buf = [0u8; 16];
        loop {
            let n = match socket::recv(self.ctl.get_ref().as_fd(), &mut buf, true) {
                Ok(n) if n > 0 => n,
                // Nothing more, or the server's end is closed.
                _ => return false,
            };
            match Control::decode(&buf[..n]) {
                Ok(Control::Disconnect) => return true,
                Ok(Control::Flush(id)) => {
                    if self.server_flushes.len() >= MAX_PENDING_FLUSHES {
                        // A server asking without waiting: forget the
                        // oldest; the answer to a later one covers it.
                        self.server_flushes.pop_front();
                    }
                    self.next_flush_id = self.next_flush_id.wrapping_add(1);
                    self.server_flushes.push_back((self.next_flush_id, id));
                    self.link.send(&Frame::Flush(self.next_flush_id));
                }
                // Nothing else is the server's to send.
                _ => {}
            }
        }
    }

    /// The client has read everything up to the server's flush `wire_id`
    /// (and so up to every earlier one): tell the server.
    fn client_flushed(&mut self, wire_id: u32) {
        let Some(at) = self.server_flushes.iter().position(|&(w, _)| w == wire_id) else {
            return; // not asked (or answered already): nothing to tell
        };
        let (_, id) = self
            .server_flushes
            .drain(..=at)
            .next_back()
            .expect("at least one");
        let _ = socket::send(
            self.ctl.get_ref().as_fd(),
            &Control::Flushed(id).encode(),
            true,
        );
    }
}

/// Bytes from the client not yet written to the pipe.
#[derive(Debug, Default)]
struct ToPipe {
    buf: VecDeque<Vec<u8>>,
    at: usize,
    received: u64,
    written: u64,
    /// The pipe refuses writes (the server closed).
    dead: bool,
}

impl ToPipe {
    fn is_empty(&self) -> bool {
        self.dead || self.buf.is_empty()
    }

    fn push(&mut self, bytes: Vec<u8>) {
        self.received += bytes.len() as u64;
        if !self.dead {
            self.buf.push_back(bytes);
        }
    }

    fn write_to(&mut self, pipe: &UnixStream, link: &mut Link) -> std::io::Result<()> {
        while let Some(front) = self.buf.front() {
            match pipe.try_write(&front[self.at..]) {
                Ok(n) => {
                    self.at += n;
                    self.written += n as u64;
                    link.consumed(n);
                    if self.at == front.len() {
                        self.buf.pop_front();
                        self.at = 0;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
