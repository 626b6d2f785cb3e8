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
//! (peek the 4-byte header, then one scattered read of header and payload
//! into the caller's buffer), so the kernel's count of unread bytes stays
//! exact and [`Conn::flush`] (FlushFileBuffers) returns only once the
//! reader's application has read everything. Frames larger than the
//! caller's buffer or than what the socket holds at once are assembled in a
//! [`RecvBuffer`] first, so a peer killed mid-message never yields part of
//! a message.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use crate::pipe::{MessageRead, PeekInfo, PipeEnd, ReadMode};
use crate::proto::{self, Control, RecvBuffer, HEADER_LEN};
use crate::sys::socket::{self, PeerCred};
use crate::{Error, Result};

/// How the connection ended, once it has.
const OPEN: u8 = 0;
const PEER_CLOSED: u8 = 1;
const DISCONNECTED_BY_SERVER: u8 = 2;
const SHUT_HERE: u8 = 3;

#[derive(Debug)]
pub(crate) struct Conn {
    data: OwnedFd,
    ctl: OwnedFd,
    message_pipe: bool,
    end: PipeEnd,
    peer: PeerCred,
    /// Serializes readers; held across their blocking waits.
    reader: Mutex<()>,
    /// Frames being assembled, or the rest of a message partly read.
    buffered: Mutex<RecvBuffer>,
    /// Serializes writers of frames.
    writer: Mutex<()>,
    state: AtomicU8,
}

impl Conn {
    pub fn new(
        data: OwnedFd,
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
            writer: Mutex::new(()),
            state: AtomicU8::new(OPEN),
        }
    }

    pub fn peer(&self) -> PeerCred {
        self.peer
    }

    /// Reads one message (message read mode) or some bytes (byte read mode).
    /// At end of stream: [`Error::BrokenPipe`] (the peer closed) or
    /// [`Error::PipeNotConnected`] (the server disconnected this client).
    pub fn read(&self, buf: &mut [u8], mode: ReadMode, nowait: bool) -> Result<MessageRead> {
        let _reader = lock(&self.reader);
        self.check_not_disconnected()?;
        if !self.message_pipe {
            return self.read_bytes(buf, nowait);
        }
        loop {
            let got = self.read_message(buf, nowait)?;
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
            match self.read_message(&mut buf[filled..], true) {
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
            match socket::recv(self.data.as_fd(), buf, nowait) {
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

    /// One message, or the next piece of one.
    fn read_message(&self, buf: &mut [u8], nowait: bool) -> Result<MessageRead> {
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
                    self.receive_into_buffer(nowait)?;
                    continue;
                }
            }
            // Nothing buffered: look at the next header in the socket.
            let mut header = [0u8; HEADER_LEN];
            match socket::peek(self.data.as_fd(), &mut header) {
                Ok(HEADER_LEN) => {
                    let len = proto::decode_header(header);
                    if len > proto::MAX_MESSAGE_LEN {
                        return Err(proto::ProtoError::MessageTooLarge {
                            len,
                            max: proto::MAX_MESSAGE_LEN,
                        }
                        .into());
                    }
                    if len <= buf.len() && self.try_exact_read(&mut buf[..len], nowait)? {
                        return Ok(MessageRead::Complete(len));
                    }
                    // Too big for the buffer, or not all there yet: assemble.
                    self.receive_into_buffer(nowait)?;
                }
                Ok(0) => return Err(self.ended(false)),
                Ok(_) => self.wait_readable(nowait)?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.wait_readable(nowait)?
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, false)),
            }
        }
    }

    /// Reads one whole frame straight into `payload` if it is all in the
    /// socket. Returns false (having consumed nothing) otherwise.
    fn try_exact_read(&self, payload: &mut [u8], nowait: bool) -> Result<bool> {
        let want = HEADER_LEN + payload.len();
        let available =
            socket::bytes_readable(self.data.as_fd()).map_err(|e| self.io_error(e, false))?;
        if available < want {
            return Ok(false);
        }
        let mut header = [0u8; HEADER_LEN];
        let got = {
            let mut iov = [IoSliceMut::new(&mut header), IoSliceMut::new(payload)];
            socket::recv_vectored(self.data.as_fd(), &mut iov, nowait)
                .map_err(|e| self.io_error(e, false))?
        };
        if got == want {
            return Ok(true);
        }
        // Only this reader consumes, and the bytes were there: a short read
        // cannot happen, but if it does, keep the bytes, never lose them.
        let mut assembled = lock(&self.buffered);
        let part = header
            .iter()
            .chain(payload.iter())
            .take(got)
            .copied()
            .collect::<Vec<_>>();
        assembled.spare(part.len())[..part.len()].copy_from_slice(&part);
        assembled.commit(part.len());
        Ok(false)
    }

    /// Receives the rest of the frame at the head of the stream into the
    /// buffer (never more than that frame), waiting unless `nowait`.
    fn receive_into_buffer(&self, nowait: bool) -> Result<()> {
        loop {
            let mut assembled = lock(&self.buffered);
            let want = match assembled.missing_for_next_frame() {
                0 => HEADER_LEN,
                n => n,
            };
            let spare = assembled.spare(want);
            let limit = want.min(spare.len());
            match socket::recv(self.data.as_fd(), &mut spare[..limit], true) {
                Ok(0) => {
                    let truncated = assembled.finish().is_err();
                    drop(assembled);
                    let end = self.ended(false);
                    // A message cut short by a dying peer is dropped whole.
                    return Err(if truncated { Error::BrokenPipe } else { end });
                }
                Ok(n) => {
                    assembled.commit(n);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    drop(assembled);
                    self.wait_readable(nowait)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, false)),
            }
        }
    }

    fn wait_readable(&self, nowait: bool) -> Result<()> {
        if nowait {
            return Err(Error::WouldBlock);
        }
        socket::wait_readable(self.data.as_fd(), None).map_err(|e| self.io_error(e, false))?;
        Ok(())
    }

    /// Writes: on a message pipe one whole message, on a byte pipe as much as
    /// the socket takes (all of it unless `nowait`).
    pub fn write(&self, buf: &[u8], nowait: bool) -> Result<usize> {
        if !self.message_pipe {
            return match socket::send(self.data.as_fd(), buf, nowait) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
                Err(e) => Err(self.io_error(e, true)),
            };
        }
        let header = proto::encode_header(buf.len())?;
        let _writer = lock(&self.writer);
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
            match socket::send_vectored(self.data.as_fd(), &iov, nowait && sent == 0) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_error(e, true)),
            }
        }
        Ok(buf.len())
    }

    /// PeekNamedPipe: copies without consuming. Never blocks.
    pub fn peek(&self, buf: &mut [u8]) -> Result<PeekInfo> {
        self.check_not_disconnected()?;
        let queued =
            socket::bytes_readable(self.data.as_fd()).map_err(|e| self.io_error(e, false))?;
        let mut raw = vec![0u8; queued];
        let got = if queued > 0 {
            match socket::peek(self.data.as_fd(), &mut raw) {
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
        let queued =
            socket::bytes_readable(self.data.as_fd()).map_err(|e| self.io_error(e, false))?;
        Ok(queued + lock(&self.buffered).buffered_payload())
    }

    /// FlushFileBuffers: returns once the peer has read everything written.
    pub fn flush(&self) -> Result<()> {
        socket::wait_drained(self.data.as_fd()).map_err(|e| self.io_error(e, true))
    }

    /// DisconnectNamedPipe, server side: tell the client, then cut the data
    /// socket (waking every thread blocked on it). Unread data is discarded.
    pub fn disconnect(&self) {
        if self.end == PipeEnd::Server {
            let _ = socket::send(self.ctl.as_fd(), &Control::Disconnect.encode(), true);
        }
        self.state.store(SHUT_HERE, Ordering::Release);
        let _ = socket::shutdown(self.data.as_fd());
    }

    /// On the client end, [`Error::PipeNotConnected`] once the server has
    /// disconnected this client, even while data it wrote before is still
    /// queued: `DisconnectNamedPipe` discards unread data.
    fn check_not_disconnected(&self) -> Result<()> {
        if self.end == PipeEnd::Client
            && self.state.load(Ordering::Acquire) == OPEN
            && self.server_said_disconnect()
        {
            let _ = self.state.compare_exchange(
                OPEN,
                DISCONNECTED_BY_SERVER,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
        match self.state.load(Ordering::Acquire) {
            DISCONNECTED_BY_SERVER => Err(Error::PipeNotConnected),
            _ => Ok(()),
        }
    }

    /// The error for the end of the stream, remembered once known.
    fn ended(&self, writing: bool) -> Error {
        let mut state = self.state.load(Ordering::Acquire);
        if state == OPEN {
            let seen = if self.end == PipeEnd::Client && self.server_said_disconnect() {
                DISCONNECTED_BY_SERVER
            } else {
                PEER_CLOSED
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
            _ if writing => Error::NoData,
            _ => Error::BrokenPipe,
        }
    }

    fn server_said_disconnect(&self) -> bool {
        let mut buf = [0u8; 16];
        matches!(socket::recv(self.ctl.as_fd(), &mut buf, true),
            Ok(n) if n > 0 && Control::decode(&buf[..n]).is_ok())
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
