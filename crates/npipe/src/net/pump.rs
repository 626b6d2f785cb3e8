//! The client side's relay: one task per open remote pipe, on the
//! `npipe-remote` runtime, between the TLS connection to `npiped` and the
//! local socket pair whose other end the client handle's [`Conn`] uses.
//!
//! The handle's core thus sees exactly what a local pipe's socket would
//! carry (raw bytes, or message frames), and everything a byte stream
//! cannot say travels as a [`Link`] request: flush, sync (for peek), info.
//! The server's disconnect, and the loss of the connection, reach the core
//! as a `Control::Disconnect` on its control socket, so they read as
//! `ERROR_PIPE_NOT_CONNECTED`, never as the end of the data.
//!
//! [`Conn`]: crate::pipe::conn::Conn

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::UnixStream;
use tokio::sync::mpsc;

use crate::net::wire::Outbox;
use crate::pipe::conn::lock;
use crate::proto::remote::{Event, Frame, Link};
use crate::proto::Control;
use crate::sys::socket;
use crate::Result;

/// The largest `Data` payload the client accepts.
pub(crate) const CLIENT_MAX_FRAME: u32 = 256 << 10;
/// `Data` bytes the server may send ahead of the client's reader.
pub(crate) const CLIENT_WINDOW: u32 = 1 << 20;
/// The server's flushes left unanswered (the handle not reading) before
/// npiped is taken to break the protocol: npiped forgets older ones
/// before it reaches this.
const MAX_SERVER_FLUSHES: usize = 4096;
/// Outgoing bytes queued behind a server that does not read, beyond the
/// credit, before the connection is given up.
const OUTBOX_SLACK: usize = 4 << 20;

/// Where a request's answer goes: a blocked thread or an awaiting task.
#[derive(Debug)]
enum Reply<T> {
    Blocking(std::sync::mpsc::Sender<std::result::Result<T, String>>),
    Async(tokio::sync::oneshot::Sender<std::result::Result<T, String>>),
}

impl<T> Reply<T> {
    /// Answers; a caller that stopped waiting is no error.
    fn send(self, answer: std::result::Result<T, String>) {
        match self {
            Reply::Blocking(tx) => drop(tx.send(answer)),
            Reply::Async(tx) => drop(tx.send(answer)),
        }
    }
}

/// A request from the client handle to its pump.
#[derive(Debug)]
enum Command {
    Flush(Reply<u32>),
    Sync(Reply<()>),
    Info(Reply<u32>),
    /// The handle is closing, having read this many bytes in all: the
    /// server's flushes of no more are done (its socket's count of unread
    /// bytes says nothing once it is closed).
    ReadAtClose(u64),
}

/// The client handle's side of a pump: requests, and the end of the pump.
#[derive(Debug, Clone)]
pub(crate) struct RemoteHandle {
    cmds: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

/// How the pump ended, once it has.
#[derive(Debug, Default)]
struct Shared {
    ended: Mutex<Option<String>>,
    cond: Condvar,
}

impl RemoteHandle {
    /// Waits until the server has read everything sent so far
    /// (`FlushFileBuffers` across the network).
    pub fn flush(&self) -> std::io::Result<()> {
        flush_status(self.ask(Command::Flush)?)
    }

    /// [`flush`](Self::flush) for a task: resolves when the server has
    /// read everything sent so far. The request is made now, so data
    /// written after this call is not waited for.
    pub fn flush_async(
        &self,
    ) -> impl std::future::Future<Output = std::io::Result<()>> + Send + 'static {
        let answer = self.ask_async(Command::Flush);
        let shared = Arc::clone(&self.shared);
        async move {
            let status = match answer {
                Ok(rx) => rx.await.unwrap_or_else(|_| Err(end_reason(&shared))),
                Err(reason) => Err(reason),
            };
            flush_status(status.map_err(lost)?)
        }
    }

    /// Asks `npiped` to send everything the server wrote so far and waits
    /// until it has arrived.
    pub fn sync(&self) -> std::io::Result<()> {
        self.ask(Command::Sync)
    }

    /// The number of instances of the pipe on its host now.
    pub fn instances(&self) -> Result<u32> {
        Ok(self.ask(Command::Info)?)
    }

    /// Tells the pump the handle is closing, having read `bytes` in all
    /// (see [`Command::ReadAtClose`]).
    pub fn read_at_close(&self, bytes: u64) {
        let _ = self.cmds.send(Command::ReadAtClose(bytes));
    }

    /// Waits up to `linger` for the pump to end (after the handle closed:
    /// for what was written to reach `npiped`).
    pub fn wait_ended(&self, linger: Duration) {
        let deadline = Instant::now() + linger;
        let mut ended = lock(&self.shared.ended);
        while ended.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            ended = self
                .shared
                .cond
                .wait_timeout(ended, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> std::io::Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.cmds.send(make(Reply::Blocking(tx))).is_err() {
            return Err(lost(end_reason(&self.shared)));
        }
        match rx.recv() {
            Ok(answer) => answer.map_err(lost),
            Err(_) => Err(lost(end_reason(&self.shared))),
        }
    }

    /// Sends a request whose answer a task awaits.
    fn ask_async<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> std::result::Result<AsyncAnswer<T>, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        match self.cmds.send(make(Reply::Async(tx))) {
            Ok(()) => Ok(rx),
            Err(_) => Err(end_reason(&self.shared)),
        }
    }
}

type AsyncAnswer<T> = tokio::sync::oneshot::Receiver<std::result::Result<T, String>>;

/// Why the pump ended, or a general reason while it is ending.
fn end_reason(shared: &Shared) -> String {
    lock(&shared.ended)
        .clone()
        .unwrap_or_else(|| "the connection to npiped ended".into())
}

/// The error of a request the pump could not answer.
fn lost(reason: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, reason)
}

/// A `Flushed` status as the flush's result.
fn flush_status(code: u32) -> std::io::Result<()> {
    match code {
        0 => Ok(()),
        code => Err(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            format!("the flush failed on the server: {}", crate::Win32Code(code)),
        )),
    }
}

/// How the data phase ended.
enum End {
    /// The server closed its handle; everything it sent was delivered.
    ServerClosed,
    /// The server disconnected this client.
    Disconnected,
    /// The client handle closed; `Close` was sent.
    ClosedHere,
    /// The connection broke (or `npiped` ended it with an error).
    Lost(String),
}

/// Starts the pump of a freshly opened pipe. `app` and `ctl` are this
/// side's ends of the socket pairs whose other ends the client handle
/// uses.
pub(crate) fn spawn<S>(tls: S, link: Link, app: OwnedFd, ctl: OwnedFd) -> Result<RemoteHandle>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let app = std::os::unix::net::UnixStream::from(app);
    app.set_nonblocking(true)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let handle = RemoteHandle {
        cmds: tx,
        shared: Arc::clone(&shared),
    };
    tokio::spawn(async move {
        let reason = match UnixStream::from_std(app) {
            Ok(app) => run(tls, link, app, ctl, rx).await,
            Err(e) => format!("cannot register the local socket: {e}"),
        };
        *lock(&shared.ended) = Some(reason);
        shared.cond.notify_all();
    });
    Ok(handle)
}

/// The pump's loop; returns why it ended.
async fn run<S>(
    tls: S,
    mut link: Link,
    app: UnixStream,
    ctl: OwnedFd,
    mut cmds: mpsc::UnboundedReceiver<Command>,
) -> String
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    // The handle's socket registered a second time, to wait for the
    // handle's reads (each frees space: a writability edge) without
    // clearing the readiness that writes to it go by.
    let reads = match socket::duplicate(app.as_fd())
        .and_then(|fd| crate::sys::reactor::register(fd, tokio::io::Interest::WRITABLE))
    {
        Ok(reads) => reads,
        Err(e) => return format!("cannot register the local socket: {e}"),
    };
    let (mut rd, wr) = tokio::io::split(tls);
    let (mut outbox, writer) = Outbox::spawn(wr);
    let mut inbound = Inbound::default();
    let mut flushes: HashMap<u32, Reply<u32>> = HashMap::new();
    // The server's flushes: the wire id, and how many bytes had come
    // before it; answered once the handle has read that many.
    let mut server_flushes: VecDeque<(u32, u64)> = VecDeque::new();
    // After a wake-up that found the handle still reading, look again by
    // then even without another (see `socket::wait_drained`).
    let mut recheck: Option<Instant> = None;
    let mut syncs: HashMap<u32, Reply<()>> = HashMap::new();
    let mut infos: HashMap<u32, Reply<u32>> = HashMap::new();
    let mut next_id: u32 = 0;
    let mut reading_app = true;
    let mut cmds_open = true;
    let mut peer_eof = false;
    let mut shut_app_write = false;
    let mut closing: Option<End> = None;
    // The server closed, or disconnected this client: deliver what it sent
    // first (its flush returned once npiped had it, so to the server it is
    // read), then end; the connection itself is about to close and must
    // not read as lost.
    let mut server_closed = false;
    let mut disconnected = false;
    let mut rbuf = vec![0u8; 64 << 10];
    let mut abuf = vec![0u8; 64 << 10];
    // Bytes that came with the answer to the open may hold frames.
    let mut fresh = true;
    let end = loop {
        if fresh {
            fresh = false;
            loop {
                let event = match link.poll_event() {
                    Ok(Some(event)) => event,
                    Ok(None) => break,
                    Err(e) => {
                        closing = Some(End::Lost(format!("npiped broke the protocol: {e}")));
                        break;
                    }
                };
                match event {
                    Event::Data(bytes) => inbound.push(bytes),
                    Event::Eof => peer_eof = true,
                    Event::Close => closing = Some(End::ServerClosed),
                    Event::Disconnected => closing = Some(End::Disconnected),
                    Event::Error { code, message } => {
                        closing = Some(End::Lost(format!(
                            "npiped ended the connection: {message} ({})",
                            crate::Win32Code(code)
                        )))
                    }
                    Event::Flushed { id, status } => {
                        if let Some(reply) = flushes.remove(&id) {
                            reply.send(Ok(status));
                        }
                    }
                    Event::Flush(id) => {
                        if server_flushes.len() >= MAX_SERVER_FLUSHES {
                            closing = Some(End::Lost("npiped sent too many flushes".into()));
                            break;
                        }
                        server_flushes.push_back((id, inbound.received));
                    }
                    Event::Synced(id) => {
                        // Hand over what arrived before answering, so
                        // the peek that asked sees it.
                        let limit = server_flushes.front().map(|&(_, upto)| upto);
                        let _ = inbound.write_to(&app, &mut link, limit);
                        if let Some(reply) = syncs.remove(&id) {
                            reply.send(Ok(()));
                        }
                    }
                    Event::InfoReply { id, instances } => {
                        if let Some(reply) = infos.remove(&id) {
                            reply.send(Ok(instances));
                        }
                    }
                    // The link refuses server-bound events on a client.
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        if link.poll_transmit(&mut out) {
            outbox.send(out);
        }
        if outbox.queued() > link.max_send_frame() + CLIENT_WINDOW as usize + OUTBOX_SLACK {
            break End::Lost("npiped stopped reading".into());
        }
        if peer_eof && inbound.is_empty() && !shut_app_write {
            shut_app_write = true;
            let _ = socket::shutdown_write(app.as_fd());
        }
        match closing.take() {
            // The server is no longer flushing: nothing to answer.
            Some(End::ServerClosed) => {
                server_closed = true;
                server_flushes.clear();
            }
            Some(End::Disconnected) => {
                server_closed = true;
                disconnected = true;
                server_flushes.clear();
            }
            Some(end) => break end,
            None => {}
        }
        // While the server flushes, the handle gets the bytes up to its
        // flush and no more: the kernel counts unread bytes only as a
        // whole, so "read up to here" is "handed up to here, none unread".
        // Hand over what the socket takes now (the writable arm below
        // waits when it takes less).
        let mut limit = server_flushes.front().map(|&(_, upto)| upto);
        inbound.hand_over(&app, &mut link, limit);
        // After a disconnect, wait until the handle has read what came
        // before it too: only then does the notice go out. The server's
        // flushes wait for the handle's reads likewise.
        let mut unread_by_app = if disconnected || !server_flushes.is_empty() {
            socket::unread_outgoing(app.as_fd()).unwrap_or(0)
        } else {
            0
        };
        if answer_server_flushes(
            &mut server_flushes,
            &inbound,
            unread_by_app,
            &app,
            &mut link,
        ) {
            let mut out = Vec::new();
            if link.poll_transmit(&mut out) {
                outbox.send(out);
            }
            // The next flush's bytes, or all of them, may go now.
            limit = server_flushes.front().map(|&(_, upto)| upto);
            inbound.hand_over(&app, &mut link, limit);
            if server_flushes.is_empty() && !disconnected {
                unread_by_app = 0;
            }
        }
        let can_hand_over = inbound.pending(limit);
        if server_closed && inbound.is_empty() && unread_by_app == 0 {
            break if disconnected {
                End::Disconnected
            } else {
                End::ServerClosed
            };
        }
        let credit = link.send_credit().min(abuf.len());
        tokio::select! {
            r = rd.read(&mut rbuf), if !server_closed => {
                let n = match r {
                    Ok(0) => break End::Lost("npiped closed the connection".into()),
                    Ok(n) => n,
                    Err(e) => break End::Lost(format!("the connection to npiped failed: {e}")),
                };
                link.handle_input(&rbuf[..n], Instant::now());
                fresh = true;
            }
            r = app.readable(), if reading_app && (disconnected || (credit > 0 && !server_closed)) => {
                if r.is_err() {
                    break End::ClosedHere;
                }
                // After a disconnect, take whatever is there (and drop it);
                // an empty buffer would read as the end of the stream.
                let room = if disconnected { abuf.len() } else { credit };
                match app.try_read(&mut abuf[..room]) {
                    Ok(0) if disconnected => {
                        reading_app = false;
                        inbound.clear();
                        closing = Some(End::Disconnected);
                    }
                    Ok(0) => {
                        reading_app = false;
                        if socket::hung_up(app.as_fd()).unwrap_or(true) {
                            closed_by_handle(&mut cmds, &mut link);
                            link.send(&Frame::Close);
                            closing = Some(End::ClosedHere);
                        } else {
                            link.send(&Frame::Eof);
                        }
                    }
                    // Writes after a disconnect go nowhere.
                    Ok(_) if disconnected => {}
                    Ok(n) => {
                        link.send_data(&abuf[..n]);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) if disconnected => reading_app = false,
                    Err(_) => {
                        closed_by_handle(&mut cmds, &mut link);
                        link.send(&Frame::Close);
                        closing = Some(End::ClosedHere);
                    }
                }
            }
            r = app.writable(), if can_hand_over => {
                if r.is_err() {
                    inbound.clear();
                } else {
                    inbound.hand_over(&app, &mut link, limit);
                }
            }
            r = reads.writable(), if unread_by_app > 0 => {
                // The handle read something: look again, and once more
                // soon even without another read (see
                // `socket::wait_drained` for the race in the kernel's count).
                match r {
                    Ok(mut guard) => guard.clear_ready(),
                    Err(e) => break End::Lost(format!("the local socket failed: {e}")),
                }
                recheck = Some(Instant::now() + socket::DRAIN_RECHECK);
            }
            cmd = cmds.recv(), if cmds_open => {
                next_id = next_id.wrapping_add(1);
                match cmd {
                    None => cmds_open = false,
                    // Nothing is left to wait for on the server's side.
                    // Only a closing handle says it; the close follows.
                    Some(Command::ReadAtClose(bytes)) => link.send(&Frame::AllRead(bytes)),
                    Some(Command::Flush(reply)) if server_closed => {
                        reply.send(Ok(0));
                    }
                    Some(Command::Sync(reply)) if server_closed => {
                        reply.send(Ok(()));
                    }
                    Some(Command::Info(reply)) if server_closed => {
                        reply.send(Err("the server closed the pipe".into()));
                    }
                    Some(Command::Flush(reply)) => {
                        flushes.insert(next_id, reply);
                        link.send(&Frame::Flush(next_id));
                    }
                    Some(Command::Sync(reply)) => {
                        syncs.insert(next_id, reply);
                        link.send(&Frame::Sync(next_id));
                    }
                    Some(Command::Info(reply)) => {
                        infos.insert(next_id, reply);
                        link.send(&Frame::Info(next_id));
                    }
                }
            }
            _ = tokio::time::sleep_until(recheck.unwrap_or_else(Instant::now).into()), if recheck.is_some() => {
                recheck = None;
            }
            _ = tokio::time::sleep_until(link.poll_timeout().into()), if !server_closed => {
                if let Err(e) = link.handle_timeout(Instant::now()) {
                    break End::Lost(format!("npiped did not answer: {e}"));
                }
            }
        }
    };
    let mut out = Vec::new();
    if link.poll_transmit(&mut out) {
        outbox.send(out);
    }
    outbox.close();
    let reason = match end {
        End::ClosedHere => {
            // Let what was written reach npiped, but never wait forever
            // on a dead network.
            match tokio::time::timeout(Duration::from_secs(30), writer).await {
                Ok(Ok(Ok(()))) => "closed".to_owned(),
                _ => "closed; the last bytes may not have reached npiped".to_owned(),
            }
        }
        End::ServerClosed => {
            let _ = socket::shutdown(app.as_fd());
            writer.abort();
            "the server closed the pipe".to_owned()
        }
        End::Disconnected => {
            let _ = socket::send(ctl.as_fd(), &Control::Disconnect.encode(), true);
            let _ = socket::shutdown(app.as_fd());
            writer.abort();
            "the server disconnected this client".to_owned()
        }
        End::Lost(reason) => {
            // The handle's next operation reads ERROR_PIPE_NOT_CONNECTED,
            // never a partial message or a clean end of data.
            let _ = socket::send(ctl.as_fd(), &Control::Disconnect.encode(), true);
            let _ = socket::shutdown(app.as_fd());
            writer.abort();
            reason
        }
    };
    for (_, reply) in flushes.drain() {
        reply.send(Err(reason.clone()));
    }
    for (_, reply) in syncs.drain() {
        reply.send(Err(reason.clone()));
    }
    for (_, reply) in infos.drain() {
        reply.send(Err(reason.clone()));
    }
    reason
}

/// Bytes from the server not yet handed to the client handle's socket.
#[derive(Debug, Default)]
struct Inbound {
    buf: Vec<u8>,
    at: usize,
    /// Bytes received from the server in all.
    received: u64,
    /// Bytes handed to the handle's socket in all.
    written: u64,
}

impl Inbound {
    fn is_empty(&self) -> bool {
        self.at == self.buf.len()
    }

    fn push(&mut self, bytes: Vec<u8>) {
        self.received += bytes.len() as u64;
        if self.is_empty() {
            self.buf = bytes;
            self.at = 0;
        } else {
            self.buf.extend_from_slice(&bytes);
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.at = 0;
    }

    /// Whether there is something to hand over, up to byte `limit` of
    /// the stream (if any).
    fn pending(&self, limit: Option<u64>) -> bool {
        !self.is_empty() && limit.is_none_or(|limit| self.written < limit)
    }

    /// [`write_to`](Self::write_to) if there is anything to hand over; a
    /// handle that is gone makes what the server sends moot.
    fn hand_over(&mut self, app: &UnixStream, link: &mut Link, limit: Option<u64>) {
        if self.pending(limit) && self.write_to(app, link, limit).is_err() {
            self.clear();
        }
    }

    /// Writes what the socket takes without waiting, up to byte `limit` of
    /// the stream (if any); grants the credit back. `Err` when the
    /// handle's socket is closed.
    fn write_to(
        &mut self,
        app: &UnixStream,
        link: &mut Link,
        limit: Option<u64>,
    ) -> std::io::Result<()> {
        while self.pending(limit) {
            let mut end = self.buf.len();
            if let Some(limit) = limit {
                let room = (limit - self.written).min(usize::MAX as u64) as usize;
                end = end.min(self.at + room);
            }
            match app.try_write(&self.buf[self.at..end]) {
                Ok(n) => {
                    self.at += n;
                    self.written += n as u64;
                    link.consumed(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.is_empty() {
            self.clear();
        } else if self.at > (1 << 20) {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        Ok(())
    }
}

/// Answers the server's flushes whose bytes the handle has read: all of
/// them handed to its socket (which stops there while the flush waits),
/// and the socket holding nothing unread (`unread_by_app`). A closed
/// handle's socket holds nothing either, read or not: its flushes stay
/// unanswered here, and what it said it read (`AllRead`) decides them.
/// True if it answered any.
fn answer_server_flushes(
    flushes: &mut VecDeque<(u32, u64)>,
    inbound: &Inbound,
    unread_by_app: usize,
    app: &UnixStream,
    link: &mut Link,
) -> bool {
    if flushes.is_empty() || unread_by_app > 0 || socket::hung_up(app.as_fd()).unwrap_or(true) {
        return false;
    }
    let mut answered = false;
    while let Some(&(id, upto)) = flushes.front() {
        if inbound.written < upto {
            break;
        }
        flushes.pop_front();
        link.send(&Frame::Flushed { id, status: 0 });
        answered = true;
    }
    answered
}

/// The handle closed: it said before ([`Command::ReadAtClose`]) how much
/// it had read; tell the server (`AllRead`) before the `Close`: its
/// flushes of no more are done, even one it makes after the close. Nothing
/// else can be asked of a closed handle's pump.
fn closed_by_handle(cmds: &mut mpsc::UnboundedReceiver<Command>, link: &mut Link) {
    while let Ok(cmd) = cmds.try_recv() {
        if let Command::ReadAtClose(bytes) = cmd {
            link.send(&Frame::AllRead(bytes));
        }
    }
}
