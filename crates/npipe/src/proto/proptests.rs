//! Property tests for the protocol core: any messages, cut anywhere, read
//! with any buffers, come out as they went in; garbage never panics.

use proptest::prelude::*;

use super::*;

fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..2000), 0..20)
}

fn sizes(range: std::ops::Range<usize>) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(range, 1..30)
}

fn encode_all(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut wire = Vec::new();
    for m in msgs {
        encode_message(m, &mut wire).unwrap();
    }
    wire
}

/// Cuts `wire` into chunks whose lengths cycle through `cuts`.
fn chunks<'a>(wire: &'a [u8], cuts: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = wire;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (chunk, tail) = rest.split_at(cuts[i % cuts.len()].min(rest.len()));
        rest = tail;
        i += 1;
        Some(chunk)
    })
}

fn feed(rb: &mut RecvBuffer, chunk: &[u8]) {
    let spare = rb.spare(DEFAULT_RECV_CHUNK.min(chunk.len() + 1));
    spare[..chunk.len()].copy_from_slice(chunk);
    rb.commit(chunk.len());
}

/// Feeds `wire` in chunks and reads after each one with buffer sizes cycling
/// through `bufs` and modes through `modes`; returns every read's outcome
/// and bytes.
fn drive(
    wire: &[u8],
    cuts: &[usize],
    bufs: &[usize],
    modes: &[ReadMode],
) -> (RecvBuffer, Vec<(ReadMode, ReadOutcome, Vec<u8>)>) {
    let mut rb = RecvBuffer::new(4096);
    let mut reads = Vec::new();
    for chunk in chunks(wire, cuts) {
        feed(&mut rb, chunk);
        loop {
            let i = reads.len();
            let (mode, size) = (modes[i % modes.len()], bufs[i % bufs.len()]);
            let mut out = vec![0; size];
            let Some(outcome) = rb.read(&mut out, mode).unwrap() else {
                break;
            };
            out.truncate(outcome.bytes());
            reads.push((mode, outcome, out));
        }
    }
    (rb, reads)
}

proptest! {
    #[test]
    fn message_mode_returns_the_same_messages(
        msgs in messages(), cuts in sizes(1..3000), bufs in sizes(1..2500),
    ) {
        let (rb, reads) = drive(&encode_all(&msgs), &cuts, &bufs, &[ReadMode::Message]);
        let mut got = Vec::new();
        let mut current = Vec::new();
        for (i, (_, outcome, bytes)) in reads.iter().enumerate() {
            current.extend_from_slice(bytes);
            match outcome {
                ReadOutcome::MoreData(n) => prop_assert_eq!(*n, bufs[i % bufs.len()]),
                ReadOutcome::Complete(_) => got.push(std::mem::take(&mut current)),
            }
        }
        prop_assert!(current.is_empty());
        prop_assert_eq!(got, msgs);
        prop_assert!(rb.is_empty());
        prop_assert_eq!(rb.finish(), Ok(()));
    }

    #[test]
    fn byte_mode_returns_the_concatenation(
        msgs in messages(), cuts in sizes(1..3000), bufs in sizes(1..2500),
    ) {
        let (rb, reads) = drive(&encode_all(&msgs), &cuts, &bufs, &[ReadMode::Byte]);
        let mut got = Vec::new();
        for (i, (_, outcome, bytes)) in reads.iter().enumerate() {
            prop_assert!(matches!(outcome, ReadOutcome::Complete(n) if *n > 0));
            prop_assert!(bytes.len() <= bufs[i % bufs.len()]);
            got.extend_from_slice(bytes);
        }
        prop_assert_eq!(got, msgs.concat());
        prop_assert!(rb.is_empty());
    }

    #[test]
    fn mixed_modes_respect_message_boundaries(
        msgs in messages(), cuts in sizes(1..3000), bufs in sizes(1..2500),
        modes in prop::collection::vec(
            prop_oneof![Just(ReadMode::Byte), Just(ReadMode::Message)], 1..10),
    ) {
        let (_, reads) = drive(&encode_all(&msgs), &cuts, &bufs, &modes);
        let mut ends = Vec::new();
        let mut at = 0;
        for m in &msgs {
            at += m.len();
            ends.push(at);
        }
        let mut got = Vec::new();
        for (mode, outcome, bytes) in &reads {
            let start = got.len();
            got.extend_from_slice(bytes);
            if *mode != ReadMode::Message {
                continue;
            }
            if bytes.is_empty() {
                // Only a zero-length message gives an empty message read.
                prop_assert_eq!(*outcome, ReadOutcome::Complete(0));
                prop_assert!(ends.contains(&start));
                continue;
            }
            // A message read stays inside the message holding its first
            // byte and, when complete, ends exactly at that message's end.
            let end = *ends.iter().find(|&&e| e > start).unwrap();
            prop_assert!(got.len() <= end);
            prop_assert_eq!(matches!(outcome, ReadOutcome::Complete(_)), got.len() == end);
        }
        prop_assert_eq!(got, msgs.concat());
    }

    #[test]
    fn incomplete_frames_are_never_delivered(
        msgs in messages(), cut in any::<prop::sample::Index>(), cuts in sizes(1..3000),
        bufs in sizes(1..2500),
    ) {
        let wire = encode_all(&msgs);
        let cut = cut.index(wire.len() + 1);
        let mut whole = Vec::new();
        let mut end = 0;
        for m in &msgs {
            end += HEADER_LEN + m.len();
            if end <= cut {
                whole.extend_from_slice(m);
            }
        }
        let at_boundary = cut == 0 || cut == end
            || msgs.iter().scan(0, |e, m| { *e += HEADER_LEN + m.len(); Some(*e) })
                .any(|e| e == cut);
        let (rb, reads) = drive(&wire[..cut], &cuts, &bufs, &[ReadMode::Byte]);
        let got: Vec<u8> = reads.into_iter().flat_map(|(_, _, b)| b).collect();
        prop_assert_eq!(got, whole);
        prop_assert_eq!(rb.finish().is_ok(), at_boundary);
        prop_assert_eq!(rb.is_empty(), at_boundary);
        prop_assert!(!rb.has_message());
    }

    #[test]
    fn peek_totals_match_what_reads_deliver(
        msgs in messages(), peek_len in 0..2500usize,
    ) {
        let mut rb = RecvBuffer::new(4096);
        feed(&mut rb, &encode_all(&msgs));
        for m in &msgs {
            let mut out = vec![0; peek_len];
            let info = rb.peek(&mut out);
            prop_assert_eq!(info.copied, m.len().min(peek_len));
            prop_assert_eq!(&out[..info.copied], &m[..info.copied]);
            prop_assert_eq!(info.copied + info.left_in_message, m.len());
            prop_assert_eq!(info.total_available, rb.buffered_payload());
            let mut buf = vec![0; m.len()];
            prop_assert_eq!(rb.read(&mut buf, ReadMode::Message), Ok(Some(ReadOutcome::Complete(m.len()))));
        }
        prop_assert_eq!(rb.peek(&mut [0; 8]), PeekInfo::default());
    }

    #[test]
    fn garbage_never_panics(
        wire in prop::collection::vec(any::<u8>(), 0..4000),
        max in 0..3000usize,
        cuts in sizes(1..500),
        ops in prop::collection::vec((0..4u8, 0..300usize), 1..40),
    ) {
        let mut rb = RecvBuffer::new(max);
        let mut ops = ops.iter().cycle();
        for chunk in chunks(&wire, &cuts) {
            feed(&mut rb, chunk);
            for _ in 0..8 {
                let &(op, len) = ops.next().unwrap();
                let mut out = vec![0; len];
                match op {
                    0 | 1 => {
                        let mode = if op == 0 { ReadMode::Byte } else { ReadMode::Message };
                        if let Ok(Some(outcome)) = rb.read(&mut out, mode) {
                            prop_assert!(outcome.bytes() <= len);
                            if op == 1 {
                                prop_assert!(outcome.bytes() <= max);
                            }
                        }
                    }
                    2 => {
                        let info = rb.peek(&mut out);
                        prop_assert!(info.copied <= len);
                        prop_assert!(info.copied <= info.total_available);
                    }
                    _ => {
                        let _ = rb.finish();
                    }
                }
            }
        }
    }

    #[test]
    fn control_and_hello_garbage_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..40),
        hello in any::<[u8; HELLO_LEN]>(),
    ) {
        let _ = Control::decode(&bytes);
        if let Ok(h) = Hello::decode(&hello) {
            prop_assert_eq!(h.encode(), hello);
        }
    }
}
