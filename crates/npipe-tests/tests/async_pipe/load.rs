//! 1,000 concurrent clients against one async server: 255 instances at a
//! time (the most a name may have), the others waiting for a free one with
//! the async wait; each exchanges 100 messages, every one checked.
//!
//! Sizes, per client and message (a hash of both picks the class):
//! message 0 is empty; message 50 of every 20th client is exactly 1 MiB;
//! otherwise 1 % are large (64 KiB to 192 KiB; 32 to 96 KiB in debug
//! builds), 9 % medium (1 to 16 KiB), and the rest small (1 to 512
//! bytes). That is about 100 MB each way in release, a third of that in
//! debug, so the run stays within seconds on two cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use npipe::tokio::{NamedPipeClient, PipeListener};
use npipe::{Error, MessageRead, WaitTimeout};

use crate::support::{raise_fd_limit, runtime, thread_count, TestRoot};

const CLIENTS: usize = 1000;
const MESSAGES: usize = 100;
const MIB: usize = 1 << 20;

fn size(client: usize, i: usize) -> usize {
    if i == 0 {
        return 0;
    }
    if i == 50 && client.is_multiple_of(20) {
        return MIB;
    }
    let h = (client as u64 * 1_000_003 + i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20;
    let large = if cfg!(debug_assertions) {
        32 * 1024
    } else {
        64 * 1024
    };
    match h % 100 {
        0 => large + (h as usize / 100) % (2 * large),
        1..=9 => 1024 + (h as usize / 100) % (15 * 1024),
        _ => 1 + (h as usize / 100) % 512,
    }
}

/// Message contents are windows of one pattern, so checking is a memcmp.
fn pattern() -> Arc<Vec<u8>> {
    Arc::new((0..2 * MIB + 4096).map(|k| (k % 251) as u8).collect())
}

fn window(pattern: &[u8], client: usize, i: usize, len: usize) -> &[u8] {
    let offset = (client * 7919 + i * 104_729) % (MIB + 4096);
    &pattern[offset..offset + len]
}

#[test]
fn a_thousand_clients_against_one_async_server() {
    raise_fd_limit();
    let root = TestRoot::new("load");
    let name = r"\\.\pipe\load";
    let rt = runtime();
    let start = Instant::now();
    let (max_threads, max_connected, waited) = rt.block_on(async {
        let pattern = pattern();
        let connected = Arc::new(AtomicUsize::new(0));
        let max_connected = Arc::new(AtomicUsize::new(0));
        let mut listener = PipeListener::bind(&root.server(), name).unwrap();
        let server = {
            let connected = Arc::clone(&connected);
            let max_connected = Arc::clone(&max_connected);
            tokio::spawn(async move {
                let mut handlers = Vec::new();
                for _ in 0..CLIENTS {
                    let instance = listener.accept().await.unwrap();
                    let now = connected.fetch_add(1, Ordering::Relaxed) + 1;
                    max_connected.fetch_max(now, Ordering::Relaxed);
                    let connected = Arc::clone(&connected);
                    handlers.push(tokio::spawn(async move {
                        let mut buf = vec![0u8; MIB];
                        let mut echoed = 0;
                        loop {
                            match instance.read_message(&mut buf).await {
                                Ok(MessageRead::Complete(n)) => {
                                    instance.write_message(&buf[..n]).await.unwrap();
                                    echoed += 1;
                                }
                                Ok(other) => panic!("{other:?}"),
                                Err(Error::BrokenPipe) => break,
                                Err(e) => panic!("server: {e}"),
                            }
                        }
                        connected.fetch_sub(1, Ordering::Relaxed);
                        assert_eq!(echoed, MESSAGES);
                    }));
                }
                for h in handlers {
                    h.await.unwrap();
                }
            })
        };
        let waited = Arc::new(AtomicUsize::new(0));
        let opened = Arc::new(AtomicUsize::new(0));
        let all_in = Arc::new(tokio::sync::watch::Sender::new(0usize));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let options = root.client();
                let pattern = Arc::clone(&pattern);
                let waited = Arc::clone(&waited);
                let opened = Arc::clone(&opened);
                let all_in = Arc::clone(&all_in);
                tokio::spawn(async move {
                    let client = match NamedPipeClient::open(&options, name) {
                        Err(Error::PipeBusy { .. }) => {
                            waited.fetch_add(1, Ordering::Relaxed);
                            NamedPipeClient::open_wait(&options, name, WaitTimeout::Forever).await
                        }
                        other => other,
                    }
                    .unwrap_or_else(|e| panic!("client {c}: {e}"));
                    // The first 255 to connect hold on until all of them
                    // are in, so every instance is busy at once and the
                    // rest must wait for one to come free.
                    let order = opened.fetch_add(1, Ordering::Relaxed);
                    all_in.send_modify(|n| *n += 1);
                    if order < 255 {
                        let mut all_in = all_in.subscribe();
                        all_in.wait_for(|&n| n >= 255).await.unwrap();
                    }
                    let mut buf = vec![0u8; MIB];
                    for i in 0..MESSAGES {
                        let msg = window(&pattern, c, i, size(c, i));
                        client.write_message(msg).await.unwrap();
                        let got = client.read_message(&mut buf).await.unwrap();
                        assert_eq!(
                            got,
                            MessageRead::Complete(msg.len()),
                            "client {c} message {i}"
                        );
                        assert!(&buf[..msg.len()] == msg, "client {c} message {i} differs");
                    }
                })
            })
            .collect();
        let max_threads = Arc::new(AtomicUsize::new(thread_count()));
        let sampler = {
            let max_threads = Arc::clone(&max_threads);
            tokio::spawn(async move {
                loop {
                    max_threads.fetch_max(thread_count(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let all = async {
            for c in clients {
                c.await.unwrap();
            }
            server.await.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(120), all)
            .await
            .expect("the clients did not finish in time");
        sampler.abort();
        (
            max_threads.load(Ordering::Relaxed),
            max_connected.load(Ordering::Relaxed),
            waited.load(Ordering::Relaxed),
        )
    });
    let elapsed = start.elapsed();
    eprintln!(
        "{CLIENTS} clients x {MESSAGES} messages in {elapsed:?}; at most {max_connected} \
         connected at once; {waited} clients found every instance busy and waited; \
         at most {max_threads} threads in the test process"
    );
    assert!(waited > 0, "no client had to wait");
    assert!(
        (200..=255).contains(&max_connected),
        "{max_connected} connected at once"
    );
    // Two runtime workers, the test harness and whatever other tests run
    // beside this one: a few dozen at most, nowhere near one per client.
    assert!(max_threads < 64, "{max_threads} threads");
}
