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
/// flags `u16` LE (bit 0 read, bit 1 write, others zero), token `u64` LE,
/// 8 reserved zero bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version; [`PROTOCOL_VERSION`] for this build.
    pub version: u16,
    /// What the client opened the pipe for.
    pub access: ClientAccess,
    /// An opaque value the client sends and the driver interprets, for
    /// example to pair this connection with its control socket.
    pub token: u64,
}

impl Hello {
    /// A hello of the current [`PROTOCOL_VERSION`].
    pub fn new(access: ClientAccess, token: u64) -> Self {
        Hello {
            version: PROTOCOL_VERSION,
            access,
            token,
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
        let mut out = [0; HELLO_LEN];
        out[0..4].copy_from_slice(&HELLO_MAGIC);
        out[4..6].copy_from_slice(&self.version.to_le_bytes());
        out[6..8].copy_from_slice(&flags.to_le_bytes());
        out[8..16].copy_from_slice(&self.token.to_le_bytes());
        out
    }

    /// Parses a hello.
    ///
    /// # Errors
    /// [`ProtoError::BadHandshake`] for a wrong magic, a version other than
    /// [`PROTOCOL_VERSION`], unknown flag bits or nonzero reserved bytes.
    pub fn decode(bytes: &[u8; HELLO_LEN]) -> Result<Hello, ProtoError> {
        let [m0, m1, m2, m3, v0, v1, f0, f1, t0, t1, t2, t3, t4, t5, t6, t7, reserved @ ..] =
            *bytes;
        if [m0, m1, m2, m3] != HELLO_MAGIC {
            return Err(ProtoError::BadHandshake("not an npipe client (bad magic)"));
        }
        let version = u16::from_le_bytes([v0, v1]);
        if version != PROTOCOL_VERSION {
            return Err(ProtoError::BadHandshake("unsupported protocol version"));
        }
        let flags = u16::from_le_bytes([f0, f1]);
        if flags & !(FLAG_READ | FLAG_WRITE) != 0 {
            return Err(ProtoError::BadHandshake("unknown flag bits"));
        }
        if reserved != [0; 8] {
            return Err(ProtoError::BadHandshake("reserved bytes are not zero"));
        }
        Ok(Hello {
            version,
            access: ClientAccess {
                read: flags & FLAG_READ != 0,
                write: flags & FLAG_WRITE != 0,
            },
            token: u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, t7]),
        })
    }
}

const CONTROL_DISCONNECT: u8 = 1;

/// A message on the control socket, one per `SOCK_SEQPACKET` datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// The server disconnected this client (`DisconnectNamedPipe`).
    Disconnect,
}

impl Control {
    /// The datagram's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Control::Disconnect => vec![CONTROL_DISCONNECT],
        }
    }

    /// Parses one datagram.
    ///
    /// # Errors
    /// [`ProtoError::BadControl`] for an empty datagram or extra bytes,
    /// [`ProtoError::UnknownControl`] for a code this side does not know.
    pub fn decode(datagram: &[u8]) -> Result<Control, ProtoError> {
        match datagram {
            [] => Err(ProtoError::BadControl("empty datagram")),
            [CONTROL_DISCONNECT] => Ok(Control::Disconnect),
            [CONTROL_DISCONNECT, ..] => Err(ProtoError::BadControl("extra bytes after the code")),
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
        assert_eq!(bad(6, 4), refused("unknown flag bits"));
        assert_eq!(bad(7, 0x80), refused("unknown flag bits"));
        for at in 16..HELLO_LEN {
            assert_eq!(bad(at, 1), refused("reserved bytes are not zero"));
        }
        assert_eq!(
            Hello::decode(&[0; HELLO_LEN]),
            refused("not an npipe client (bad magic)")
        );
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
    }
}
