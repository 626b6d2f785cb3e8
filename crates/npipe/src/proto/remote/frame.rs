//! The frames of the network protocol: their types, their payloads, and a
//! decoder that turns a byte stream into frames within a size limit.
//!
//! Every frame is a 5-byte header — the frame type (`u8`), then the payload
//! length (`u32`, little endian) — and the payload. All integers are little
//! endian; a string is a `u16` byte count and that many bytes of UTF-8.
//! `docs/PROTOCOL.md` has the same tables.

use super::RemoteError;

/// Bytes in a frame header: type (1) and payload length (4).
pub const FRAME_HEADER_LEN: usize = 5;

/// The first four bytes of a [`ClientHello`].
pub const REMOTE_MAGIC: [u8; 4] = *b"NPRM";

/// The version of the network protocol this build speaks.
pub const REMOTE_VERSION: u16 = 1;

/// The largest payload either side may announce as its limit (16 MiB).
pub const MAX_FRAME_LIMIT: u32 = 16 << 20;

/// The smallest payload limit either side may announce (4 KiB).
pub const MIN_FRAME_LIMIT: u32 = 4 << 10;

/// The payload limit before the hellos have been exchanged (64 KiB).
pub const HANDSHAKE_FRAME_LIMIT: usize = 64 << 10;

/// Longest token, in bytes.
pub const MAX_TOKEN_LEN: usize = 1024;
/// Longest computer name, in bytes.
pub const MAX_COMPUTER_NAME_LEN: usize = 255;
/// Longest pipe path (the part after `\pipe\`), in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// Longest error message, in bytes.
pub const MAX_MESSAGE_TEXT_LEN: usize = 1024;

/// The type byte of each frame. Unknown types are a protocol error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum FrameType {
    /// Client → server, first frame: magic, version, limits, credentials.
    ClientHello = 1,
    /// Server → client: the client is authenticated; the server's limits.
    ServerHello = 2,
    /// Client → server: open a pipe (CreateFile), maybe waiting for a free instance.
    Open = 3,
    /// Server → client: the pipe is open; its properties.
    Opened = 4,
    /// Client → server: wait for a free instance (WaitNamedPipe).
    Wait = 5,
    /// Server → client: the wait succeeded.
    WaitDone = 6,
    /// Server → client: a request failed, or the connection ends with an error.
    Error = 7,
    /// Either way: bytes of the pipe's stream.
    Data = 8,
    /// Either way: the receiver may send this many more `Data` bytes.
    Credit = 9,
    /// Either way: the sender's side of the stream ended (half-close).
    Eof = 10,
    /// Either way: the sender closed its handle; nothing follows.
    Close = 11,
    /// Server → client: the server disconnected this client (DisconnectNamedPipe).
    Disconnected = 12,
    /// Client → server: answer once the server has read everything sent before.
    Flush = 13,
    /// Server → client: answer to `Flush`.
    Flushed = 14,
    /// Client → server: send everything the server wrote, then answer.
    Sync = 15,
    /// Server → client: answer to `Sync`, after the data.
    Synced = 16,
    /// Client → server: how many instances exist now?
    Info = 17,
    /// Server → client: answer to `Info`.
    InfoReply = 18,
    /// Either way: are you there?
    Ping = 19,
    /// Either way: answer to `Ping`.
    Pong = 20,
    /// Client → server, just before `Close`: the handle closed having read
    /// everything it received, this many bytes of the server's stream in
    /// all (so a flush the pipe server makes after the close can tell
    /// whether its data was read).
    AllRead = 21,
}

impl FrameType {
    fn from_u8(byte: u8) -> Option<FrameType> {
        use FrameType::*;
        Some(match byte {
            1 => ClientHello,
            2 => ServerHello,
            3 => Open,
            4 => Opened,
            5 => Wait,
            6 => WaitDone,
            7 => Error,
            8 => Data,
            9 => Credit,
            10 => Eof,
            11 => Close,
            12 => Disconnected,
            13 => Flush,
            14 => Flushed,
            15 => Sync,
            16 => Synced,
            17 => Info,
            18 => InfoReply,
            19 => Ping,
            20 => Pong,
            21 => AllRead,
            _ => return None,
        })
    }
}

/// The client's first frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The protocol version the client speaks.
    pub version: u16,
    /// The largest payload the client accepts.
    pub max_frame: u32,
    /// `Data` bytes the server may send before the client grants more.
    pub window: u32,
    /// The shared token, or empty.
    pub token: String,
    /// The client's computer name, as it calls itself.
    pub computer_name: String,
}

/// The server's answer to a good [`ClientHello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello {
    /// The protocol version both sides use.
    pub version: u16,
    /// The largest payload the server accepts.
    pub max_frame: u32,
    /// `Data` bytes the client may send before the server grants more.
    pub window: u32,
    /// The server closes a connection that sends nothing for this long;
    /// the client pings well within it.
    pub idle_timeout_ms: u32,
}

/// How long to wait for a free instance (`nTimeOut` of WaitNamedPipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireWait {
    /// Do not wait.
    No,
    /// The pipe's default time-out (`NMPWAIT_USE_DEFAULT_WAIT`).
    Default,
    /// No limit (`NMPWAIT_WAIT_FOREVER`); the server may cap it.
    Forever,
    /// At most this many milliseconds.
    Millis(u32),
}

/// A request to open a pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// Open for reading (`GENERIC_READ`).
    pub read: bool,
    /// Open for writing (`GENERIC_WRITE`).
    pub write: bool,
    /// Whether and how long to wait when every instance is busy.
    pub wait: WireWait,
    /// The pipe's path: the part of `\\host\pipe\PATH` after `\pipe\`.
    pub path: String,
}

/// The properties of an opened pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedPipe {
    /// Whether the pipe is message-type.
    pub message: bool,
    /// Access of the pipe, seen from the server: bit 0 the server reads
    /// (inbound), bit 1 the server writes (outbound).
    pub access: u8,
    /// The instance limit (255: unlimited).
    pub max_instances: u32,
    /// The server's incoming buffer size.
    pub in_buffer: u32,
    /// The server's outgoing buffer size.
    pub out_buffer: u32,
    /// The pipe's default wait time-out in milliseconds.
    pub default_timeout_ms: u32,
    /// Instances that existed when the pipe was opened.
    pub instances: u32,
    /// The server's process id on its host.
    pub server_pid: u32,
    /// The server's uid on its host.
    pub server_uid: u32,
}

/// One frame, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// See [`FrameType::ClientHello`].
    ClientHello(ClientHello),
    /// See [`FrameType::ServerHello`].
    ServerHello(ServerHello),
    /// See [`FrameType::Open`].
    Open(OpenRequest),
    /// See [`FrameType::Opened`].
    Opened(OpenedPipe),
    /// See [`FrameType::Wait`].
    Wait {
        /// How long.
        wait: WireWait,
        /// The pipe's path.
        path: String,
    },
    /// See [`FrameType::WaitDone`].
    WaitDone,
    /// See [`FrameType::Error`]: a Win32 error code and a message.
    Error {
        /// The `ERROR_*` number.
        code: u32,
        /// What happened, for people.
        message: String,
    },
    /// See [`FrameType::Data`].
    Data(Vec<u8>),
    /// See [`FrameType::Credit`].
    Credit(u32),
    /// See [`FrameType::Eof`].
    Eof,
    /// See [`FrameType::Close`].
    Close,
    /// See [`FrameType::Disconnected`].
    Disconnected,
    /// See [`FrameType::Flush`].
    Flush(u32),
    /// See [`FrameType::Flushed`]: the request id and 0 or a Win32 code.
    Flushed {
        /// The request's id.
        id: u32,
        /// 0, or the Win32 code of the failure.
        status: u32,
    },
    /// See [`FrameType::Sync`].
    Sync(u32),
    /// See [`FrameType::Synced`].
    Synced(u32),
    /// See [`FrameType::Info`].
    Info(u32),
    /// See [`FrameType::InfoReply`].
    InfoReply {
        /// The request's id.
        id: u32,
        /// Instances of the pipe that exist now.
        instances: u32,
    },
    /// See [`FrameType::Ping`].
    Ping,
    /// See [`FrameType::Pong`].
    Pong,
    /// See [`FrameType::AllRead`].
    AllRead(u64),
}

impl Frame {
    /// The frame's type byte.
    pub fn frame_type(&self) -> FrameType {
        match self {
            Frame::ClientHello(_) => FrameType::ClientHello,
            Frame::ServerHello(_) => FrameType::ServerHello,
            Frame::Open(_) => FrameType::Open,
            Frame::Opened(_) => FrameType::Opened,
            Frame::Wait { .. } => FrameType::Wait,
            Frame::WaitDone => FrameType::WaitDone,
            Frame::Error { .. } => FrameType::Error,
            Frame::Data(_) => FrameType::Data,
            Frame::Credit(_) => FrameType::Credit,
            Frame::Eof => FrameType::Eof,
            Frame::Close => FrameType::Close,
            Frame::Disconnected => FrameType::Disconnected,
            Frame::Flush(_) => FrameType::Flush,
            Frame::Flushed { .. } => FrameType::Flushed,
            Frame::Sync(_) => FrameType::Sync,
            Frame::Synced(_) => FrameType::Synced,
            Frame::Info(_) => FrameType::Info,
            Frame::InfoReply { .. } => FrameType::InfoReply,
            Frame::Ping => FrameType::Ping,
            Frame::Pong => FrameType::Pong,
            Frame::AllRead(_) => FrameType::AllRead,
        }
    }

    /// Appends the frame, header and payload, to `out`. Strings longer
    /// than their limit are cut at a character boundary (they are names and
    /// messages chosen by this side).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.frame_type() as u8);
        out.extend_from_slice(&[0; 4]);
        let mut w = Writer(out);
        match self {
            Frame::ClientHello(h) => {
                w.bytes(&REMOTE_MAGIC);
                w.u16(h.version);
                w.u16(0);
                w.u32(h.max_frame);
                w.u32(h.window);
                w.str(&h.token, MAX_TOKEN_LEN);
                w.str(&h.computer_name, MAX_COMPUTER_NAME_LEN);
            }
            Frame::ServerHello(h) => {
                w.u16(h.version);
                w.u16(0);
                w.u32(h.max_frame);
                w.u32(h.window);
                w.u32(h.idle_timeout_ms);
            }
            Frame::Open(o) => {
                w.u8(u8::from(o.read) | (u8::from(o.write) << 1));
                w.wait(o.wait);
                w.str(&o.path, MAX_PATH_LEN);
            }
            Frame::Opened(p) => {
                w.u8(u8::from(p.message));
                w.u8(p.access);
                for v in [
                    p.max_instances,
                    p.in_buffer,
                    p.out_buffer,
                    p.default_timeout_ms,
                    p.instances,
                    p.server_pid,
                    p.server_uid,
                ] {
                    w.u32(v);
                }
            }
            Frame::Wait { wait, path } => {
                w.wait(*wait);
                w.str(path, MAX_PATH_LEN);
            }
            Frame::Error { code, message } => {
                w.u32(*code);
                w.str(message, MAX_MESSAGE_TEXT_LEN);
            }
            Frame::Data(bytes) => w.bytes(bytes),
            Frame::Credit(n) => w.u32(*n),
            Frame::Flush(id) | Frame::Sync(id) | Frame::Synced(id) | Frame::Info(id) => w.u32(*id),
            Frame::Flushed { id, status } => {
                w.u32(*id);
                w.u32(*status);
            }
            Frame::InfoReply { id, instances } => {
                w.u32(*id);
                w.u32(*instances);
            }
            Frame::AllRead(bytes) => w.u64(*bytes),
            Frame::WaitDone
            | Frame::Eof
            | Frame::Close
            | Frame::Disconnected
            | Frame::Ping
            | Frame::Pong => {}
        }
        let len = (out.len() - start - FRAME_HEADER_LEN) as u32;
        out[start + 1..start + FRAME_HEADER_LEN].copy_from_slice(&len.to_le_bytes());
    }

    /// Parses one frame's payload. Every field is checked; extra bytes
    /// after the last field are an error.
    ///
    /// # Errors
    /// [`RemoteError::UnknownFrame`] or [`RemoteError::Malformed`].
    pub fn decode(type_byte: u8, payload: &[u8]) -> Result<Frame, RemoteError> {
        let ty = FrameType::from_u8(type_byte).ok_or(RemoteError::UnknownFrame(type_byte))?;
        let mut r = Reader { ty, bytes: payload };
        let frame = match ty {
            FrameType::ClientHello => {
                if r.take(4)? != REMOTE_MAGIC {
                    return Err(RemoteError::BadMagic);
                }
                let version = r.u16()?;
                if r.u16()? != 0 {
                    return Err(r.malformed("reserved flags are not zero"));
                }
                Frame::ClientHello(ClientHello {
                    version,
                    max_frame: r.u32()?,
                    window: r.u32()?,
                    token: r.str(MAX_TOKEN_LEN)?,
                    computer_name: r.str(MAX_COMPUTER_NAME_LEN)?,
                })
            }
            FrameType::ServerHello => {
                let version = r.u16()?;
                if r.u16()? != 0 {
                    return Err(r.malformed("reserved flags are not zero"));
                }
                Frame::ServerHello(ServerHello {
                    version,
                    max_frame: r.u32()?,
                    window: r.u32()?,
                    idle_timeout_ms: r.u32()?,
                })
            }
            FrameType::Open => {
                let access = r.u8()?;
                if access & !3 != 0 || access == 0 {
                    return Err(r.malformed("access must be read, write or both"));
                }
                Frame::Open(OpenRequest {
                    read: access & 1 != 0,
                    write: access & 2 != 0,
                    wait: r.wait()?,
                    path: r.path()?,
                })
            }
            FrameType::Opened => {
                let message = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(r.malformed("pipe type must be 0 or 1")),
                };
                let access = r.u8()?;
                if !(1..=3).contains(&access) {
                    return Err(r.malformed("access must be 1, 2 or 3"));
                }
                Frame::Opened(OpenedPipe {
                    message,
                    access,
                    max_instances: r.u32()?,
                    in_buffer: r.u32()?,
                    out_buffer: r.u32()?,
                    default_timeout_ms: r.u32()?,
                    instances: r.u32()?,
                    server_pid: r.u32()?,
                    server_uid: r.u32()?,
                })
            }
            FrameType::Wait => Frame::Wait {
                wait: r.wait()?,
                path: r.path()?,
            },
            FrameType::WaitDone => Frame::WaitDone,
            FrameType::Error => Frame::Error {
                code: r.u32()?,
                message: r.str(MAX_MESSAGE_TEXT_LEN)?,
            },
            FrameType::Data => {
                if payload.is_empty() {
                    return Err(r.malformed("empty data frame"));
                }
                Frame::Data(r.take(payload.len())?.to_vec())
            }
            FrameType::Credit => Frame::Credit(r.u32()?),
            FrameType::Eof => Frame::Eof,
            FrameType::Close => Frame::Close,
            FrameType::Disconnected => Frame::Disconnected,
            FrameType::Flush => Frame::Flush(r.u32()?),
            FrameType::Flushed => Frame::Flushed {
                id: r.u32()?,
                status: r.u32()?,
            },
            FrameType::Sync => Frame::Sync(r.u32()?),
            FrameType::Synced => Frame::Synced(r.u32()?),
            FrameType::Info => Frame::Info(r.u32()?),
            FrameType::InfoReply => Frame::InfoReply {
                id: r.u32()?,
                instances: r.u32()?,
            },
            FrameType::Ping => Frame::Ping,
            FrameType::Pong => Frame::Pong,
            FrameType::AllRead => Frame::AllRead(r.u64()?),
        };
        if !r.bytes.is_empty() {
            return Err(r.malformed("extra bytes after the last field"));
        }
        Ok(frame)
    }
}

/// Cuts a byte stream into frames. Holds at most one frame header plus
/// `max_payload` bytes of payload plus what the caller pushed at once: a
/// header announcing more than `max_payload` is refused before its payload
/// is buffered.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Start of the undecoded bytes in `buf`.
    at: usize,
    max_payload: usize,
}

impl FrameDecoder {
    /// A decoder that refuses payloads larger than `max_payload`.
    pub fn new(max_payload: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            at: 0,
            max_payload,
        }
    }

    /// Changes the payload limit (after the hellos agreed on one).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.at > 0 && self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.at
    }

    /// The next whole frame, if one has arrived.
    ///
    /// # Errors
    /// [`RemoteError::FrameTooLarge`] as soon as a header announces more
    /// than the limit; any error of [`Frame::decode`]. The stream is dead
    /// after an error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, RemoteError> {
        let rest = &self.buf[self.at..];
        if rest.len() < FRAME_HEADER_LEN {
            self.compact();
            return Ok(None);
        }
        let len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        if len > self.max_payload {
            return Err(RemoteError::FrameTooLarge {
                len,
                max: self.max_payload,
            });
        }
        if rest.len() < FRAME_HEADER_LEN + len {
            self.compact();
            return Ok(None);
        }
        let frame = Frame::decode(rest[0], &rest[FRAME_HEADER_LEN..FRAME_HEADER_LEN + len])?;
        self.at += FRAME_HEADER_LEN + len;
        Ok(Some(frame))
    }

    /// Drops decoded bytes from the front once they are most of the buffer.
    fn compact(&mut self) {
        if self.at > 0 && self.at * 2 >= self.buf.len() {
            self.buf.drain(..self.at);
            self.at = 0;
        }
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str, max: usize) {
        let mut end = s.len().min(max);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.u16(end as u16);
        self.bytes(&s.as_bytes()[..end]);
    }
    fn wait(&mut self, wait: WireWait) {
        let (kind, ms) = match wait {
            WireWait::No => (0, 0),
            WireWait::Default => (1, 0),
            WireWait::Forever => (2, 0),
            WireWait::Millis(ms) => (3, ms),
        };
        self.u8(kind);
        self.u32(ms);
    }
}

struct Reader<'a> {
    ty: FrameType,
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn malformed(&self, reason: &'static str) -> RemoteError {
        RemoteError::Malformed {
            frame: self.ty,
            reason,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], RemoteError> {
        if self.bytes.len() < n {
            return Err(self.malformed("the payload ends inside a field"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, RemoteError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, RemoteError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, RemoteError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, RemoteError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("took 8 bytes")))
    }
    fn str(&mut self, max: usize) -> Result<String, RemoteError> {
        let len = self.u16()? as usize;
        if len > max {
            return Err(self.malformed("a string is longer than its limit"));
        }
        let bytes = self.take(len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| self.malformed("a string is not UTF-8"))?;
        if s.contains('\0') {
            return Err(self.malformed("a string contains NUL"));
        }
        Ok(s.to_owned())
    }
    fn path(&mut self) -> Result<String, RemoteError> {
        let path = self.str(MAX_PATH_LEN)?;
        if path.is_empty() {
            return Err(self.malformed("the pipe path is empty"));
        }
        Ok(path)
    }
    fn wait(&mut self) -> Result<WireWait, RemoteError> {
        let kind = self.u8()?;
        let ms = self.u32()?;
        match (kind, ms) {
            (0, 0) => Ok(WireWait::No),
            (1, 0) => Ok(WireWait::Default),
            (2, 0) => Ok(WireWait::Forever),
            (3, ms) => Ok(WireWait::Millis(ms)),
            _ => Err(self.malformed("bad wait kind")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn samples() -> Vec<Frame> {
        vec![
            Frame::ClientHello(ClientHello {
                version: 1,
                max_frame: 65536,
                window: 1 << 20,
                token: "sesame".into(),
                computer_name: "build-01".into(),
            }),
            Frame::ServerHello(ServerHello {
                version: 1,
                max_frame: 1 << 20,
                window: 1 << 20,
                idle_timeout_ms: 60_000,
            }),
            Frame::Open(OpenRequest {
                read: true,
                write: false,
                wait: WireWait::Millis(250),
                path: r"a\b ž".into(),
            }),
            Frame::Opened(OpenedPipe {
                message: true,
                access: 3,
                max_instances: 255,
                in_buffer: 1,
                out_buffer: 2,
                default_timeout_ms: 50,
                instances: 4,
                server_pid: 77,
                server_uid: 1000,
            }),
            Frame::Wait {
                wait: WireWait::Default,
                path: "x".into(),
            },
            Frame::WaitDone,
            Frame::Error {
                code: 231,
                message: "busy".into(),
            },
            Frame::Data(vec![1, 2, 3]),
            Frame::Credit(4096),
            Frame::Eof,
            Frame::Close,
            Frame::Disconnected,
            Frame::Flush(1),
            Frame::Flushed { id: 1, status: 0 },
            Frame::Sync(2),
            Frame::Synced(2),
            Frame::Info(3),
            Frame::InfoReply {
                id: 3,
                instances: 2,
            },
            Frame::Ping,
            Frame::Pong,
            Frame::AllRead(0x0102_0304_0506_0708),
        ]
    }

    #[test]
    fn every_frame_round_trips_split_at_every_byte() {
        let mut wire = Vec::new();
        for f in samples() {
            f.encode(&mut wire);
        }
        for cut in 0..=wire.len() {
            let mut d = FrameDecoder::new(1 << 20);
            let mut got = Vec::new();
            for piece in [&wire[..cut], &wire[cut..]] {
                d.push(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, samples(), "cut at {cut}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn header_layout_is_type_then_le_length() {
        let mut out = Vec::new();
        Frame::Credit(0x0102_0304).encode(&mut out);
        assert_eq!(out, [9, 4, 0, 0, 0, 4, 3, 2, 1]);
        let mut out = Vec::new();
        Frame::Ping.encode(&mut out);
        assert_eq!(out, [19, 0, 0, 0, 0]);
    }

    #[test]
    fn oversized_header_is_refused_before_its_payload() {
        let mut d = FrameDecoder::new(16);
        d.push(&[8, 17, 0, 0, 0]);
        assert_eq!(
            d.next_frame(),
            Err(RemoteError::FrameTooLarge { len: 17, max: 16 })
        );
        let mut d = FrameDecoder::new(16);
        d.push(&[8, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            d.next_frame(),
            Err(RemoteError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn malformed_frames_are_refused_by_hand_written_bytes() {
        let bad = |ty: u8, payload: &[u8]| Frame::decode(ty, payload);
        assert_eq!(bad(0, &[]), Err(RemoteError::UnknownFrame(0)));
        assert_eq!(bad(200, &[]), Err(RemoteError::UnknownFrame(200)));
        assert_eq!(bad(1, b"XXXX"), Err(RemoteError::BadMagic));
        assert!(matches!(bad(8, &[]), Err(RemoteError::Malformed { .. })));
        assert!(matches!(
            bad(9, &[1, 2, 3]),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(9, &[1, 2, 3, 4, 5]),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(bad(19, &[0]), Err(RemoteError::Malformed { .. })));
        // Open: no access bits, unknown bits, bad wait kind, empty path,
        // a string longer than its bytes, bad UTF-8.
        assert!(matches!(
            bad(3, &[0, 0, 0, 0, 0, 0, 1, 0, b'x']),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[4, 0, 0, 0, 0, 0, 1, 0, b'x']),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[1, 9, 0, 0, 0, 0, 1, 0, b'x']),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[1, 0, 0, 0, 0, 0, 0, 0]),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[1, 0, 0, 0, 0, 0, 5, 0, b'x']),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[1, 0, 0, 0, 0, 0, 1, 0, 0xff]),
            Err(RemoteError::Malformed { .. })
        ));
        assert!(matches!(
            bad(3, &[1, 0, 0, 0, 0, 0, 1, 0, 0]),
            Err(RemoteError::Malformed { .. })
        ));
        assert_eq!(
            bad(3, &[3, 0, 0, 0, 0, 0, 1, 0, b'x']),
            Ok(Frame::Open(OpenRequest {
                read: true,
                write: true,
                wait: WireWait::No,
                path: "x".into()
            }))
        );
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let mut out = Vec::new();
        Frame::Error {
            code: 5,
            message: "ž".repeat(1000),
        }
        .encode(&mut out);
        let f = Frame::decode(out[0], &out[FRAME_HEADER_LEN..]).unwrap();
        let Frame::Error { message, .. } = f else {
            panic!("{f:?}")
        };
        assert_eq!(message, "ž".repeat(MAX_MESSAGE_TEXT_LEN / 2));
    }
}
