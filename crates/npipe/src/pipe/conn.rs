//! One connected pipe instance: the blocking driver of the protocol core.
//!
//! A connection is a Unix stream socket (the data) plus a `SOCK_SEQPACKET`
//! control socket (the server's "disconnected" notice). Byte-type pipes
//! carry the bytes as they are; message-type pipes carry frames built and
//! parsed by [`crate::proto`].
//!
//! Threads: any number may use a connection at once. Readers are served one
//! at a time (a read lock serializes them, as Windows serializes synchronous
//! reads on a handle); writers of messages likewise, so frames never
//! interleave. Peek, flush, writes and disconnect never wait for a reader:
//! the read lock is the only lock held across a blocking call, and only
//! other readers take it.
//!
//! Message reads consume from the socket exactly the frame they deliver
//! (receive the 4-byte header, then exactly the payload, straight into the
//! caller's buffer), so the kernel's count of unread bytes stays
//! exact and [`Conn::flush`] (FlushFileBuffers) returns only once the
//! reader's application has read everything. Frames larger than the
//! caller's buffer or than what the socket holds at once are assembled in a
//! [`RecvBuffer`] first, so a peer killed mid-message never yields part of
//! a message.

use std::io::IoSlice;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;

use crate::pipe::transport::Transport;
use crate::pipe::{MessageRead, PeekInfo, PipeEnd, ReadMode};
use crate::proto::{self, Control, RecvBuffer, HEADER_LEN};
use crate::sys::socket::{self, PeerCred};
use crate::{Error, Result};

/// How the connection ended, once it has.
const OPEN: u8 = 0;
const PEER_CLOSED: u8 = 1;
const DISCONNECTED_BY_SERVER: u8 = 2;
const SHUT_HERE: u8 = 3;
const DENIED_BY_SERVER: u8 = 4;

#[derive(Debug)]
pub(crate) struct Conn {
    data: Box<dyn Transport>,
    ctl: OwnedFd,
    message_pipe: bool,
    end: PipeEnd,
    peer: PeerCred,
    /// Serializes readers; held across their blocking waits.
    reader: Mutex<()>,
    /// Frames being assembled, or the rest of a message partly read.
    buffered: Mutex<RecvBuffer>,
    /// Serializes writers of frames, and holds the unsent rest of a frame
    /// that a non-blocking write started (it goes out before anything else).
    writer: Mutex<Vec<u8>>,
    state: AtomicU8,
    /// Whether this end has written anything. Until it has, a flush has
    /// nothing to wait for (the client's hello, still unread while the
    /// server has not accepted, is not the application's data).
    wrote: AtomicBool,
    /// The server end of a remote client's connection: the peer is
    /// `npiped`'s relay, and a flush waits on past it (see
    /// [`Conn::through_relay`]).
    relayed: bool,
    /// Serializes the blocking flushes through the relay: one waits on the
    /// control socket at a time, so none misses its answer.
    relay_flush: Mutex<()>,
    /// The id of the last flush asked of the relay.
    relay_flush_asked: AtomicU64,
    /// The relay has answered every flush up to this id.
    relay_flush_done: AtomicU64,
    /// Bytes this end has sent on the data socket in all.
    sent: AtomicU64,
    /// The remote client closed having read this many of them (see
    /// `Control::ClientRead`).
    relay_client_read: AtomicU64,
}

impl Conn {
    pub fn new(
        data: Box<dyn Transport>,
        ctl: OwnedFd,
        message_pipe: bool,
        end: PipeEnd,
        peer: PeerCred,
    ) -> Conn {
        Conn {
            data,
            ctl,
            message_pipe,
            end,
            peer,
            reader: Mutex::new(()),
            buffered: Mutex::new(RecvBuffer::new(proto::MAX_MESSAGE_LEN)),
            writer: Mutex::new(Vec::new()),
            state: AtomicU8::new(OPEN),
            wrote: AtomicBool::new(false),
            relayed: false,
            relay_flush: Mutex::new(()),
            relay_flush_asked: AtomicU64::new(0),
            relay_flush_done: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            relay_client_read: AtomicU64::new(0),
        }
    }

    /// Marks the server end of a connection from a trusted relay (`npiped`
    /// speaking for a remote client). The relay takes what the server
    /// writes well ahead of the remote reader, so an empty socket does not
    /// mean the client has read it: [`flush`](Self::flush) then also asks
    /// the relay, on the control socket, to answer once the remote client
    /// has read everything (`Control::Flush` / `Control::Flushed`).
    pub fn through_relay(mut self) -> Conn {
        self.relayed = self.end == PipeEnd::Server;
        self
    }

    /// Whether a flush must wait for the relay's answer too (see
    /// [`through_relay`](Self::through_relay)).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn is_relayed(&self) -> bool {
        self.relayed
    }

    pub fn peer(&self) -> PeerCred {
        self.peer
    }

    /// Reads one message (message read mode) or some bytes (byte read mode),
    /// waiting for data unless `nowait`. Readers are served one at a time.
    /// At end of stream: [`Error::BrokenPipe`] (the peer closed) or
    /// [`Error::PipeNotConnected`] (the server disconnected this client).
    pub fn read(&self, buf: &mut [u8], mode: ReadMode, nowait: bool) -> Result<MessageRead> {
        let _reader = lock(&self.reader);
        if !self.message_pipe {
            self.check_not_disconnected()?;
            // One blocking receive: the kernel's own speed for byte pipes.
            return self.read_bytes(buf, nowait);
        }
        loop {
            // The first receive may wait for the next header: one call
            // instead of a failed receive, a poll and another receive.
            match self.try_read_unlocked(buf, mode, !nowait) {
                Err(Error::WouldBlock) if !nowait => self
                    .data
                    .wait_readable()
                    .map_err(|e| self.io_error(e, false))?,
                other => return other,
            }
        }
    }

    /// Reads without ever blocking: [`Error::WouldBlock`] when no whole
    /// message (or, on a byte pipe, no byte) is there yet. Bytes of a frame
    /// received so far are kept in the connection, so the caller waits for
    /// the transport to become readable and calls again; the blocking and
    /// the async front ends both drive reads this way, and a caller that
    /// gives up between two calls loses nothing. Takes the read lock for
    /// the call only, so concurrent callers never split a frame.
    #[cfg_attr(not(any(test, feature = "tokio")), allow(dead_code))] // the async front end's read
    pub fn try_read(&self, buf: &mut [u8], mode: ReadMode) -> Result<MessageRead> {
        let _reader = lock(&self.reader);
        self.try_read_unlocked(buf, mode, false)
    }

    /// `block_on_header`: the first receive of a message pipe's next header
    /// may wait for it (blocking callers only).
    fn try_read_unlocked(
        &self,
        buf: &mut [u8],
        mode: ReadMode,
        block_on_header: bool,
    ) -> Result<MessageRead> {
        self.check_not_disconnected()?;
        if !self.message_pipe {
            return self.read_bytes(buf, true);
        }
        loop {
            let got = self.try_read_message(buf, block_on_header)?;
            // Byte read mode on a message pipe skips zero-length messages:
            // an empty read would look like the end of the stream.
            if mode == ReadMode::Byte && got.is_empty() && !buf.is_empty() {
                continue;
            }
            return Ok(match (mode, got) {
                (ReadMode::Byte, got) => MessageRead::Complete(self.read_on(buf, got.len())),
                (ReadMode::Message, got) => got,
            });
        }
    }

    /// Byte read mode reads across message boundaries, as `ReadFile` does:
    /// after the first `filled` bytes, the messages already waiting fill
    /// the rest of `buf` without blocking. Returns the bytes now in `buf`;
    /// an end of stream met here is reported by the next read.
    fn read_on(&self, buf: &mut [u8], mut filled: usize) -> usize {
        while filled < buf.len() {
            match self.try_read_message(&mut buf[filled..], false) {
                Ok(got) => filled += got.len(),
                Err(_) => break,
            }
        }
        filled
    }

    fn read_bytes(&self, buf: &mut [u8], nowait: bool) -> Result<MessageRead> {
        if buf.is_empty() {
            return Ok(MessageRead::Complete(0));
        }
        loop {
            match self.data.recv(buf, nowait) {
                Ok(0) => return Err(self.ended(false)),
                Ok(n) => return Ok(MessageRead::Complete(n)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::WouldBlock)
                }
                Err(e) => return Err(self.io_error(e, false)),
            }
        }
    }

    /// One message, or the next piece of one, without blocking.
    fn try_read_message(&self, buf: &mut [u8], mut block_on_header: bool) -> Result<MessageRead> {
        loop {
            {
                let mut assembled = lock(&self.buffered);
                if let Some(out) = assembled
                    .read(buf, proto::ReadMode::Message)
                    .map_err(Error::from)?
                {
                    return Ok(outcome(out));
                }
                if !assembled.is_empty() {
                    // Part of a frame is buffered: receive the rest of it.
                    drop(assembled);
                    self.receive_into_buffer()?;
                    continue;
                }
            }
            // Nothing buffered: take the next frame's header from the socket,
            // then exactly its payload, straight into `buf` when it fits —
            // two receives a message, and nothing past the frame consumed,
            // so the kernel's count of unread bytes stays exact for flush.
            // (Peeking at the header instead costs more: MSG_PEEK on a Unix
            // stream socket walks its whole receive queue.)
            let mut header = [0u8; HEADER_LEN];
            match self.data.recv(&mut header, !block_on_header) {
                Ok(HEADER_LEN) => {
                    let len = proto::decode_header(header);
                    if len == 0 {
                        return Ok(MessageRead::Complete(0));
                    }
                    if len <= buf.len() && len <= proto::MAX_MESSAGE_LEN {
                        let got = match self.data.recv(&mut buf[..len], true) {
                            Ok(n) => n,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
                            Err(e) => return Err(self.io_error(e, false)),
                        };
                        if got == len {
                            return Ok(MessageRead::Complete(len));
                        }
                        // The rest is on its way (or the writer died): keep
                        // what came, and assemble the frame. The caller's
                        // buffer holds no byte of a message not yet whole.
                        self.keep(&header, &buf[..got]);
                        buf[..got].fill(0);
                    } else {
                        // Longer than the buffer (or than any message may
                        // be): assemble it, and let the buffer judge it.
                        self.keep(&header, &[]);
                    }
                }
                Ok(0) => return Err(self.ended(false)),
                Ok(n) => self.keep(&header[..n], &[]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::WouldBlock)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, false)),
            }
            // Only the first receive of a read may wait.
            block_on_header = false;
        }
    }

    /// Puts the start of a frame taken from the socket into the buffer,
    /// where the rest of it is assembled.
    fn keep(&self, header: &[u8], payload: &[u8]) {
        let mut assembled = lock(&self.buffered);
        let n = header.len() + payload.len();
        let spare = assembled.spare(n);
        spare[..header.len()].copy_from_slice(header);
        spare[header.len()..n].copy_from_slice(payload);
        assembled.commit(n);
    }

    /// Receives what is there of the frame at the head of the stream into
    /// the buffer (never more than that frame, so the kernel's count of
    /// unread bytes stays exact). [`Error::WouldBlock`] if nothing is there.
    fn receive_into_buffer(&self) -> Result<()> {
        loop {
            let mut assembled = lock(&self.buffered);
            let want = match assembled.missing_for_next_frame() {
                0 => HEADER_LEN,
                n => n,
            };
            let spare = assembled.spare(want);
            let limit = want.min(spare.len());
            match self.data.recv(&mut spare[..limit], true) {
                Ok(0) => {
                    // A message cut short is dropped whole. The error is
                    // the end's own: ERROR_BROKEN_PIPE for a dying peer,
                    // ERROR_PIPE_NOT_CONNECTED for a server's disconnect.
                    let _truncated = assembled.finish();
                    drop(assembled);
                    return Err(self.ended(false));
                }
                Ok(n) => {
                    assembled.commit(n);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::WouldBlock)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, false)),
            }
        }
    }

    /// Writes: on a message pipe one whole message, on a byte pipe as much as
    /// the socket takes (all of it unless `nowait`).
    pub fn write(&self, buf: &[u8], nowait: bool) -> Result<usize> {
        self.wrote.store(true, Ordering::Relaxed);
        if !self.message_pipe {
            return match self.counted(self.data.send(buf, nowait)) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
                Err(e) => Err(self.io_error(e, true)),
            };
        }
        let header = proto::encode_header(buf.len())?;
        let mut unsent = lock(&self.writer);
        // Finish a frame an abandoned non-blocking write started.
        while !self.push_unsent(&mut unsent)? {
            if nowait {
                return Ok(0);
            }
            self.wait_writable()?;
        }
        let total = HEADER_LEN + buf.len();
        let mut sent = 0;
        while sent < total {
            let iov = if sent < HEADER_LEN {
                [IoSlice::new(&header[sent..]), IoSlice::new(buf)]
            } else {
                [IoSlice::new(&[]), IoSlice::new(&buf[sent - HEADER_LEN..])]
            };
            // Only the first attempt honours PIPE_NOWAIT: once part of a
            // frame is out, the rest must follow or the stream is torn.
            match self.counted(self.data.send_vectored(&iov, nowait && sent == 0)) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, true)),
            }
        }
        Ok(buf.len())
    }

    /// Writes without ever blocking: on a message pipe, `Ok(len)` once the
    /// whole message is accepted — all of it handed to the transport, or the
    /// part that did not fit kept to go out first with the next write or
    /// flush, so a message is never split or lost; [`Error::WouldBlock`]
    /// when nothing was sent. On a byte pipe, the bytes that fit.
    #[cfg_attr(not(any(test, feature = "tokio")), allow(dead_code))] // the async front end's write
    pub fn try_write(&self, buf: &[u8]) -> Result<usize> {
        self.wrote.store(true, Ordering::Relaxed);
        if !self.message_pipe {
            return match self.counted(self.data.send(buf, true)) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(Error::WouldBlock),
                Err(e) => Err(self.io_error(e, true)),
            };
        }
        let header = proto::encode_header(buf.len())?;
        let mut unsent = lock(&self.writer);
        if !self.push_unsent(&mut unsent)? {
            return Err(Error::WouldBlock);
        }
        loop {
            let iov = [IoSlice::new(&header), IoSlice::new(buf)];
            match self.counted(self.data.send_vectored(&iov, true)) {
                Ok(n) => {
                    let rest = header.iter().chain(buf.iter()).skip(n).copied();
                    unsent.extend(rest);
                    return Ok(buf.len());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::WouldBlock)
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, true)),
            }
        }
    }

    /// Sends what is left of a frame a non-blocking write started, without
    /// blocking; true once nothing is left.
    #[cfg_attr(not(any(test, feature = "tokio")), allow(dead_code))] // the async front end's write
    pub fn try_push_unsent(&self) -> Result<bool> {
        let mut unsent = lock(&self.writer);
        self.push_unsent(&mut unsent)
    }

    /// Whether part of a frame is still waiting to go out.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn has_unsent(&self) -> bool {
        !lock(&self.writer).is_empty()
    }

    /// The descriptor to wait on for readability and writability (see
    /// [`Transport::readiness_fd`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn readiness_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.data.readiness_fd()
    }

    /// Bytes written that the peer has not read yet; [`Conn::flush`] is
    /// done when this is zero and nothing is left unsent.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn unread_by_peer(&self) -> Result<usize> {
        if !self.wrote.load(Ordering::Relaxed) {
            // Only the client's hello may be unread: not the application's.
            return Ok(0);
        }
        self.data
            .unread_by_peer()
            .map_err(|e| self.io_error(e, true))
    }

    /// What a flush waits for past this end's socket (see
    /// [`Transport::flush_beyond`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn transport_flush_beyond(&self) -> Option<crate::pipe::transport::FlushBeyond> {
        if !self.wrote.load(Ordering::Relaxed) {
            return None;
        }
        self.data.flush_beyond()
    }

    /// A flush's I/O error as the pipe error it stands for.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn flush_error(&self, e: std::io::Error) -> Error {
        self.io_error(e, true)
    }

    /// The error of a flush that cannot finish because the stream ended
    /// (what [`Conn::flush`] returns when its wait sees a hang-up).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn flush_ended(&self) -> Error {
        self.io_error(std::io::ErrorKind::BrokenPipe.into(), true)
    }

    fn push_unsent(&self, unsent: &mut Vec<u8>) -> Result<bool> {
        while !unsent.is_empty() {
            match self.counted(self.data.send(unsent, true)) {
                Ok(n) => drop(unsent.drain(..n)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, true)),
            }
        }
        Ok(true)
    }

    fn wait_writable(&self) -> Result<()> {
        self.data
            .wait_writable()
            .map_err(|e| self.io_error(e, true))
    }

    /// PeekNamedPipe: copies without consuming. Never blocks.
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.check_not_disconnected()?;
        let queued = self.data.queued().map_err(|e| self.io_error(e, false))?;
        let mut raw = vec![0u8; queued];
        let got = if queued > 0 {
            match self.data.peek(&mut raw) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
                Err(e) => return Err(self.io_error(e, false)),
            }
        } else {
            0
        };
        raw.truncate(got);
        if !self.message_pipe {
            let copied = got.min(buf.len());
            buf[..copied].copy_from_slice(&raw[..copied]);
            return Ok(PeekInfo {
                copied,
                total_available: got,
                left_in_message: 0,
            });
        }
        let mut view = lock(&self.buffered).clone();
        view.spare(raw.len())[..raw.len()].copy_from_slice(&raw);
        view.commit(raw.len());
        let seen = view.peek(buf);
        Ok(PeekInfo {
            copied: seen.copied,
            total_available: seen.total_available,
            left_in_message: seen.left_in_message,
        })
    }

    /// Bytes waiting to be read, in the socket and assembled.
    pub fn unread(&self) -> Result<usize> {
        let queued = self.data.queued().map_err(|e| self.io_error(e, false))?;
        Ok(queued + lock(&self.buffered).buffered_payload())
    }

    /// FlushFileBuffers: returns once the peer has read everything written.
    pub fn flush(&self) -> Result<()> {
        if !self.wrote.load(Ordering::Relaxed) {
            return Ok(());
        }
        {
            let mut unsent = lock(&self.writer);
            while !self.push_unsent(&mut unsent)? {
                self.wait_writable()?;
            }
        }
        if let Err(e) = self.data.wait_drained() {
            let e = self.io_error(e, true);
            if !self.relay_decides(&e) {
                return Err(e);
            }
        }
        if self.relayed {
            self.flush_through_relay()?;
        }
        Ok(())
    }

    /// Whether a flush that found the peer gone must still ask the relay:
    /// it may have passed everything on and gone, and the remote client's
    /// last word (`Control::ClientRead`) decides.
    pub fn relay_decides(&self, flush_error: &Error) -> bool {
        self.relayed && matches!(flush_error, Error::NoData | Error::BrokenPipe)
    }

    /// The rest of a flush on a relayed connection, once the relay has read
    /// everything: ask it, and wait for its answer.
    fn flush_through_relay(&self) -> Result<()> {
        let _one = lock(&self.relay_flush);
        let flush = self.ask_relay_to_flush();
        while !self.relay_flushed(flush)? {
            socket::wait_readable(self.ctl.as_fd(), None).map_err(|e| self.io_error(e, true))?;
        }
        Ok(())
    }

    /// Sends the relay a flush request. Call it only once the relay has
    /// read everything written (the request overtakes data still in the
    /// socket). A relay already gone gets no request: the remote client's
    /// last word (`Control::ClientRead`), if it left one, still decides.
    pub fn ask_relay_to_flush(&self) -> RelayFlush {
        let upto = self.sent.load(Ordering::Acquire);
        let id = self.relay_flush_asked.fetch_add(1, Ordering::AcqRel) + 1;
        let asked = socket::send(self.ctl.as_fd(), &Control::Flush(id).encode(), false).is_ok();
        RelayFlush {
            id: asked.then_some(id),
            upto,
        }
    }

    /// Takes the relay's answers from the control socket without waiting:
    /// whether `flush` is done. The relay answers in order, so an answer
    /// for a later id covers every earlier one (and a task that gave up
    /// waiting leaves nothing behind).
    ///
    /// # Errors
    /// The end of the connection, as a flush reports it: the relay is gone
    /// (the remote client closed or was lost, or this end disconnected)
    /// and the remote client did not read everything first.
    pub fn relay_flushed(&self, flush: RelayFlush) -> Result<bool> {
        let mut buf = [0u8; 16];
        loop {
            let answered = flush
                .id
                .is_some_and(|id| self.relay_flush_done.load(Ordering::Acquire) >= id);
            if answered || self.relay_client_read.load(Ordering::Acquire) >= flush.upto {
                return Ok(true);
            }
            match socket::recv(self.ctl.as_fd(), &mut buf, true) {
                Ok(0) => return Err(self.flush_ended()),
                Ok(n) => match Control::decode(&buf[..n]) {
                    Ok(Control::Flushed(done)) => {
                        self.relay_flush_done.fetch_max(done, Ordering::AcqRel);
                    }
                    Ok(Control::ClientRead(bytes)) => {
                        self.relay_client_read.fetch_max(bytes, Ordering::AcqRel);
                    }
                    _ => {}
                },
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Nothing more will come from a relay that is gone.
                    return match flush.id {
                        Some(_) => Ok(false),
                        None => Err(self.flush_ended()),
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // A relay that closed with our request unread makes the
                // kernel report a reset once, before the datagrams it sent
                // (`ClientRead` among them): read on.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => return Err(self.io_error(e, true)),
            }
        }
    }

    /// Sends, counting what was sent (for [`RelayFlush`]).
    fn counted(&self, sent: std::io::Result<usize>) -> std::io::Result<usize> {
        if let Ok(n) = sent {
            self.sent.fetch_add(n as u64, Ordering::AcqRel);
        }
        sent
    }

    /// The control socket, for a front end that waits for the relay's
    /// answer itself (see [`relay_flushed`](Self::relay_flushed)).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub fn control_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.ctl.as_fd()
    }

    /// Half-close: the peer's reads end after what was written (a message
    /// being written by another thread is finished first).
    pub fn close_write(&self) -> Result<()> {
        let mut unsent = lock(&self.writer);
        while !self.push_unsent(&mut unsent)? {
            self.wait_writable()?;
        }
        self.data
            .shutdown_write()
            .map_err(|e| self.io_error(e, true))
    }

    /// DisconnectNamedPipe, server side: tell the client, then cut the data
    /// socket (waking every thread blocked on it). Unread data is discarded.
    pub fn disconnect(&self) {
        // First, so a thread woken below reads "not connected".
        self.state.store(SHUT_HERE, Ordering::Release);
        if self.end == PipeEnd::Server {
            let _ = socket::send(self.ctl.as_fd(), &Control::Disconnect.encode(), true);
            if self.relayed {
                // Wakes a flush waiting for the relay's answer. The relay
                // still reads the notice: it is queued on its end already.
                let _ = socket::shutdown(self.ctl.as_fd());
            }
        }
        self.data.shutdown();
    }

    /// On the client end, [`Error::PipeNotConnected`] once the server has
    /// disconnected this client, even while data it wrote before is still
    /// queued (`DisconnectNamedPipe` discards unread data), and
    /// [`Error::AccessDenied`] once the server refused it.
    fn check_not_disconnected(&self) -> Result<()> {
        if self.end == PipeEnd::Client && self.state.load(Ordering::Acquire) == OPEN {
            if let Some(notice) = self.server_notice() {
                let _ =
                    self.state
                        .compare_exchange(OPEN, notice, Ordering::AcqRel, Ordering::Acquire);
            }
        }
        match self.state.load(Ordering::Acquire) {
            DISCONNECTED_BY_SERVER => Err(Error::PipeNotConnected),
            DENIED_BY_SERVER => Err(self.denied()),
            _ => Ok(()),
        }
    }

    /// The error for the end of the stream, remembered once known.
    fn ended(&self, writing: bool) -> Error {
        let mut state = self.state.load(Ordering::Acquire);
        if state == OPEN {
            let seen = match self.end {
                PipeEnd::Client => self.server_notice().unwrap_or(PEER_CLOSED),
                _ => PEER_CLOSED,
            };
            // Another thread may have read the server's notice meanwhile:
            // keep what it found.
            let _ = self
                .state
                .compare_exchange(OPEN, seen, Ordering::AcqRel, Ordering::Acquire);
            state = self.state.load(Ordering::Acquire);
        }
        match state {
            DISCONNECTED_BY_SERVER | SHUT_HERE => Error::PipeNotConnected,
            DENIED_BY_SERVER => self.denied(),
            _ if writing => Error::NoData,
            _ => Error::BrokenPipe,
        }
    }

    fn denied(&self) -> Error {
        Error::AccessDenied {
            name: format!("the pipe of server process {}", self.peer.pid),
            reason: "the server refused this client (its credentials, access or remote claim)"
                .into(),
        }
    }

    /// The server's notice on the control socket, if one came: the state
    /// it puts the connection in.
    fn server_notice(&self) -> Option<u8> {
        let mut buf = [0u8; 16];
        match socket::recv(self.ctl.as_fd(), &mut buf, true) {
            Ok(n) if n > 0 => match Control::decode(&buf[..n]) {
                Ok(Control::Disconnect) => Some(DISCONNECTED_BY_SERVER),
                Ok(Control::Denied) => Some(DENIED_BY_SERVER),
                // Flushes pass only between a server and a relay.
                Ok(Control::Flush(_) | Control::Flushed(_) | Control::ClientRead(_)) | Err(_) => {
                    None
                }
            },
            _ => None,
        }
    }

    fn io_error(&self, e: std::io::Error, writing: bool) -> Error {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
                self.ended(writing)
            }
            _ => Error::Io(e),
        }
    }
}

/// A flush asked of the relay (see [`Conn::through_relay`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RelayFlush {
    /// The request's id; `None` when the relay was gone already.
    id: Option<u64>,
    /// Bytes sent before it: a remote client that read as many is done.
    upto: u64,
}

fn outcome(out: proto::ReadOutcome) -> MessageRead {
    match out {
        proto::ReadOutcome::Complete(n) => MessageRead::Complete(n),
        proto::ReadOutcome::MoreData(n) => MessageRead::MoreData(n),
    }
}

/// Locks a mutex, recovering it if a thread panicked while holding it (the
/// data it guards stays consistent: every update is a single step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipe::transport::UnixStreamTransport;
    use std::os::fd::AsFd;

    /// A connected server/client pair of message-pipe connections over
    /// socket pairs, as the rendezvous would make them.
    fn pair(message: bool) -> (Conn, Conn) {
        let (a, b) = socket::stream_pair().unwrap();
        let (ctl_a, ctl_b) = socket::seqpacket_pair().unwrap();
        let cred = socket::peer_credentials(a.as_fd()).unwrap();
        let server = Conn::new(
            Box::new(UnixStreamTransport::new(a)),
            ctl_a,
            message,
            PipeEnd::Server,
            cred,
        );
        let client = Conn::new(
            Box::new(UnixStreamTransport::new(b)),
            ctl_b,
            message,
            PipeEnd::Client,
            cred,
        );
        (server, client)
    }

    /// The server end of a pair, relayed, and the relay's ends (data and
    /// control) as raw sockets.
    fn relayed_server() -> (Conn, OwnedFd, OwnedFd) {
        let (a, b) = socket::stream_pair().unwrap();
        let (ctl_a, ctl_b) = socket::seqpacket_pair().unwrap();
        let cred = socket::peer_credentials(a.as_fd()).unwrap();
        let server = Conn::new(
            Box::new(UnixStreamTransport::new(a)),
            ctl_a,
            false,
            PipeEnd::Server,
            cred,
        )
        .through_relay();
        (server, b, ctl_b)
    }

    #[test]
    fn a_relay_that_closed_after_saying_the_client_read_all_ends_the_flush_well() {
        let (server, data, ctl) = relayed_server();
        server.write(b"abc", false).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(socket::recv(data.as_fd(), &mut buf, false).unwrap(), 3);
        // The server asks; the relay answers only that the client read 3
        // bytes and closed, leaving the request unread: the kernel then
        // reports a reset before the answer.
        let flush = server.ask_relay_to_flush();
        socket::send(ctl.as_fd(), &Control::ClientRead(3).encode(), false).unwrap();
        drop((data, ctl));
        assert!(server.relay_flushed(flush).unwrap());
    }

    #[test]
    fn a_relay_that_closed_before_the_client_read_all_fails_the_flush() {
        let (server, data, ctl) = relayed_server();
        server.write(b"abcd", false).unwrap();
        let flush = server.ask_relay_to_flush();
        socket::send(ctl.as_fd(), &Control::ClientRead(3).encode(), false).unwrap();
        drop((data, ctl));
        assert!(matches!(
            server.relay_flushed(flush),
            Err(Error::NoData | Error::BrokenPipe)
        ));
    }

    #[test]
    fn message_reads_consume_exactly_one_frame() {
        let (server, client) = pair(true);
        for msg in [&b"one"[..], b"", b"three"] {
            client.write(msg, false).unwrap();
        }
        let mut buf = [0u8; 16];
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, false).unwrap(),
            MessageRead::Complete(3)
        );
        // The two later frames are still in the socket, not in user space:
        // the writer's flush must not consider them read.
        assert_eq!(server.data.queued().unwrap(), 2 * HEADER_LEN + 5);
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, false).unwrap(),
            MessageRead::Complete(0)
        );
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, false).unwrap(),
            MessageRead::Complete(5)
        );
        assert_eq!(&buf[..5], b"three");
        client.flush().unwrap();
    }

    #[test]
    fn long_messages_come_in_pieces_with_more_data() {
        let (server, client) = pair(true);
        client.write(b"abcdefgh", false).unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, true).unwrap(),
            MessageRead::MoreData(3)
        );
        let peek = server.peek(&mut []).unwrap();
        assert_eq!((peek.total_available, peek.left_in_message), (5, 5));
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, true).unwrap(),
            MessageRead::MoreData(3)
        );
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, true).unwrap(),
            MessageRead::Complete(2)
        );
        assert_eq!(&buf[..2], b"gh");
        assert!(matches!(
            server.read(&mut buf, ReadMode::Message, true),
            Err(Error::WouldBlock)
        ));
    }

    #[test]
    fn a_frame_arriving_in_pieces_is_assembled_without_loss() {
        let (server, client) = pair(true);
        let mut frame = Vec::new();
        proto::encode_message(b"split message", &mut frame).unwrap();
        let mut buf = [0u8; 64];
        // Half a header, then the rest in two more pieces: each try makes
        // progress or says "would block", and nothing is lost between tries.
        for piece in [&frame[..2], &frame[2..9], &frame[9..]] {
            assert!(matches!(
                server.try_read(&mut buf, ReadMode::Message),
                Err(Error::WouldBlock)
            ));
            client.data.send(piece, false).unwrap();
        }
        assert_eq!(
            server.read(&mut buf, ReadMode::Message, false).unwrap(),
            MessageRead::Complete(13)
        );
        assert_eq!(&buf[..13], b"split message");
    }

    #[test]
    fn non_blocking_writes_never_split_a_message() {
        let (server, client) = pair(true);
        // Fill the socket with messages until a write is refused; one of
        // them may have gone out only in part, its rest kept for later.
        let msg = vec![7u8; 10_000];
        let mut accepted = 0;
        while client.try_write(&msg).is_ok() {
            accepted += 1;
        }
        assert!(accepted > 0);
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; 20_000];
            for _ in 0..accepted + 1 {
                let got = server.read(&mut buf, ReadMode::Message, false).unwrap();
                assert_eq!(got, MessageRead::Complete(10_000));
                assert!(buf[..10_000].iter().all(|&b| b == 7));
            }
        });
        // A blocking write first finishes the kept rest, then its own.
        assert_eq!(client.write(&msg, false).unwrap(), 10_000);
        while !client.try_push_unsent().unwrap() {}
        reader.join().unwrap();
    }

    #[test]
    fn a_truncated_frame_is_never_delivered() {
        let (server, client) = pair(true);
        // A header announcing 10 bytes, then only 4, then the writer dies.
        client
            .data
            .send(&proto::encode_header(10).unwrap(), false)
            .unwrap();
        client.data.send(b"part", false).unwrap();
        drop(client);
        let mut buf = [0u8; 64];
        assert!(matches!(
            server.read(&mut buf, ReadMode::Message, false),
            Err(Error::BrokenPipe)
        ));
    }

    #[test]
    fn a_disconnect_mid_message_is_not_connected_not_broken() {
        let (server, client) = pair(true);
        server
            .data
            .send(&proto::encode_header(10).unwrap(), false)
            .unwrap();
        server.data.send(b"part", false).unwrap();
        let mut buf = [0u8; 64];
        assert!(matches!(
            client.try_read(&mut buf, ReadMode::Message),
            Err(Error::WouldBlock)
        ));
        server.disconnect();
        assert!(matches!(
            client.read(&mut buf, ReadMode::Message, false),
            Err(Error::PipeNotConnected)
        ));
    }

    #[test]
    fn a_client_the_server_refused_gets_access_denied() {
        let (server, client) = pair(false);
        // What the server's admit() does with a client it refuses.
        socket::send(server.ctl.as_fd(), &Control::Denied.encode(), true).unwrap();
        drop(server);
        let mut buf = [0u8; 4];
        assert!(matches!(
            client.read(&mut buf, ReadMode::Byte, false),
            Err(Error::AccessDenied { .. })
        ));
        assert!(matches!(
            client.write(b"x", false),
            Err(Error::AccessDenied { .. })
        ));
    }

    #[test]
    fn disconnect_tells_the_client_and_close_does_not() {
        let (server, client) = pair(false);
        server.disconnect();
        let mut buf = [0u8; 4];
        assert!(matches!(
            client.read(&mut buf, ReadMode::Byte, false),
            Err(Error::PipeNotConnected)
        ));
        assert!(matches!(
            client.write(b"x", false),
            Err(Error::PipeNotConnected)
        ));

        let (server, client) = pair(false);
        drop(server);
        assert!(matches!(
            client.read(&mut buf, ReadMode::Byte, false),
            Err(Error::BrokenPipe)
        ));
        assert!(matches!(
            client.write(b"x", false),
            Err(Error::BrokenPipe) | Err(Error::NoData)
        ));
    }
}
