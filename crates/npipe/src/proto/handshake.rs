//! The client's hello at the start of a connection, and the control
//! messages sent on the control socket.

use super::ProtoError;

/// Bytes in an encoded [`Hello`]. The server reads exactly this many bytes;
/// everything after them is user data.
pub const HELLO_LEN: usize = 24;

/// The first four bytes of every [`Hello`].
pub const HELLO_MAGIC: [u8; 4] = *b"NPIP";

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;

const FLAG_READ: u16 = 1 << 0;
const FLAG_WRITE: u16 = 1 << 1;
/// The client is a relay (`npiped`) connecting on behalf of a remote
/// client; a [`RemoteClaim`] of `remote_len` bytes follows the hello.
const FLAG_REMOTE: u16 = 1 << 2;

/// The largest [`RemoteClaim`] block, in bytes.
pub const MAX_REMOTE_CLAIM_LEN: usize = 2048;

/// The longest field of a [`RemoteClaim`], in bytes; longer ones are cut.
/// Three fit in [`MAX_REMOTE_CLAIM_LEN`] with their lengths.
pub const MAX_REMOTE_CLAIM_FIELD_LEN: usize = 600;

/// What the client opened the pipe for (`GENERIC_READ` / `GENERIC_WRITE` in
/// `dwDesiredAccess` of `CreateFile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientAccess {
    /// The client may read.
    pub read: bool,
    /// The client may write.
    pub write: bool,
}

/// The client's hello, sent once right after connecting.
///
/// Layout ([`HELLO_LEN`] bytes): magic [`HELLO_MAGIC`], version `u16` LE,
/// flags `u16` LE (bit 0 read, bit 1 write, bit 2 remote, others zero),
/// token `u64` LE, then 8 bytes: with the remote flag, the length of the
/// [`RemoteClaim`] that follows (`u16` LE, 1 to [`MAX_REMOTE_CLAIM_LEN`])
/// and 6 zero bytes; without it, 8 zero bytes.
///
/// The remote flag was added compatibly in version 1: a hello without it is
/// byte for byte what earlier builds send, and earlier servers refuse a
/// hello with it (unknown flag bit), which is right, since they cannot
/// check who the remote client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version; [`PROTOCOL_VERSION`] for this build.
    pub version: u16,
    /// What the client opened the pipe for.
    pub access: ClientAccess,
    /// An opaque value the client sends and the driver interprets, for
    /// example to pair this connection with its control socket.
    pub token: u64,
    /// Bytes of the [`RemoteClaim`] that follows; 0: none (a local client).
    pub remote_len: u16,
}

impl Hello {
    /// A hello of the current [`PROTOCOL_VERSION`].
    pub fn new(access: ClientAccess, token: u64) -> Self {
        Hello {
            version: PROTOCOL_VERSION,
            access,
            token,
            remote_len: 0,
        }
    }

    /// The hello's bytes on the wire.
    pub fn encode(&self) -> [u8; HELLO_LEN] {
        let mut flags = 0;
        if self.access.read {
            flags |= FLAG_READ;
        }
        if self.access.write {
            flags |= FLAG_WRITE;
        }
        if self.remote_len > 0 {
            flags |= FLAG_REMOTE;
        }
        let mut out = [0; HELLO_LEN];
        out[0..4].copy_from_slice(&HELLO_MAGIC);
        out[4..6].copy_from_slice(&self.version.to_le_bytes());
        out[6..8].copy_from_slice(&flags.to_le_bytes());
        out[8..16].copy_from_slice(&self.token.to_le_bytes());
        out[16..18].copy_from_slice(&self.remote_len.to_le_bytes());
        out
    }

    /// Parses a hello.
    ///
    /// # Errors
    /// [`ProtoError::BadHandshake`] for a wrong magic, a version other than
    /// [`PROTOCOL_VERSION`], unknown flag bits or nonzero reserved bytes.
    pub fn decode(bytes: &[u8; HELLO_LEN]) -> Result<Hello, ProtoError> {
        let [m0, m1, m2, m3, v0, v1, f0, f1, t0, t1, t2, t3, t4, t5, t6, t7, r0, r1, reserved @ ..] =
            *bytes;
        if [m0, m1, m2, m3] != HELLO_MAGIC {
            return Err(ProtoError::BadHandshake("not an npipe client (bad magic)"));
        }
        let version = u16::from_le_bytes([v0, v1]);
        if version != PROTOCOL_VERSION {
            return Err(ProtoError::BadHandshake("unsupported protocol version"));
        }
        let flags = u16::from_le_bytes([f0, f1]);
        if flags & !(FLAG_READ | FLAG_WRITE | FLAG_REMOTE) != 0 {
            return Err(ProtoError::BadHandshake("unknown flag bits"));
        }
        let remote_len = u16::from_le_bytes([r0, r1]);
        let remote = flags & FLAG_REMOTE != 0;
        if reserved != [0; 6] || (!remote && remote_len != 0) {
            return Err(ProtoError::BadHandshake("reserved bytes are not zero"));
        }
        if remote && !(1..=MAX_REMOTE_CLAIM_LEN).contains(&(remote_len as usize)) {
            return Err(ProtoError::BadHandshake("bad remote claim length"));
        }
        Ok(Hello {
            version,
            access: ClientAccess {
                read: flags & FLAG_READ != 0,
                write: flags & FLAG_WRITE != 0,
            },
            token: u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7]),
            remote_len,
        })
    }
}

/// Who a relay connects for: the block that follows a [`Hello`] with the
/// remote flag. The server believes it only from a trusted relay (see
/// `docs/REMOTE.md`, "Trusting the relay").
///
/// Layout: format `u8` (1), then three strings, each a `u16` LE byte count
/// and UTF-8: the authenticated principal, the client's computer name, its
/// network address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteClaim {
    /// Who the relay authenticated (a certificate's name, a token's name).
    pub principal: String,
    /// The computer name the client gave (GetNamedPipeClientComputerName).
    pub computer_name: String,
    /// The client's address as the relay saw it (`ip:port`).
    pub address: String,
}

const REMOTE_CLAIM_FORMAT: u8 = 1;

impl RemoteClaim {
    /// The block's bytes; fields are cut to [`MAX_REMOTE_CLAIM_FIELD_LEN`]
    /// to fit [`MAX_REMOTE_CLAIM_LEN`].
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![REMOTE_CLAIM_FORMAT];
        for field in [&self.principal, &self.computer_name, &self.address] {
            let mut end = field.len().min(MAX_REMOTE_CLAIM_FIELD_LEN);
            while !field.is_char_boundary(end) {
                end -= 1;
            }
            out.extend_from_slice(&(end as u16).to_le_bytes());
            out.extend_from_slice(&field.as_bytes()[..end]);
        }
        out
    }

    /// Parses the block.
    ///
    /// # Errors
    /// [`ProtoError::BadHandshake`] for an unknown format, a field that runs
    /// past the end, bad UTF-8, a NUL, or extra bytes.
    pub fn decode(bytes: &[u8]) -> Result<RemoteClaim, ProtoError> {
        let bad = ProtoError::BadHandshake("malformed remote claim");
        let (&format, mut rest) = bytes.split_first().ok_or(bad)?;
        if format != REMOTE_CLAIM_FORMAT {
            return Err(bad);
        }
        let mut field = || -> Result<String, ProtoError> {
            if rest.len() < 2 {
                return Err(bad);
            }
            let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            let body = rest.get(2..2 + len).ok_or(bad)?;
            rest = &rest[2 + len..];
            let s = std::str::from_utf8(body).map_err(|_| bad)?;
            if s.contains('\0') {
                return Err(bad);
            }
            Ok(s.to_owned())
        };
        let claim = RemoteClaim {
            principal: field()?,
            computer_name: field()?,
            address: field()?,
        };
        if !rest.is_empty() {
            return Err(ProtoError::BadHandshake("malformed remote claim"));
        }
        Ok(claim)
    }
}

const CONTROL_DISCONNECT: u8 = 1;
const CONTROL_DENIED: u8 = 2;
const CONTROL_FLUSH: u8 = 3;
const CONTROL_FLUSHED: u8 = 4;
const CONTROL_CLIENT_READ: u8 = 5;

/// A message on the control socket, one per `SOCK_SEQPACKET` datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The server disconnected this client (`DisconnectNamedPipe`).
    Disconnect,
    /// The server refused this client after connecting (its credentials,
    /// its access, or an untrusted remote claim): `ERROR_ACCESS_DENIED`.
    Denied,
    /// Server to relay: the relay has read everything the server wrote;
    /// answer with `Flushed` of this id once the *remote* client has read
    /// it too (`FlushFileBuffers` on the server of a remote client).
    Flush(u64),
    /// Relay to server: every flush up to this id is done.
    Flushed(u64),
    /// Relay to server: the remote client closed having read this many
    /// bytes of the server's stream in all (every flush of no more is
    /// done, even one asked after the relay is gone).
    ClientRead(u64),
}

impl Control {
    /// The datagram's bytes: a code, and for the flushes the id or count
    /// (`u64`, little-endian).
    pub fn encode(&self) -> Vec<u8> {
        let with_id = |code: u8, id: &u64| {
            let mut bytes = vec![code];
            bytes.extend_from_slice(&id.to_le_bytes());
            bytes
        };
        match self {
            Control::Disconnect => vec![CONTROL_DISCONNECT],
            Control::Denied => vec![CONTROL_DENIED],
            Control::Flush(id) => with_id(CONTROL_FLUSH, id),
            Control::Flushed(id) => with_id(CONTROL_FLUSHED, id),
            Control::ClientRead(bytes) => with_id(CONTROL_CLIENT_READ, bytes),
        }
    }

    /// Parses one datagram.
    ///
    /// # Errors
    /// [`ProtoError::BadControl`] for an empty datagram or one of the wrong
    /// length for its code, [`ProtoError::UnknownControl`] for a code this
    /// side does not know.
    pub fn decode(datagram: &[u8]) -> Result<Control, ProtoError> {
        let id = |rest: &[u8]| -> Result<u64, ProtoError> {
            let bytes: [u8; 8] = rest
                .try_into()
                .map_err(|_| ProtoError::BadControl("a flush id is 8 bytes"))?;
            Ok(u64::from_le_bytes(bytes))
        };
        match datagram {
            [] => Err(ProtoError::BadControl("empty datagram")),
            [CONTROL_DISCONNECT] => Ok(Control::Disconnect),
            [CONTROL_DENIED] => Ok(Control::Denied),
            [CONTROL_DISCONNECT | CONTROL_DENIED, ..] => {
                Err(ProtoError::BadControl("extra bytes after the code"))
            }
            [CONTROL_FLUSH, rest @ ..] => Ok(Control::Flush(id(rest)?)),
            [CONTROL_FLUSHED, rest @ ..] => Ok(Control::Flushed(id(rest)?)),
            [CONTROL_CLIENT_READ, rest @ ..] => Ok(Control::ClientRead(id(rest)?)),
            [code, ..] => Err(ProtoError::UnknownControl(*code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Hello {
        Hello::new(
            ClientAccess {
                read: true,
                write: false,
            },
            0x0102_0304_0506_0708,
        )
    }

    #[test]
    fn hello_layout_is_as_documented() {
        let bytes = sample().encode();
        assert_eq!(&bytes[0..4], b"NPIP");
        assert_eq!(&bytes[4..6], &[1, 0]);
        assert_eq!(&bytes[6..8], &[1, 0]);
        assert_eq!(&bytes[8..16], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[16..], &[0; 8]);
    }

    #[test]
    fn hello_round_trips_every_access() {
        for (read, write) in [(false, false), (true, false), (false, true), (true, true)] {
            for token in [0, 1, u64::MAX] {
                let hello = Hello::new(ClientAccess { read, write }, token);
                assert_eq!(Hello::decode(&hello.encode()), Ok(hello));
            }
        }
    }

    #[test]
    fn hello_rejections() {
        let good = sample().encode();
        let bad = |at: usize, value: u8| {
            let mut b = good;
            b[at] = value;
            Hello::decode(&b)
        };
        let refused = |why| Err(ProtoError::BadHandshake(why));
        assert_eq!(bad(0, b'X'), refused("not an npipe client (bad magic)"));
        assert_eq!(bad(3, b'E'), refused("not an npipe client (bad magic)"));
        assert_eq!(bad(4, 2), refused("unsupported protocol version"));
        assert_eq!(bad(5, 1), refused("unsupported protocol version"));
        assert_eq!(bad(4, 0), refused("unsupported protocol version"));
        assert_eq!(bad(6, 8), refused("unknown flag bits"));
        assert_eq!(bad(6, 5), refused("bad remote claim length"));
        assert_eq!(bad(7, 0x80), refused("unknown flag bits"));
        for at in 16..HELLO_LEN {
            assert_eq!(bad(at, 1), refused("reserved bytes are not zero"));
        }
        let mut remote = sample();
        remote.remote_len = 40;
        let mut b = remote.encode();
        assert_eq!(Hello::decode(&b), Ok(remote));
        b[19] = 1;
        assert_eq!(Hello::decode(&b), refused("reserved bytes are not zero"));
        assert_eq!(
            Hello::decode(&[0; HELLO_LEN]),
            refused("not an npipe client (bad magic)")
        );
    }

    #[test]
    fn remote_claims_round_trip_and_refuse_garbage() {
        let claim = RemoteClaim {
            principal: "alice".into(),
            computer_name: "build-01".into(),
            address: "10.0.0.2:50000".into(),
        };
        let bytes = claim.encode();
        assert_eq!(RemoteClaim::decode(&bytes), Ok(claim));
        for cut in 0..bytes.len() {
            assert!(RemoteClaim::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(RemoteClaim::decode(&extra).is_err());
        let mut format = bytes;
        format[0] = 2;
        assert!(RemoteClaim::decode(&format).is_err());
    }

    #[test]
    fn control_round_trip_and_rejections() {
        assert_eq!(Control::Disconnect.encode(), [1]);
        assert_eq!(
            Control::decode(&Control::Disconnect.encode()),
            Ok(Control::Disconnect)
        );
        assert_eq!(
            Control::decode(&[]),
            Err(ProtoError::BadControl("empty datagram"))
        );
        assert_eq!(Control::decode(&[0]), Err(ProtoError::UnknownControl(0)));
        assert_eq!(
            Control::decode(&[200, 1]),
            Err(ProtoError::UnknownControl(200))
        );
        assert!(matches!(
            Control::decode(&[1, 0]),
            Err(ProtoError::BadControl(_))
        ));
        for control in [
            Control::Flush(0),
            Control::Flushed(u64::MAX - 1),
            Control::ClientRead(1 << 40),
        ] {
            let bytes = control.encode();
            assert_eq!(bytes.len(), 9);
            assert_eq!(Control::decode(&bytes), Ok(control));
            assert!(Control::decode(&bytes[..8]).is_err());
            let mut long = bytes.clone();
            long.push(0);
            assert!(Control::decode(&long).is_err());
        }
        assert_eq!(Control::Flush(0x0102).encode(), [3, 2, 1, 0, 0, 0, 0, 0, 0]);
    }
}
