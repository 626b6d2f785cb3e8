//! Any bytes into the network protocol's decoders: the frame decoder (cut
//! in two at a point the input chooses), a link in either role, the
//! message-stream check and the local hello's remote claim. None may
//! panic, loop or buffer more than its limit.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use npipe::proto::remote::{FrameDecoder, Link, LinkConfig, MessageCheck, Role};
use npipe::proto::RemoteClaim;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let mut decoder = FrameDecoder::new(1 << 12);
    for piece in [&data[..cut], &data[cut..]] {
        decoder.push(piece);
        while let Ok(Some(_)) = decoder.next_frame() {}
        assert!(decoder.buffered() <= 5 + (1 << 12) + data.len());
    }

    let now = Instant::now();
    for role in [Role::Client, Role::Server] {
        let config = LinkConfig {
            role,
            max_send_frame: 1 << 12,
            recv_window: 1 << 14,
            send_window: 1 << 14,
            idle_timeout: Duration::from_secs(1),
            ping_interval: Some(Duration::from_millis(300)),
        };
        let mut link = Link::new(config, FrameDecoder::new(1 << 12), now);
        link.handle_input(data, now);
        while let Ok(Some(_)) = link.poll_event() {}
        let _ = link.handle_timeout(now + Duration::from_millis(500));
        let mut out = Vec::new();
        let _ = link.poll_transmit(&mut out);
    }

    let mut check = MessageCheck::new();
    let _ = check.feed(data);
    let _ = RemoteClaim::decode(data);
});
