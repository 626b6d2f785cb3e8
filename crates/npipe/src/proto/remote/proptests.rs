//! Property tests of the network codec: frames survive any cutting, and
//! no input makes the decoder or a link panic or hold more than its limit.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn any_frame() -> impl Strategy<Value = Frame> {
    let text = "[a-zA-Z0-9 \\\\.ž-]{0,40}";
    let path = "[a-zA-Z0-9\\\\.ž-]{1,40}";
    let wait = prop_oneof![
        Just(WireWait::No),
        Just(WireWait::Default),
        Just(WireWait::Forever),
        any::<u32>().prop_map(WireWait::Millis),
    ];
    prop_oneof![
        (any::<u32>(), any::<u32>(), text, text).prop_map(|(m, w, t, c)| Frame::ClientHello(
            ClientHello {
                version: 1,
                max_frame: m,
                window: w,
                token: t,
                computer_name: c
            }
        )),
        (1u8..4, wait.clone(), path).prop_map(|(a, wait, path)| Frame::Open(OpenRequest {
            read: a & 1 != 0,
            write: a & 2 != 0,
            wait,
            path
        })),
        (wait, path).prop_map(|(wait, path)| Frame::Wait { wait, path }),
        (any::<u32>(), text).prop_map(|(code, message)| Frame::Error { code, message }),
        proptest::collection::vec(any::<u8>(), 1..300).prop_map(Frame::Data),
        any::<u32>().prop_map(Frame::Credit),
        any::<u32>().prop_map(Frame::Flush),
        (any::<u32>(), any::<u32>()).prop_map(|(id, status)| Frame::Flushed { id, status }),
        any::<u32>().prop_map(Frame::Sync),
        Just(Frame::Eof),
        Just(Frame::Close),
        Just(Frame::Ping),
    ]
}

proptest! {
    #[test]
    fn frames_survive_any_cutting(
        frames in proptest::collection::vec(any_frame(), 0..20),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut wire = Vec::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(0);
        points.push(wire.len());
        points.sort_unstable();
        let mut d = FrameDecoder::new(1 << 16);
        let mut got = Vec::new();
        for pair in points.windows(2) {
            d.push(&wire[pair[0]..pair[1]]);
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn any_bytes_give_frames_or_an_error_within_the_limit(
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
    ) {
        let mut d = FrameDecoder::new(256);
        for piece in &pieces {
            d.push(piece);
            loop {
                match d.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            // Undecoded bytes never exceed one frame plus what came at once.
            prop_assert!(d.buffered() <= FRAME_HEADER_LEN + 256 + piece.len());
        }
    }

    #[test]
    fn a_link_survives_any_bytes(
        server in any::<bool>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        let now = Instant::now();
        let role = if server { Role::Server } else { Role::Client };
        let config = LinkConfig {
            role,
            max_send_frame: 64,
            recv_window: 4096,
            send_window: 4096,
            idle_timeout: Duration::from_secs(1),
            ping_interval: Some(Duration::from_millis(300)),
        };
        let mut link = Link::new(config, FrameDecoder::new(512), now);
        link.handle_input(&bytes, now);
        while let Ok(Some(_)) = link.poll_event() {}
        let mut out = Vec::new();
        let _ = link.poll_transmit(&mut out);
        let _ = link.handle_timeout(now + Duration::from_millis(400));
    }

    #[test]
    fn the_message_check_agrees_with_the_framing(
        msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..10),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut wire = Vec::new();
        for m in &msgs {
            crate::proto::encode_message(m, &mut wire).unwrap();
        }
        let at = cut.index(wire.len() + 1);
        let mut check = MessageCheck::new();
        check.feed(&wire[..at]).unwrap();
        // Inside a message unless the cut falls on a frame boundary.
        let mut boundaries = vec![0];
        for m in &msgs {
            boundaries.push(boundaries.last().unwrap() + 4 + m.len());
        }
        prop_assert_eq!(check.inside_message(), !boundaries.contains(&at));
    }
}
