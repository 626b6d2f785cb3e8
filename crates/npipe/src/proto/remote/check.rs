//! [`MessageCheck`]: follows the message frames of a relayed stream, so a
//! relay refuses a malformed stream instead of passing it to the local
//! server, and knows whether a cut stream ended inside a message.

use crate::proto::{ProtoError, HEADER_LEN, MAX_MESSAGE_LEN};

/// Follows frame boundaries (4-byte length, payload) in a message-pipe
/// stream fed in arbitrary pieces. Keeps no payload: a few counters only.
#[derive(Debug, Clone, Default)]
pub struct MessageCheck {
    header: [u8; HEADER_LEN],
    header_have: usize,
    payload_left: usize,
}

impl MessageCheck {
    /// A check at the start of a stream.
    pub fn new() -> MessageCheck {
        MessageCheck::default()
    }

    /// Follows `bytes`, the next piece of the stream.
    ///
    /// # Errors
    /// [`ProtoError::MessageTooLarge`] when a header announces more than
    /// [`MAX_MESSAGE_LEN`]; the stream must not be passed on.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), ProtoError> {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let n = self.payload_left.min(bytes.len());
                self.payload_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (HEADER_LEN - self.header_have).min(bytes.len());
            self.header[self.header_have..self.header_have + n].copy_from_slice(&bytes[..n]);
            self.header_have += n;
            bytes = &bytes[n..];
            if self.header_have == HEADER_LEN {
                let len = crate::proto::decode_header(self.header);
                if len > MAX_MESSAGE_LEN {
                    return Err(ProtoError::MessageTooLarge {
                        len,
                        max: MAX_MESSAGE_LEN,
                    });
                }
                self.header_have = 0;
                self.payload_left = len;
            }
        }
        Ok(())
    }

    /// Whether the stream so far ends inside a frame.
    pub fn inside_message(&self) -> bool {
        self.header_have > 0 || self.payload_left > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_frames_cut_anywhere() {
        let mut wire = Vec::new();
        for msg in [&b"hello"[..], b"", b"x"] {
            crate::proto::encode_message(msg, &mut wire).unwrap();
        }
        for cut in 0..=wire.len() {
            let mut check = MessageCheck::new();
            check.feed(&wire[..cut]).unwrap();
            check.feed(&wire[cut..]).unwrap();
            assert!(!check.inside_message(), "cut at {cut}");
        }
        let mut check = MessageCheck::new();
        check.feed(&wire[..7]).unwrap();
        assert!(check.inside_message());
    }

    #[test]
    fn refuses_a_header_above_the_limit() {
        let mut check = MessageCheck::new();
        let too_big = ((MAX_MESSAGE_LEN + 1) as u32).to_le_bytes();
        check.feed(&too_big[..2]).unwrap();
        assert!(matches!(
            check.feed(&too_big[2..]),
            Err(ProtoError::MessageTooLarge { .. })
        ));
    }
}
