//! Message frame headers: a 4-byte little-endian payload length.

use super::{ProtoError, HEADER_LEN, MAX_MESSAGE_LEN};

/// The header of a message of `len` payload bytes.
///
/// # Errors
/// [`ProtoError::MessageTooLarge`] when `len` exceeds [`MAX_MESSAGE_LEN`].
pub fn encode_header(len: usize) -> Result<[u8; HEADER_LEN], ProtoError> {
    if len > MAX_MESSAGE_LEN {
        return Err(ProtoError::MessageTooLarge {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    // MAX_MESSAGE_LEN < u32::MAX, so the length fits.
    Ok((len as u32).to_le_bytes())
}

/// The payload length a header announces. Not checked against any limit:
/// [`RecvBuffer`](super::RecvBuffer) does that.
pub fn decode_header(header: [u8; HEADER_LEN]) -> usize {
    u32::from_le_bytes(header) as usize
}

/// Appends the whole frame for `payload` (header, then payload) to `out`.
///
/// Convenient for small messages; for large ones write the header from
/// [`encode_header`] and the payload straight from the caller's slice.
///
/// # Errors
/// [`ProtoError::MessageTooLarge`] when `payload` exceeds
/// [`MAX_MESSAGE_LEN`]; `out` is left unchanged.
pub fn encode_message(payload: &[u8], out: &mut Vec<u8>) -> Result<(), ProtoError> {
    let header = encode_header(payload.len())?;
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_little_endian_length() {
        assert_eq!(encode_header(0).unwrap(), [0, 0, 0, 0]);
        assert_eq!(encode_header(0x0102_0304).unwrap(), [4, 3, 2, 1]);
        assert_eq!(decode_header([4, 3, 2, 1]), 0x0102_0304);
        assert_eq!(decode_header([0xff; 4]), u32::MAX as usize);
    }

    #[test]
    fn header_round_trips_up_to_the_limit() {
        for len in [0, 1, 255, 256, 65_535, 65_536, MAX_MESSAGE_LEN] {
            assert_eq!(decode_header(encode_header(len).unwrap()), len);
        }
    }

    #[test]
    fn oversized_message_is_refused() {
        assert_eq!(
            encode_header(MAX_MESSAGE_LEN + 1),
            Err(ProtoError::MessageTooLarge {
                len: MAX_MESSAGE_LEN + 1,
                max: MAX_MESSAGE_LEN
            })
        );
        assert!(encode_header(usize::MAX).is_err());
    }

    #[test]
    fn encode_message_appends_header_and_payload() {
        let mut out = vec![9];
        encode_message(b"abc", &mut out).unwrap();
        encode_message(b"", &mut out).unwrap();
        assert_eq!(out, [9, 3, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 0]);
    }
}
