//! Receive-side message assembly for message-type pipes: whole frames in,
//! messages (or their bytes) out, with `ERROR_MORE_DATA` and peek counts.

use std::fmt;
use std::ops::Range;

use super::byte_queue::ByteQueue;
use super::{decode_header, ProtoError, HEADER_LEN, MAX_MESSAGE_LEN};

/// The receive size drivers should ask [`RecvBuffer::spare`] for (64 KiB).
pub const DEFAULT_RECV_CHUNK: usize = 64 * 1024;

/// How a read takes data out of a message-type pipe (`PIPE_READMODE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    /// `PIPE_READMODE_BYTE`: a stream of bytes across message boundaries.
    Byte,
    /// `PIPE_READMODE_MESSAGE`: one message per read.
    Message,
}

/// What a successful [`RecvBuffer::read`] delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ReadOutcome {
    /// This many bytes were copied, and they end the message (message mode)
    /// or are all the read returns (byte mode).
    Complete(usize),
    /// This many bytes were copied (the whole buffer) and the message goes
    /// on: the next read continues it (`ERROR_MORE_DATA`).
    MoreData(usize),
}

impl ReadOutcome {
    /// Bytes copied into the caller's buffer.
    pub fn bytes(self) -> usize {
        match self {
            ReadOutcome::Complete(n) | ReadOutcome::MoreData(n) => n,
        }
    }
}

/// What [`RecvBuffer::peek`] saw (`PeekNamedPipe` on a message pipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeekInfo {
    /// Bytes of the first complete message copied out (`lpBytesRead`).
    pub copied: usize,
    /// Unread payload bytes of all complete messages, headers excluded
    /// (`lpTotalBytesAvail`).
    pub total_available: usize,
    /// Bytes of the first complete message that did not fit
    /// (`lpBytesLeftThisMessage`).
    pub left_in_message: usize,
}

/// Receive-side message assembly for one message-type pipe connection.
///
/// The driver receives into [`spare`](Self::spare), reports the count with
/// [`commit`](Self::commit), and takes messages out with
/// [`read`](Self::read). A message becomes visible only once its whole frame
/// has arrived, so a peer that dies mid-message never yields part of it.
///
/// Memory: the buffer holds at most what the driver received and has not
/// read. Receiving only when `read` returns `Ok(None)` keeps it to one
/// message plus one receive chunk; consumed space is reused.
#[derive(Clone)]
pub struct RecvBuffer {
    /// Received bytes not yet consumed; the first frame starts at offset 0.
    queue: ByteQueue,
    /// Payload bytes of the first frame already read; 0 unless it is complete.
    read_off: usize,
    /// Bytes at the front of `queue` that form whole frames.
    complete: usize,
    /// Unread payload bytes in those whole frames.
    complete_payload: usize,
    max_message_len: usize,
    /// Set when the header after the whole frames announces too much; the
    /// stream is dead from that frame on.
    dead: Option<ProtoError>,
}

impl RecvBuffer {
    /// An empty buffer that refuses messages longer than `max_message_len`
    /// (lowered to [`MAX_MESSAGE_LEN`] if above). Allocates nothing yet.
    pub fn new(max_message_len: usize) -> Self {
        let max_message_len = max_message_len.min(MAX_MESSAGE_LEN);
        RecvBuffer {
            queue: ByteQueue::new(HEADER_LEN + max_message_len),
            read_off: 0,
            complete: 0,
            complete_payload: 0,
            max_message_len,
            dead: None,
        }
    }

    /// The largest message this buffer accepts.
    pub fn max_message_len(&self) -> usize {
        self.max_message_len
    }

    /// The writable tail to receive into: at least `at_least` bytes (and at
    /// least 1), possibly more. Follow with [`commit`](Self::commit).
    ///
    /// Grows, or moves the unread bytes to the front, only when the tail is
    /// too short, so repeated calls allocate nothing once the capacity
    /// suffices. An empty buffer above 1 MiB shrinks back.
    pub fn spare(&mut self, at_least: usize) -> &mut [u8] {
        self.queue.spare(at_least.max(1))
    }

    /// Records that the driver received `n` bytes into the start of
    /// [`spare`](Self::spare).
    ///
    /// # Panics
    /// If `n` is larger than the slice `spare` returned.
    pub fn commit(&mut self, n: usize) {
        self.queue.commit(n);
        self.scan_frames();
    }

    /// Takes data of complete messages into `out`.
    ///
    /// - `Ok(None)`: no complete message is buffered; receive more.
    /// - [`ReadMode::Message`]: at most one message. If it is longer than
    ///   `out`, `out` is filled, [`ReadOutcome::MoreData`] returned, and the
    ///   next read continues the same message. A zero-length message gives
    ///   `Complete(0)` and is consumed.
    /// - [`ReadMode::Byte`]: payload bytes of complete messages, across
    ///   message boundaries, until `out` is full or no complete message is
    ///   left; always `Complete(n)`. Zero-length messages are skipped, so `n`
    ///   is 0 only when `out` is empty (which returns `Complete(0)` at once
    ///   and consumes nothing); if only zero-length messages were buffered
    ///   they are consumed and the answer is `Ok(None)`.
    ///
    /// A message partly read in one mode continues in the other.
    ///
    /// # Errors
    /// [`ProtoError::MessageTooLarge`] once the next frame's header announces
    /// more than the limit. The stream is dead; every later read fails too.
    /// In byte mode, bytes copied before that frame are returned first.
    pub fn read(
        &mut self,
        out: &mut [u8],
        mode: ReadMode,
    ) -> Result<Option<ReadOutcome>, ProtoError> {
        match mode {
            ReadMode::Message => self.read_message(out),
            ReadMode::Byte => self.read_bytes(out),
        }
    }

    /// Copies the unread part of the first complete message into `out`,
    /// without consuming anything (`PeekNamedPipe`). All zero when no
    /// complete message is buffered.
    pub fn peek(&self, out: &mut [u8]) -> PeekInfo {
        let Ok(Some(rest)) = self.front() else {
            return PeekInfo::default();
        };
        let copied = rest.len().min(out.len());
        out[..copied].copy_from_slice(&self.queue.live()[rest.start..rest.start + copied]);
        PeekInfo {
            copied,
            total_available: self.complete_payload,
            left_in_message: rest.len() - copied,
        }
    }

    /// Whether a complete message (possibly of zero length) is ready.
    pub fn has_message(&self) -> bool {
        self.complete > 0
    }

    /// Whether no bytes at all are buffered, not even part of a frame.
    pub fn is_empty(&self) -> bool {
        self.queue.len() == 0
    }

    /// Unread payload bytes of the complete messages, headers excluded: what
    /// reads could return without receiving more (same as
    /// [`PeekInfo::total_available`]).
    pub fn buffered_payload(&self) -> usize {
        self.complete_payload
    }

    /// Bytes still missing to complete the frame after the complete ones:
    /// the rest of its header, or the rest of its payload; 0 when nothing of
    /// a next frame is buffered. A driver that must not consume past one
    /// frame (to keep the kernel's unread count exact) receives at most this
    /// many bytes, or [`HEADER_LEN`] when it returns 0.
    pub fn missing_for_next_frame(&self) -> usize {
        let got = self.queue.len() - self.complete;
        if got == 0 {
            0
        } else if got < HEADER_LEN {
            HEADER_LEN - got
        } else {
            (HEADER_LEN + self.frame_len(self.complete)).saturating_sub(got)
        }
    }

    /// Checks the buffer at the end of the stream. Complete messages still
    /// buffered stay readable.
    ///
    /// # Errors
    /// [`ProtoError::TruncatedMessage`] when part of a frame (or of its
    /// header) is buffered: the peer died mid-message, and nothing of that
    /// message may be delivered. [`ProtoError::MessageTooLarge`] when the
    /// stream was already dead.
    pub fn finish(&self) -> Result<(), ProtoError> {
        if let Some(err) = self.dead {
            return Err(err);
        }
        let got = self.queue.len() - self.complete;
        if got == 0 {
            return Ok(());
        }
        let expected = if got >= HEADER_LEN {
            HEADER_LEN + self.frame_len(self.complete)
        } else {
            HEADER_LEN
        };
        Err(ProtoError::TruncatedMessage { expected, got })
    }

    fn read_message(&mut self, out: &mut [u8]) -> Result<Option<ReadOutcome>, ProtoError> {
        let Some(rest) = self.front()? else {
            return Ok(None);
        };
        let n = self.take(rest.clone(), out);
        Ok(Some(if n == rest.len() {
            ReadOutcome::Complete(n)
        } else {
            ReadOutcome::MoreData(n)
        }))
    }

    fn read_bytes(&mut self, out: &mut [u8]) -> Result<Option<ReadOutcome>, ProtoError> {
        if out.is_empty() {
            return Ok(Some(ReadOutcome::Complete(0)));
        }
        let mut n = 0;
        while n < out.len() {
            match self.front() {
                Ok(Some(rest)) => n += self.take(rest, &mut out[n..]),
                Ok(None) => break,
                Err(err) if n == 0 => return Err(err),
                Err(_) => break,
            }
        }
        Ok((n > 0).then_some(ReadOutcome::Complete(n)))
    }

    /// The unread payload of the first complete message, as a range of
    /// `queue.live()`.
    fn front(&self) -> Result<Option<Range<usize>>, ProtoError> {
        if self.complete == 0 {
            return match self.dead {
                Some(err) => Err(err),
                None => Ok(None),
            };
        }
        Ok(Some(
            HEADER_LEN + self.read_off..HEADER_LEN + self.frame_len(0),
        ))
    }

    /// Copies from `rest` (the first message's unread payload) into `out`
    /// and consumes what was copied; the frame too once it is all read.
    fn take(&mut self, rest: Range<usize>, out: &mut [u8]) -> usize {
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&self.queue.live()[rest.start..rest.start + n]);
        self.complete_payload -= n;
        if n == rest.len() {
            self.queue.consume(rest.end);
            self.complete -= rest.end;
            self.read_off = 0;
        } else {
            self.read_off += n;
        }
        n
    }

    /// Extends the whole frames over those that have fully arrived.
    fn scan_frames(&mut self) {
        while self.dead.is_none() && self.queue.len() - self.complete >= HEADER_LEN {
            let len = self.frame_len(self.complete);
            if len > self.max_message_len {
                self.dead = Some(ProtoError::MessageTooLarge {
                    len,
                    max: self.max_message_len,
                });
            } else if self.queue.len() - self.complete - HEADER_LEN >= len {
                self.complete += HEADER_LEN + len;
                self.complete_payload += len;
            } else {
                break;
            }
        }
    }

    /// The payload length in the header at offset `at`, which must be
    /// buffered.
    fn frame_len(&self, at: usize) -> usize {
        let mut header = [0; HEADER_LEN];
        header.copy_from_slice(&self.queue.live()[at..at + HEADER_LEN]);
        decode_header(header)
    }
}

impl fmt::Debug for RecvBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBuffer")
            .field("buffered", &self.queue.len())
            .field("complete_payload", &self.complete_payload)
            .field("read_off", &self.read_off)
            .field("capacity", &self.queue.capacity())
            .field("max_message_len", &self.max_message_len)
            .field("dead", &self.dead)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::encode_message;
    use ReadMode::{Byte, Message};
    use ReadOutcome::{Complete, MoreData};

    #[test]
    fn missing_for_next_frame_counts_header_then_payload() {
        let mut frame = Vec::new();
        encode_message(b"hello", &mut frame).unwrap();
        let mut rb = RecvBuffer::new(1024);
        assert_eq!(rb.missing_for_next_frame(), 0);
        for (i, &byte) in frame.iter().enumerate() {
            let expected = if i < HEADER_LEN {
                HEADER_LEN - i
            } else {
                frame.len() - i
            };
            assert_eq!(
                rb.missing_for_next_frame(),
                if i == 0 { 0 } else { expected },
                "after {i} bytes"
            );
            rb.spare(1)[0] = byte;
            rb.commit(1);
        }
        // The frame is complete: nothing of a next one is buffered.
        assert_eq!(rb.missing_for_next_frame(), 0);
    }

    fn frames(msgs: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in msgs {
            encode_message(m, &mut out).unwrap();
        }
        out
    }

    fn feed(rb: &mut RecvBuffer, bytes: &[u8]) {
        rb.spare(bytes.len())[..bytes.len()].copy_from_slice(bytes);
        rb.commit(bytes.len());
    }

    fn read(rb: &mut RecvBuffer, len: usize, mode: ReadMode) -> Option<(ReadOutcome, Vec<u8>)> {
        let mut out = vec![0; len];
        let outcome = rb.read(&mut out, mode).unwrap()?;
        out.truncate(outcome.bytes());
        Some((outcome, out))
    }

    fn drain(rb: &mut RecvBuffer, got: &mut Vec<Vec<u8>>) {
        while let Some((outcome, m)) = read(rb, 64, Message) {
            assert_eq!(outcome, Complete(m.len()));
            got.push(m);
        }
    }

    #[test]
    fn frame_split_at_every_byte_appears_only_when_whole() {
        let wire = frames(&[b"hello", b"", b"world!"]);
        for cut in 0..=wire.len() {
            let mut rb = RecvBuffer::new(100);
            feed(&mut rb, &wire[..cut]);
            let mut got = Vec::new();
            drain(&mut rb, &mut got);
            let complete = [9, 13, 23].iter().filter(|&&end| cut >= end).count();
            assert_eq!(got.len(), complete, "cut at {cut}");
            assert_eq!(rb.finish().is_ok(), [0, 9, 13, 23].contains(&cut));
            feed(&mut rb, &wire[cut..]);
            drain(&mut rb, &mut got);
            assert_eq!(got, [&b"hello"[..], b"", b"world!"], "cut at {cut}");
            assert!(rb.is_empty() && rb.finish().is_ok());
        }
    }

    #[test]
    fn byte_by_byte_delivery() {
        let wire = frames(&[b"ab", b"cde"]);
        let mut rb = RecvBuffer::new(100);
        let mut got = Vec::new();
        for (i, b) in wire.iter().enumerate() {
            feed(&mut rb, &[*b]);
            match read(&mut rb, 8, Message) {
                Some((_, m)) => got.push((i + 1, m)),
                None => assert!(!rb.has_message() && rb.buffered_payload() == 0),
            }
        }
        assert_eq!(got, [(6, b"ab".to_vec()), (13, b"cde".to_vec())]);
    }

    #[test]
    fn many_messages_in_one_commit() {
        let msgs: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; i as usize]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&refs));
        assert_eq!(rb.buffered_payload(), (0..50).sum::<usize>());
        for m in &msgs {
            assert!(rb.has_message());
            assert_eq!(read(&mut rb, 100, Message).unwrap().1, *m);
        }
        assert!(!rb.has_message() && rb.is_empty());
        assert_eq!(rb.read(&mut [0; 4], Message), Ok(None));
    }

    #[test]
    fn small_buffer_gives_more_data_then_the_rest() {
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&[b"0123456789", b"xy"]));
        assert_eq!(
            read(&mut rb, 4, Message),
            Some((MoreData(4), b"0123".to_vec()))
        );
        assert_eq!(
            read(&mut rb, 4, Message),
            Some((MoreData(4), b"4567".to_vec()))
        );
        assert_eq!(
            read(&mut rb, 4, Message),
            Some((Complete(2), b"89".to_vec()))
        );
        assert_eq!(
            read(&mut rb, 4, Message),
            Some((Complete(2), b"xy".to_vec()))
        );
        assert_eq!(read(&mut rb, 4, Message), None);
    }

    #[test]
    fn exact_fit_is_complete_and_empty_buffer_is_more_data() {
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&[b"abcd"]));
        assert_eq!(read(&mut rb, 0, Message), Some((MoreData(0), vec![])));
        assert_eq!(
            read(&mut rb, 4, Message),
            Some((Complete(4), b"abcd".to_vec()))
        );
    }

    #[test]
    fn zero_length_messages_in_message_mode() {
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&[b"", b"", b"z"]));
        assert_eq!(rb.buffered_payload(), 1);
        assert_eq!(read(&mut rb, 0, Message), Some((Complete(0), vec![])));
        assert_eq!(read(&mut rb, 8, Message), Some((Complete(0), vec![])));
        assert_eq!(
            read(&mut rb, 8, Message),
            Some((Complete(1), b"z".to_vec()))
        );
        assert!(rb.is_empty());
    }

    #[test]
    fn zero_length_messages_are_skipped_in_byte_mode() {
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&[b"", b"ab", b"", b"c", b""]));
        assert_eq!(read(&mut rb, 8, Byte), Some((Complete(3), b"abc".to_vec())));
        // Only the trailing zero-length message was left: consumed, no data.
        assert!(rb.is_empty());
        feed(&mut rb, &frames(&[b"", b""]));
        assert_eq!(read(&mut rb, 8, Byte), None);
        assert!(rb.is_empty());
        // An empty buffer reads nothing and consumes nothing.
        feed(&mut rb, &frames(&[b"q"]));
        assert_eq!(read(&mut rb, 0, Byte), Some((Complete(0), vec![])));
        assert_eq!(rb.buffered_payload(), 1);
    }

    #[test]
    fn byte_mode_crosses_boundaries_but_not_into_partial_frames() {
        let mut rb = RecvBuffer::new(100);
        let wire = frames(&[b"abc", b"defg", b"hij"]);
        feed(&mut rb, &wire[..wire.len() - 1]);
        assert_eq!(
            read(&mut rb, 5, Byte),
            Some((Complete(5), b"abcde".to_vec()))
        );
        assert_eq!(read(&mut rb, 5, Byte), Some((Complete(2), b"fg".to_vec())));
        assert_eq!(read(&mut rb, 5, Byte), None);
        feed(&mut rb, &wire[wire.len() - 1..]);
        assert_eq!(read(&mut rb, 5, Byte), Some((Complete(3), b"hij".to_vec())));
    }

    #[test]
    fn modes_continue_each_others_messages() {
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &frames(&[b"abcdef", b"gh"]));
        assert_eq!(
            read(&mut rb, 2, Message),
            Some((MoreData(2), b"ab".to_vec()))
        );
        assert_eq!(read(&mut rb, 3, Byte), Some((Complete(3), b"cde".to_vec())));
        assert_eq!(
            read(&mut rb, 8, Message),
            Some((Complete(1), b"f".to_vec()))
        );
        assert_eq!(
            read(&mut rb, 8, Message),
            Some((Complete(2), b"gh".to_vec()))
        );
    }

    #[test]
    fn peek_counts_before_and_after_partial_reads() {
        let mut rb = RecvBuffer::new(100);
        assert_eq!(rb.peek(&mut [0; 4]), PeekInfo::default());
        let wire = frames(&[b"0123456789", b"abc"]);
        feed(&mut rb, &wire[..wire.len() - 1]);
        let mut out = [0; 4];
        let info = |copied, total, left| PeekInfo {
            copied,
            total_available: total,
            left_in_message: left,
        };
        assert_eq!(rb.peek(&mut out), info(4, 10, 6));
        assert_eq!(&out, b"0123");
        assert_eq!(rb.peek(&mut [0; 64]), info(10, 10, 0));
        assert_eq!(rb.peek(&mut []), info(0, 10, 10));
        feed(&mut rb, &wire[wire.len() - 1..]);
        assert_eq!(rb.peek(&mut out), info(4, 13, 6));
        assert_eq!(read(&mut rb, 3, Message).unwrap().0, MoreData(3));
        assert_eq!(rb.peek(&mut out), info(4, 10, 3));
        assert_eq!(&out, b"3456");
        assert_eq!(read(&mut rb, 10, Message).unwrap().0, Complete(7));
        assert_eq!(rb.peek(&mut out), info(3, 3, 0));
        assert_eq!(read(&mut rb, 10, Message).unwrap().0, Complete(3));
        assert_eq!(rb.peek(&mut out), PeekInfo::default());
    }

    #[test]
    fn finish_reports_truncated_header_and_payload() {
        let wire = frames(&[b"done", b"0123456789"]);
        let mut rb = RecvBuffer::new(100);
        feed(&mut rb, &wire[..8 + 2]);
        let truncated = |expected, got| Err(ProtoError::TruncatedMessage { expected, got });
        assert_eq!(rb.finish(), truncated(4, 2));
        feed(&mut rb, &wire[10..15]);
        assert_eq!(rb.finish(), truncated(14, 7));
        // The complete message is still delivered; the cut one never is.
        assert_eq!(
            read(&mut rb, 64, Byte),
            Some((Complete(4), b"done".to_vec()))
        );
        assert_eq!(read(&mut rb, 64, Byte), None);
        assert_eq!(rb.finish(), truncated(14, 7));
        assert!(!rb.is_empty() && !rb.has_message());
    }

    #[test]
    fn oversized_header_kills_the_stream_after_earlier_messages() {
        let mut rb = RecvBuffer::new(8);
        let mut wire = frames(&[b"ok", b"12345678"]);
        wire.extend_from_slice(&9u32.to_le_bytes());
        feed(&mut rb, &wire);
        let too_large = ProtoError::MessageTooLarge { len: 9, max: 8 };
        assert_eq!(
            read(&mut rb, 64, Message),
            Some((Complete(2), b"ok".to_vec()))
        );
        assert_eq!(read(&mut rb, 3, Byte), Some((Complete(3), b"123".to_vec())));
        assert_eq!(
            read(&mut rb, 64, Byte),
            Some((Complete(5), b"45678".to_vec()))
        );
        assert_eq!(rb.read(&mut [0; 64], Byte), Err(too_large));
        assert_eq!(rb.read(&mut [0; 64], Message), Err(too_large));
        assert_eq!(rb.finish(), Err(too_large));
        assert_eq!(rb.peek(&mut [0; 4]), PeekInfo::default());
    }

    #[test]
    fn limit_is_capped_at_the_protocol_maximum() {
        assert_eq!(
            RecvBuffer::new(usize::MAX).max_message_len(),
            MAX_MESSAGE_LEN
        );
        let mut rb = RecvBuffer::new(usize::MAX);
        feed(&mut rb, &u32::MAX.to_le_bytes());
        assert!(matches!(
            rb.read(&mut [0; 4], Message),
            Err(ProtoError::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn spare_reuses_space_and_stays_bounded() {
        let mut rb = RecvBuffer::new(1000);
        let wire = frames(&[&[7; 1000], &[8; 10], &[9; 500]]);
        let mut biggest = 0;
        for round in 0..2000 {
            // Deliver in uneven chunks, reading after every commit.
            for chunk in wire.chunks(7 + round % 300) {
                let spare = rb.spare(DEFAULT_RECV_CHUNK);
                assert!(spare.len() >= DEFAULT_RECV_CHUNK);
                spare[..chunk.len()].copy_from_slice(chunk);
                rb.commit(chunk.len());
                while read(&mut rb, 333, Message).is_some() {}
                biggest = biggest.max(rb.queue.capacity());
            }
        }
        assert!(rb.is_empty());
        assert!(
            biggest <= HEADER_LEN + 1000 + 2 * DEFAULT_RECV_CHUNK,
            "{biggest}"
        );
    }

    #[test]
    #[should_panic(expected = "exceeds the spare space")]
    fn committing_more_than_spare_panics() {
        let mut rb = RecvBuffer::new(100);
        let n = rb.spare(1).len();
        rb.commit(n + 1);
    }
}
