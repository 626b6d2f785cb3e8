//! One open connection of any implementation, seen through the two calls
//! the workloads need: send one write (or message) and receive.
//!
//! Every implementation goes through the same trait object, so the cost of
//! the indirection (a few nanoseconds) is the same for all of them.

use std::io::{self, BufReader, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender};
use ipc_channel::IpcError;
use rustix::net::{RecvAncillaryBuffer, RecvFlags, SendFlags};

/// A connection, from one side.
pub(crate) trait Channel {
    /// Sends `msg` whole: one message on a message channel, all the bytes
    /// on a byte channel.
    fn send(&mut self, msg: &[u8]) -> io::Result<()>;

    /// Receives one message (message channels) or some bytes (byte
    /// channels) into `buf`; 0 when the other side has gone.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Whether [`recv`](Self::recv) returns whole messages.
    fn is_message(&self) -> bool;

    /// Receives exactly `buf.len()` bytes: one message of that size, or as
    /// many bytes. False if the other side had gone before the first byte.
    fn recv_exact(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        if self.is_message() {
            let n = self.recv(buf)?;
            if n == 0 {
                return Ok(false);
            }
            if n != buf.len() {
                return Err(unexpected(format!(
                    "a message of {n} bytes, expected {}",
                    buf.len()
                )));
            }
            return Ok(true);
        }
        let mut got = 0;
        while got < buf.len() {
            match self.recv(&mut buf[got..])? {
                0 if got == 0 => return Ok(false),
                0 => return Err(unexpected("the stream ended mid-message".into())),
                n => got += n,
            }
        }
        Ok(true)
    }
}

pub(crate) fn unexpected(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Anything with `Read` and `Write`: Unix streams, interprocess streams, npipe
/// named pipes. On an npipe message pipe in message read mode `read` returns
/// one message and `write` sends one, so `message` is set for those.
pub(crate) struct Stream<T> {
    pub inner: T,
    pub message: bool,
}

impl<T: Read + Write> Channel for Stream<T> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.inner.write_all(msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(0),
                other => return other,
            }
        }
    }

    fn is_message(&self) -> bool {
        self.message
    }
}

/// The two ends of one-way pipes a side holds: a read end, a write end, or
/// both (round trips use two pipes).
pub(crate) struct Pipes<R, W> {
    pub read: Option<R>,
    pub write: Option<W>,
}

impl<R: Read, W: Write> Channel for Pipes<R, W> {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.write
            .as_mut()
            .ok_or_else(|| unexpected("no write end".into()))?
            .write_all(msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self
            .read
            .as_mut()
            .ok_or_else(|| unexpected("no read end".into()))?;
        loop {
            match read.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn is_message(&self) -> bool {
        false
    }
}

/// A `SOCK_SEQPACKET` socket: one `send(2)` and one `recv(2)` per message.
pub(crate) struct Seqpacket(pub OwnedFd);

impl Channel for Seqpacket {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        let n = retry(|| rustix::net::send(&self.0, msg, SendFlags::NOSIGNAL))?;
        if n != msg.len() {
            return Err(unexpected(format!("sent {n} of {} bytes", msg.len())));
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (n, _) = retry(|| rustix::net::recv(&self.0, &mut *buf, RecvFlags::empty()))?;
        Ok(n)
    }

    fn is_message(&self) -> bool {
        true
    }
}

fn retry<T>(mut f: impl FnMut() -> rustix::io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

/// The header of a frame: the payload length, 4 bytes little-endian (as
/// npipe's message pipes frame them).
const HEADER_LEN: usize = 4;

/// Length-prefixed frames over a Unix stream socket: the fair, fast
/// baseline for npipe's message pipes. The writer sends header and payload
/// with one `writev`; the reader reads through a 64 KiB `BufReader`, so
/// many small frames cost one `read`.
pub(crate) struct Framed {
    // Writes go to the socket under the reader (`get_mut`): one fd, as a
    // hand-written framed protocol would have.
    reader: BufReader<UnixStream>,
}

impl Framed {
    pub fn new(stream: UnixStream) -> Framed {
        Framed {
            reader: BufReader::with_capacity(64 * 1024, stream),
        }
    }
}

impl Channel for Framed {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        write_frame(self.reader.get_mut(), msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_frame(&mut self.reader, buf)
    }

    fn is_message(&self) -> bool {
        true
    }
}

/// The same frames, read the naive way: one `read` for the header and one
/// for the payload of every message.
pub(crate) struct FramedNaive(pub UnixStream);

impl Channel for FramedNaive {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        write_frame(&mut self.0, msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_frame(&mut self.0, buf)
    }

    fn is_message(&self) -> bool {
        true
    }
}

/// The same frames read the way npipe's message pipes read them today
/// (`pipe/conn.rs`), written straight on the kernel: peek the header
/// (`MSG_PEEK`), ask how much is queued (`FIONREAD`), then one scattered
/// `recvmsg` of header and payload; `poll` when nothing is there. A
/// diagnostic baseline: it separates the cost of that read algorithm from
/// the cost of npipe's layers.
pub(crate) struct FramedPeek(pub UnixStream);

impl Channel for FramedPeek {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        write_frame(&mut self.0, msg)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use rustix::event::{poll, PollFd, PollFlags};
        let fd = self.0.as_fd();
        loop {
            let mut header = [0u8; HEADER_LEN];
            match rustix::net::recv(fd, &mut header, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
                Ok((0, _)) => return Ok(0),
                Ok((HEADER_LEN, _)) => {
                    let len = u32::from_le_bytes(header) as usize;
                    if len > buf.len() {
                        return Err(unexpected(format!("a frame of {len} bytes")));
                    }
                    let queued = rustix::io::ioctl_fionread(fd)? as usize;
                    // All there: take it without blocking; otherwise wait
                    // for the rest inside the same call (npipe assembles it
                    // in a buffer instead; either way one frame is consumed).
                    let flags = if queued >= HEADER_LEN + len {
                        RecvFlags::DONTWAIT
                    } else {
                        RecvFlags::WAITALL
                    };
                    let mut iov = [
                        IoSliceMut::new(&mut header),
                        IoSliceMut::new(&mut buf[..len]),
                    ];
                    let mut control = RecvAncillaryBuffer::default();
                    let got = retry(|| rustix::net::recvmsg(fd, &mut iov, &mut control, flags))?;
                    if got.bytes != HEADER_LEN + len {
                        return Err(unexpected(format!("a short frame: {}", got.bytes)));
                    }
                    return Ok(len);
                }
                Ok(_) | Err(rustix::io::Errno::AGAIN) => {
                    retry(|| poll(&mut [PollFd::new(&fd, PollFlags::IN)], None))?;
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn is_message(&self) -> bool {
        true
    }
}

/// Writes one frame with one `writev` (more only if the socket took part).
pub(crate) fn write_frame(w: &mut UnixStream, msg: &[u8]) -> io::Result<()> {
    let header = (msg.len() as u32).to_le_bytes();
    let total = HEADER_LEN + msg.len();
    let mut sent = 0;
    while sent < total {
        let n = if sent < HEADER_LEN {
            w.write_vectored(&[IoSlice::new(&header[sent..]), IoSlice::new(msg)])
        } else {
            w.write(&msg[sent - HEADER_LEN..])
        };
        match n {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads one frame's payload into `buf`; 0 at a clean end of the stream.
pub(crate) fn read_frame(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut header = [0u8; HEADER_LEN];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > buf.len() {
        return Err(unexpected(format!(
            "a frame of {len} bytes, buffer {}",
            buf.len()
        )));
    }
    r.read_exact(&mut buf[..len])?;
    Ok(len)
}

/// `ipc-channel`'s byte channels: one direction each.
pub(crate) struct Ipc {
    pub tx: Option<IpcBytesSender>,
    pub rx: Option<IpcBytesReceiver>,
}

impl Channel for Ipc {
    fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        self.tx
            .as_ref()
            .ok_or_else(|| unexpected("no sender".into()))?
            .send(msg)
    }

    fn recv(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        let rx = self
            .rx
            .as_ref()
            .ok_or_else(|| unexpected("no receiver".into()))?;
        // ipc-channel hands out a fresh Vec per message; that allocation is
        // part of its cost, copying it into `buf` would not be.
        match rx.recv() {
            Ok(bytes) => Ok(bytes.len()),
            Err(IpcError::Disconnected) => Ok(0),
            Err(IpcError::Io(e)) => Err(e),
            Err(e) => Err(unexpected(format!("ipc-channel: {e}"))),
        }
    }

    fn is_message(&self) -> bool {
        true
    }
}
