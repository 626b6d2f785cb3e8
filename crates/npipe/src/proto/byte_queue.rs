//! The growable byte queue under [`RecvBuffer`](super::RecvBuffer):
//! a consumed prefix, the live bytes, and a spare tail to receive into.

use super::DEFAULT_RECV_CHUNK;

/// An empty queue holding more than this gives the memory back.
const SHRINK_ABOVE: usize = 1 << 20;

/// Live bytes `buf[start..end]`, spare tail `buf[end..]`.
///
/// The tail is grown or the live bytes moved to the front only when the tail
/// is too short, so a steady stream allocates nothing.
#[derive(Clone)]
pub(super) struct ByteQueue {
    /// Storage; `buf.len()` is the capacity (kept initialized, no unsafe).
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Capacity that suffices for the largest live data the owner expects
    /// (one whole frame); growth beyond it happens only when needed.
    soft_limit: usize,
}

impl ByteQueue {
    /// An empty queue that expects at most `soft_limit` live bytes.
    pub(super) fn new(soft_limit: usize) -> Self {
        ByteQueue {
            buf: Vec::new(),
            start: 0,
            end: 0,
            soft_limit,
        }
    }

    /// The live bytes.
    pub(super) fn live(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The number of live bytes.
    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    /// The capacity, for tests and `Debug`.
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// A spare tail of at least `at_least` bytes.
    pub(super) fn spare(&mut self, at_least: usize) -> &mut [u8] {
        self.reserve(at_least);
        &mut self.buf[self.end..]
    }

    /// Makes `n` bytes at the start of the spare tail live.
    ///
    /// # Panics
    /// If `n` exceeds the spare tail.
    pub(super) fn commit(&mut self, n: usize) {
        assert!(
            n <= self.buf.len() - self.end,
            "commit({n}) exceeds the spare space of {}",
            self.buf.len() - self.end
        );
        self.end += n;
    }

    /// Drops the first `n` live bytes.
    pub(super) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            // Nothing left: start over at the front, no copy needed.
            self.start = 0;
            self.end = 0;
        }
    }

    fn reserve(&mut self, at_least: usize) {
        let live = self.len();
        if live == 0 && self.buf.len() > SHRINK_ABOVE && at_least <= SHRINK_ABOVE {
            // A large message has gone: give its memory back.
            let keep = at_least.max(DEFAULT_RECV_CHUNK);
            self.buf.truncate(keep);
            self.buf.shrink_to(keep);
        }
        if self.buf.len() - self.end >= at_least {
            return;
        }
        let limit = self.soft_limit.max(live).saturating_add(at_least);
        // Move the live bytes to the front when the consumed prefix is at
        // least as large as what moves (amortized), or when doubling would
        // pass the limit.
        if self.start > 0 && (self.start >= live || self.buf.len().saturating_mul(2) > limit) {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = live;
        }
        if self.buf.len() - self.end < at_least {
            let grown = self.buf.len().saturating_mul(2).min(limit);
            self.buf.resize(grown.max(self.end + at_least), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(q: &mut ByteQueue, bytes: &[u8]) {
        q.spare(DEFAULT_RECV_CHUNK)[..bytes.len()].copy_from_slice(bytes);
        q.commit(bytes.len());
    }

    #[test]
    fn bytes_come_out_in_order_across_compaction_and_growth() {
        let mut q = ByteQueue::new(10);
        let mut expected = Vec::new();
        for i in 0..5000u32 {
            let chunk: Vec<u8> = (0..(i % 97) as u8).collect();
            push(&mut q, &chunk);
            expected.extend_from_slice(&chunk);
            let take = (i as usize * 31) % (q.len() + 1);
            assert_eq!(&q.live()[..take], &expected[..take]);
            q.consume(take);
            expected.drain(..take);
            assert_eq!(q.live(), &expected[..]);
        }
    }

    #[test]
    fn capacity_stays_within_one_frame_and_one_chunk() {
        let frame = 1004;
        let mut q = ByteQueue::new(frame);
        let mut biggest = 0;
        for i in 0..20_000usize {
            // Keep at most one partial frame live, as a driver that receives
            // only when no message is complete does.
            push(&mut q, &vec![7; 1 + i % 300]);
            if q.len() >= frame {
                q.consume(frame);
            }
            biggest = biggest.max(q.capacity());
        }
        assert!(biggest <= frame + 2 * DEFAULT_RECV_CHUNK, "{biggest}");
    }

    #[test]
    fn spare_does_not_reallocate_when_capacity_suffices() {
        let mut q = ByteQueue::new(100);
        let mut steady = None;
        for i in 0..1000 {
            push(&mut q, &[1; 13]);
            q.consume(q.len() - i % 4);
            q.spare(DEFAULT_RECV_CHUNK);
            let now = (q.buf.as_ptr(), q.capacity());
            if i == 10 {
                steady = Some(now);
            } else if i > 10 {
                assert_eq!(Some(now), steady, "round {i}");
            }
        }
    }

    #[test]
    fn memory_is_given_back_once_empty() {
        let mut q = ByteQueue::new(8 << 20);
        let big = 4 << 20;
        q.spare(big);
        q.commit(big);
        q.consume(big);
        assert!(q.spare(DEFAULT_RECV_CHUNK).len() >= DEFAULT_RECV_CHUNK);
        assert_eq!(q.capacity(), DEFAULT_RECV_CHUNK);
    }

    #[test]
    #[should_panic(expected = "exceeds the spare space")]
    fn committing_more_than_spare_panics() {
        let mut q = ByteQueue::new(100);
        let n = q.spare(1).len();
        q.commit(n + 1);
    }
}
