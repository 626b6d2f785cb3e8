//! Mailslot datagrams: the wire format of mailslot messages that cross the
//! network, the local record tag, the receiver's verdict on a datagram, and
//! the multicast group of a host or domain name.
//!
//! Pure functions over byte slices: no socket, no clock. The blocking
//! mailslot driver (`crate::mailslot`) sends what [`encode`] writes and
//! hands every datagram it receives to [`Policy::judge`].
//!
//! # Wire format (version 1)
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `NPMS` ([`MAGIC`]) |
//! | 1 | version, 1 ([`VERSION`]) |
//! | 1 | flags: bit 0 = signed ([`FLAG_SIGNED`]); every other bit must be 0 |
//! | 1 | target kind: 0 address, 1 name (host or domain), 2 domain |
//! | 1 | target length `T`: 0 for an address, 1 to 255 otherwise |
//! | `T` | target: the case-folded host or domain name, UTF-8 |
//! | 2 | name length `N`, big-endian, 1 to [`MAX_NAME_BYTES`] |
//! | `N` | the case-folded mailslot path (the part after `\mailslot\`), UTF-8 |
//! | 2 | payload length `P`, big-endian, 0 to [`MAX_NETWORK_PAYLOAD`] |
//! | `P` | the message |
//! | 32 | if signed: HMAC-SHA256 under the shared key of every byte before it |
//!
//! Nothing may follow. [`decode`] checks every field, so a datagram either
//! decodes into exactly these parts or is refused; re-encoding a decoded
//! datagram gives back the same bytes.
//!
//! # Local records
//!
//! Writers on the same machine send each message as one `SOCK_SEQPACKET`
//! record: the byte [`LOCAL_TAG`] followed by the message. The tag keeps a
//! zero-length message from looking like end-of-stream (a 0-byte read).

use std::net::Ipv4Addr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The first four bytes of every mailslot datagram.
pub const MAGIC: [u8; 4] = *b"NPMS";
/// The wire format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Flag bit: an HMAC-SHA256 follows the payload.
pub const FLAG_SIGNED: u8 = 0x01;
/// The largest message that crosses the network, in bytes: Windows' limit
/// for mailslot messages sent to a domain or to `*`.
pub const MAX_NETWORK_PAYLOAD: usize = 424;
/// The longest target (host or domain name) in bytes.
pub const MAX_TARGET_BYTES: usize = 255;
/// The longest mailslot path in bytes (256 characters of up to 4 bytes).
pub const MAX_NAME_BYTES: usize = 1024;
/// Bytes of the MAC of a signed datagram.
pub const MAC_LEN: usize = 32;
/// The largest datagram [`encode`] writes.
pub const MAX_DATAGRAM_LEN: usize =
    8 + MAX_TARGET_BYTES + 2 + MAX_NAME_BYTES + 2 + MAX_NETWORK_PAYLOAD + MAC_LEN;
/// The first byte of every local mailslot record.
pub const LOCAL_TAG: u8 = b'M';

/// Where a datagram is meant to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Sent to one IP address (`\\10.0.0.2\mailslot\x`): whichever host
    /// receives it is the one meant.
    Address,
    /// `\\NAME\mailslot\x`: the computer called `NAME`, or every computer
    /// of the domain `NAME`. Case-folded.
    Name(&'a str),
    /// `\\*\mailslot\x`: every computer of the sender's domain. Case-folded.
    Domain(&'a str),
}

/// A datagram taken apart by [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// Where it is meant to go.
    pub target: Target<'a>,
    /// The case-folded mailslot path.
    pub name: &'a str,
    /// The message.
    pub payload: &'a [u8],
    /// The MAC, if the datagram is signed.
    pub mac: Option<&'a [u8]>,
    /// The bytes the MAC covers (everything before it).
    signed_part: &'a [u8],
}

/// Why a datagram is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// It ends before a field does.
    #[error("the datagram is truncated")]
    Truncated,
    /// It does not start with [`MAGIC`].
    #[error("bad magic")]
    BadMagic,
    /// Another version of the format.
    #[error("unknown version {0}")]
    BadVersion(u8),
    /// Flag bits this version does not define.
    #[error("unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// A target kind other than 0, 1 or 2.
    #[error("unknown target kind {0}")]
    BadTargetKind(u8),
    /// A length out of its field's range.
    #[error("a length field is out of range")]
    BadLength,
    /// A target or name that is not UTF-8, or not case-folded.
    #[error("a text field is not case-folded UTF-8")]
    BadText,
    /// Bytes after the end.
    #[error("bytes follow the datagram")]
    TrailingBytes,
    /// The payload is larger than [`MAX_NETWORK_PAYLOAD`] (encoding only;
    /// decoding says [`DatagramError::BadLength`]).
    #[error("a network message of {0} bytes is larger than the limit of 424 bytes")]
    PayloadTooLarge(usize),
    /// The key is empty.
    #[error("the key is empty")]
    EmptyKey,
}

/// Writes a datagram into `out` (cleared first), signed with `key` if one is
/// given. `target` and `name` must be case-folded (see `crate::name`).
///
/// # Errors
/// [`DatagramError::PayloadTooLarge`] above [`MAX_NETWORK_PAYLOAD`] bytes;
/// [`DatagramError::BadLength`] or [`DatagramError::BadText`] for a target or
/// name out of range or not folded; [`DatagramError::EmptyKey`].
pub fn encode(
    target: Target<'_>,
    name: &str,
    payload: &[u8],
    key: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), DatagramError> {
    if payload.len() > MAX_NETWORK_PAYLOAD {
        return Err(DatagramError::PayloadTooLarge(payload.len()));
    }
    let (kind, text) = match target {
        Target::Address => (0u8, ""),
        Target::Name(t) => (1, t),
        Target::Domain(t) => (2, t),
    };
    if kind != 0 && !(1..=MAX_TARGET_BYTES).contains(&text.len()) {
        return Err(DatagramError::BadLength);
    }
    if !(1..=MAX_NAME_BYTES).contains(&name.len()) {
        return Err(DatagramError::BadLength);
    }
    if !is_folded(text) || !is_folded(name) {
        return Err(DatagramError::BadText);
    }
    if key.is_some_and(<[u8]>::is_empty) {
        return Err(DatagramError::EmptyKey);
    }
    out.clear();
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(if key.is_some() { FLAG_SIGNED } else { 0 });
    out.push(kind);
    out.push(text.len() as u8);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    out.extend_from_slice(payload);
    if let Some(key) = key {
        let mac = mac_of(key, out);
        out.extend_from_slice(&mac);
    }
    Ok(())
}

/// Takes a datagram apart, checking every field (see the module docs).
///
/// # Errors
/// A [`DatagramError`] for anything that is not exactly a version-1
/// datagram. The MAC is not checked here: see [`Datagram::verify`].
pub fn decode(bytes: &[u8]) -> Result<Datagram<'_>, DatagramError> {
    let mut r = Reader { rest: bytes };
    if r.take(4)? != MAGIC {
        return Err(DatagramError::BadMagic);
    }
    let version = r.byte()?;
    if version != VERSION {
        return Err(DatagramError::BadVersion(version));
    }
    let flags = r.byte()?;
    if flags & !FLAG_SIGNED != 0 {
        return Err(DatagramError::UnknownFlags(flags));
    }
    let kind = r.byte()?;
    let target_len = usize::from(r.byte()?);
    let text = r.text(target_len)?;
    let target = match (kind, target_len) {
        (0, 0) => Target::Address,
        (1, 1..) => Target::Name(text),
        (2, 1..) => Target::Domain(text),
        (0..=2, _) => return Err(DatagramError::BadLength),
        (k, _) => return Err(DatagramError::BadTargetKind(k)),
    };
    let name_len = r.u16()?;
    if !(1..=MAX_NAME_BYTES).contains(&name_len) {
        return Err(DatagramError::BadLength);
    }
    let name = r.text(name_len)?;
    let payload_len = r.u16()?;
    if payload_len > MAX_NETWORK_PAYLOAD {
        return Err(DatagramError::BadLength);
    }
    let payload = r.take(payload_len)?;
    let signed_part = &bytes[..bytes.len() - r.rest.len()];
    let mac = if flags & FLAG_SIGNED != 0 {
        Some(r.take(MAC_LEN)?)
    } else {
        None
    };
    if !r.rest.is_empty() {
        return Err(DatagramError::TrailingBytes);
    }
    Ok(Datagram {
        target,
        name,
        payload,
        mac,
        signed_part,
    })
}

impl Datagram<'_> {
    /// Whether the datagram is signed with `key` (a constant-time check).
    /// False for unsigned datagrams.
    pub fn verify(&self, key: &[u8]) -> bool {
        let Some(mac) = self.mac else {
            return false;
        };
        let Ok(hmac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
            return false;
        };
        hmac.chain_update(self.signed_part)
            .verify_slice(mac)
            .is_ok()
    }
}

/// What a receiving mailslot knows about itself, to judge datagrams.
/// `Debug` does not print the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mailslot's case-folded path.
    pub name: String,
    /// This computer's case-folded name.
    pub host: String,
    /// This computer's case-folded domain.
    pub domain: String,
    /// The shared key datagrams must be signed with, if any.
    pub key: Option<Vec<u8>>,
    /// The mailslot's largest message (0: [`MAX_NETWORK_PAYLOAD`]).
    pub max_message_size: usize,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("domain", &self.domain)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

/// The receiver's decision about one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Deliver this message.
    Deliver(&'a [u8]),
    /// A well-formed datagram for another mailslot, host or domain: ignore
    /// it without counting.
    NotForUs,
    /// Malformed, unsigned, forged or too large for this mailslot: drop it
    /// and count it.
    Drop(DropReason),
}

/// Why [`Policy::judge`] dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a well-formed datagram.
    Malformed(DatagramError),
    /// The mailslot needs a signature and there is none.
    Unsigned,
    /// The signature does not match the key.
    BadSignature,
    /// Larger than the mailslot's maximum message size.
    TooLarge,
}

impl Policy {
    /// Decides what to do with a received datagram: decode it, ignore it if
    /// it is meant for another mailslot, host or domain, then check the
    /// signature (when a key is set) and the size. Never panics.
    pub fn judge<'a>(&self, bytes: &'a [u8]) -> Verdict<'a> {
        let dgram = match decode(bytes) {
            Ok(d) => d,
            Err(e) => return Verdict::Drop(DropReason::Malformed(e)),
        };
        let for_us = dgram.name == self.name
            && match dgram.target {
                Target::Address => true,
                Target::Name(t) => t == self.host || t == self.domain,
                Target::Domain(d) => d == self.domain,
            };
        if !for_us {
            return Verdict::NotForUs;
        }
        if let Some(key) = &self.key {
            if dgram.mac.is_none() {
                return Verdict::Drop(DropReason::Unsigned);
            }
            if !dgram.verify(key) {
                return Verdict::Drop(DropReason::BadSignature);
            }
        }
        if self.max_message_size != 0 && dgram.payload.len() > self.max_message_size {
            return Verdict::Drop(DropReason::TooLarge);
        }
        Verdict::Deliver(dgram.payload)
    }
}

/// The multicast group of a case-folded host or domain name: the first two
/// octets of `base`, then two octets from a hash of the name, each in
/// 1..=254 (so `x.y.255.250`-style well-known groups are never used).
pub fn group_for(name: &str, base: Ipv4Addr) -> Ipv4Addr {
    let mut hash: u32 = 0x811c_9dc5;
    for &b in name.as_bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let [a, b, ..] = base.octets();
    let c = 1 + (hash % 254) as u8;
    let d = 1 + ((hash / 254) % 254) as u8;
    Ipv4Addr::new(a, b, c, d)
}

/// Folds a host, domain or mailslot name the way names compare (see
/// `crate::name`).
pub fn fold(text: &str) -> String {
    text.chars().map(crate::name::fold_char).collect()
}

/// Checks a local record: `Some(message)` when it starts with
/// [`LOCAL_TAG`], `None` otherwise.
pub fn decode_local(record: &[u8]) -> Option<&[u8]> {
    match record.split_first() {
        Some((&LOCAL_TAG, message)) => Some(message),
        _ => None,
    }
}

fn is_folded(text: &str) -> bool {
    text.chars().all(|c| crate::name::fold_char(c) == c)
}

fn mac_of(key: &[u8], bytes: &[u8]) -> [u8; MAC_LEN] {
    // HMAC takes keys of any length; encode refuses empty ones before this.
    let hmac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    hmac.chain_update(bytes).finalize().into_bytes().into()
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DatagramError> {
        if self.rest.len() < n {
            return Err(DatagramError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, DatagramError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, DatagramError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    fn text(&mut self, n: usize) -> Result<&'a str, DatagramError> {
        let text = std::str::from_utf8(self.take(n)?).map_err(|_| DatagramError::BadText)?;
        if !is_folded(text) {
            return Err(DatagramError::BadText);
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy(key: Option<&[u8]>) -> Policy {
        Policy {
            name: "JOBS".into(),
            host: "H1".into(),
            domain: "ALPHA".into(),
            key: key.map(<[u8]>::to_vec),
            max_message_size: 0,
        }
    }

    fn wire(target: Target<'_>, name: &str, payload: &[u8], key: Option<&[u8]>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(target, name, payload, key, &mut out).unwrap();
        out
    }

    #[test]
    fn a_datagram_has_the_documented_layout() {
        let bytes = wire(Target::Name("H1"), "JOBS", b"hi", None);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &b"NPMS"[..], &[1, 0, 1, 2], b"H1",
            &[0, 4], b"JOBS",
            &[0, 2], b"hi",
        ].concat();
        assert_eq!(bytes, expected);
        let signed = wire(Target::Name("H1"), "JOBS", b"hi", Some(b"k"));
        assert_eq!(signed.len(), expected.len() + MAC_LEN);
        assert_eq!(signed[5], FLAG_SIGNED);
    }

    #[test]
    fn the_receiver_delivers_only_what_is_meant_for_it() {
        let p = policy(None);
        let cases: Vec<(Vec<u8>, Verdict<'static>)> = vec![
            (
                wire(Target::Name("H1"), "JOBS", b"x", None),
                Verdict::Deliver(b"x"),
            ),
            (
                wire(Target::Name("ALPHA"), "JOBS", b"x", None),
                Verdict::Deliver(b"x"),
            ),
            (
                wire(Target::Domain("ALPHA"), "JOBS", b"", None),
                Verdict::Deliver(b""),
            ),
            (
                wire(Target::Address, "JOBS", b"x", None),
                Verdict::Deliver(b"x"),
            ),
            (
                wire(Target::Name("H2"), "JOBS", b"x", None),
                Verdict::NotForUs,
            ),
            (
                wire(Target::Domain("H1"), "JOBS", b"x", None),
                Verdict::NotForUs,
            ),
            (
                wire(Target::Domain("BETA"), "JOBS", b"x", None),
                Verdict::NotForUs,
            ),
            (
                wire(Target::Name("H1"), "OTHER", b"x", None),
                Verdict::NotForUs,
            ),
            (
                b"NPMS".to_vec(),
                Verdict::Drop(DropReason::Malformed(DatagramError::Truncated)),
            ),
        ];
        for (bytes, verdict) in cases {
            assert_eq!(p.judge(&bytes), verdict, "{bytes:?}");
        }
    }

    #[test]
    fn a_keyed_mailslot_drops_unsigned_and_forged_datagrams() {
        let p = policy(Some(b"secret"));
        let unsigned = wire(Target::Name("H1"), "JOBS", b"x", None);
        assert_eq!(p.judge(&unsigned), Verdict::Drop(DropReason::Unsigned));
        let forged = wire(Target::Name("H1"), "JOBS", b"x", Some(b"guess"));
        assert_eq!(p.judge(&forged), Verdict::Drop(DropReason::BadSignature));
        let good = wire(Target::Name("H1"), "JOBS", b"x", Some(b"secret"));
        assert_eq!(p.judge(&good), Verdict::Deliver(b"x"));
        let mut tampered = good.clone();
        let at = tampered.len() - MAC_LEN - 1;
        tampered[at] ^= 1;
        assert_eq!(p.judge(&tampered), Verdict::Drop(DropReason::BadSignature));
        // Without a key, signed datagrams are delivered: nothing to check.
        assert_eq!(policy(None).judge(&good), Verdict::Deliver(b"x"));
    }

    #[test]
    fn oversize_is_refused_when_sending_and_dropped_when_receiving() {
        let mut out = Vec::new();
        let err = encode(Target::Address, "A", &[0; 425], None, &mut out).unwrap_err();
        assert_eq!(err, DatagramError::PayloadTooLarge(425));
        encode(Target::Address, "A", &[0; 424], None, &mut out).unwrap();
        let mut p = policy(None);
        p.max_message_size = 3;
        let bytes = wire(Target::Address, "JOBS", b"four", None);
        assert_eq!(p.judge(&bytes), Verdict::Drop(DropReason::TooLarge));
    }

    #[test]
    fn hand_written_malformed_datagrams_are_refused() {
        let good = wire(Target::Name("H1"), "JOBS", b"hi", None);
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            v
        };
        let rows: Vec<(Vec<u8>, DatagramError)> = vec![
            (vec![], DatagramError::Truncated),
            (with(0, b'X'), DatagramError::BadMagic),
            (with(4, 2), DatagramError::BadVersion(2)),
            (with(5, 0x80), DatagramError::UnknownFlags(0x80)),
            (with(6, 3), DatagramError::BadTargetKind(3)),
            (with(6, 0), DatagramError::BadLength),
            (with(8, b'h'), DatagramError::BadText),
            (with(8, 0xff), DatagramError::BadText),
            (with(10, 0x10), DatagramError::BadLength),
            (good[..12].to_vec(), DatagramError::Truncated),
            (with(11, 0), DatagramError::BadLength),
            ([&good[..], b"x"].concat(), DatagramError::TrailingBytes),
            (with(5, FLAG_SIGNED), DatagramError::Truncated),
        ];
        for (bytes, err) in rows {
            assert_eq!(decode(&bytes), Err(err), "{bytes:?}");
        }
        let mut big = good[..16].to_vec();
        big.extend_from_slice(&425u16.to_be_bytes());
        big.extend_from_slice(&[0; 425]);
        assert_eq!(decode(&big), Err(DatagramError::BadLength));
    }

    #[test]
    fn groups_stay_in_the_base_and_avoid_reserved_octets() {
        let base = Ipv4Addr::new(239, 255, 0, 0);
        let a = group_for("ALPHA", base);
        assert_eq!(a, group_for("ALPHA", base), "stable");
        assert_ne!(a, group_for("BETA", base));
        for name in ["", "A", "WORKGROUP", "H1", "日本"] {
            let g = group_for(name, base).octets();
            assert_eq!(&g[..2], &[239, 255]);
            assert!((1..=254).contains(&g[2]) && (1..=254).contains(&g[3]));
        }
    }

    #[test]
    fn local_records_carry_their_tag() {
        assert_eq!(decode_local(b"Mhi"), Some(&b"hi"[..]));
        assert_eq!(decode_local(b"M"), Some(&b""[..]));
        assert_eq!(decode_local(b""), None);
        assert_eq!(decode_local(b"Xhi"), None);
    }

    fn folded_text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![prop::char::range('A', 'Z'), Just('\\'), Just('É')],
            1..max,
        )
        .prop_map(String::from_iter)
    }

    fn target() -> impl Strategy<Value = (u8, String)> {
        (0u8..3, folded_text(20)).prop_map(|(k, t)| (k, if k == 0 { String::new() } else { t }))
    }

    fn as_target(kind: u8, text: &str) -> Target<'_> {
        match kind {
            0 => Target::Address,
            1 => Target::Name(text),
            _ => Target::Domain(text),
        }
    }

    /// Judging never panics, and whatever decodes re-encodes to the same
    /// bytes (apart from the flags and MAC, which encode recomputes).
    fn check_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
        let _ = policy(Some(b"k")).judge(bytes);
        let _ = policy(None).judge(bytes);
        if let Ok(d) = decode(bytes) {
            let mut again = Vec::new();
            encode(d.target, d.name, d.payload, None, &mut again).unwrap();
            let unsigned_len = bytes.len() - d.mac.map_or(0, <[u8]>::len);
            prop_assert_eq!(&again[6..], &bytes[6..unsigned_len]);
            prop_assert_eq!(&again[..5], &bytes[..5]);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_decode_canonically(bytes in prop::collection::vec(any::<u8>(), 0..1800)) {
            check_canonical(&bytes)?;
        }

        #[test]
        fn mutated_datagrams_never_panic_and_decode_canonically(
            payload in prop::collection::vec(any::<u8>(), 0..50),
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            signed in any::<bool>(),
        ) {
            let key: Option<&[u8]> = if signed { Some(b"k") } else { None };
            let mut bytes = wire(Target::Domain("ALPHA"), "JOBS", &payload, key);
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            check_canonical(&bytes)?;
            check_canonical(&bytes[..cut.index(bytes.len() + 1)])?;
        }

        #[test]
        fn encoded_datagrams_round_trip(
            (kind, text) in target(),
            name in folded_text(40),
            payload in prop::collection::vec(any::<u8>(), 0..=424),
            key in prop::option::of(prop::collection::vec(any::<u8>(), 1..40)),
        ) {
            let mut bytes = Vec::new();
            encode(as_target(kind, &text), &name, &payload, key.as_deref(), &mut bytes).unwrap();
            prop_assert!(bytes.len() <= MAX_DATAGRAM_LEN);
            let d = decode(&bytes).unwrap();
            prop_assert_eq!(d.target, as_target(kind, &text));
            prop_assert_eq!(d.name, name.as_str());
            prop_assert_eq!(d.payload, &payload[..]);
            prop_assert_eq!(d.mac.is_some(), key.is_some());
            if let Some(key) = &key {
                prop_assert!(d.verify(key));
            }
            // Every truncation is refused.
            for cut in 0..bytes.len() {
                prop_assert!(decode(&bytes[..cut]).is_err(), "cut at {}", cut);
            }
        }

        #[test]
        fn a_signed_datagram_changed_anywhere_is_never_delivered(
            payload in prop::collection::vec(any::<u8>(), 0..=424),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let p = policy(Some(b"secret"));
            let mut bytes = Vec::new();
            encode(Target::Name("H1"), "JOBS", &payload, Some(b"secret"), &mut bytes).unwrap();
            prop_assert_eq!(p.judge(&bytes), Verdict::Deliver(&payload[..]));
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            prop_assert!(!matches!(p.judge(&bytes), Verdict::Deliver(_)), "flip at {}", i);
        }
    }
}
