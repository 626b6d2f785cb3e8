//! Futures dropped at random points: by a time-out of a few microseconds,
//! or by losing a `select!` to a branch that is ready at once. After each
//! drop the test goes on with the same handle, and at the end every
//! message must have arrived whole, in order, once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use npipe::tokio::{NamedPipeClient, NamedPipeServer, PipeListener};
use npipe::{Error, MessageRead};

use crate::support::{run, TestRoot};

/// A small xorshift generator; the seed is printed so a failure can be
/// replayed.
struct Rng(u64);

impl Rng {
    fn new(name: &str) -> Rng {
        let seed = std::env::var("NPIPE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("{name}: NPIPE_TEST_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs `fut`, dropping it at a random point: `None` if it was dropped.
async fn maybe_cancel<F: Future>(rng: &mut Rng, fut: F) -> Option<F::Output> {
    match rng.below(3) {
        2 => Some(fut.await),
        _ => cancel_soon(rng, fut).await,
    }
}

/// Runs `fut` for a moment only: `None` if it did not finish in that time.
async fn cancel_soon<F: Future>(rng: &mut Rng, fut: F) -> Option<F::Output> {
    match rng.below(2) {
        0 => tokio::time::timeout(Duration::from_micros(rng.below(300)), fut)
            .await
            .ok(),
        _ => {
            tokio::select! {
                out = fut => Some(out),
                () = tokio::task::yield_now() => None,
            }
        }
    }
}

/// Message `seq`: its number and length, then a pattern; `len` >= 12.
fn message(seq: u64, len: usize) -> Vec<u8> {
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&(len as u32).to_le_bytes());
    m.extend((12..len).map(|k| ((seq as usize * 7 + k) % 251) as u8));
    m
}

/// Checks a received message; returns its number.
fn check(m: &[u8]) -> u64 {
    assert!(m.len() >= 12, "a message of {} bytes: split", m.len());
    let seq = u64::from_le_bytes(m[..8].try_into().unwrap());
    let len = u32::from_le_bytes(m[8..12].try_into().unwrap()) as usize;
    assert_eq!(
        m.len(),
        len,
        "message {seq} arrived with {} of {len} bytes",
        m.len()
    );
    assert!(m == &message(seq, len)[..], "message {seq} is corrupt");
    seq
}

fn size(rng: &mut Rng) -> usize {
    match rng.below(10) {
        0 => 12 + rng.below(400_000) as usize, // larger than a socket buffer
        1..=3 => 12 + rng.below(20_000) as usize,
        _ => 12 + rng.below(200) as usize,
    }
}

async fn pair(root: &TestRoot, name: &str) -> (NamedPipeServer, NamedPipeClient) {
    let server = NamedPipeServer::create(&root.server(), name).unwrap();
    let client = NamedPipeClient::open(&root.client(), name).unwrap();
    server.connect().await.unwrap();
    (server, client)
}

#[test]
fn dropped_reads_lose_nothing_and_split_nothing() {
    let root = TestRoot::new("cancel-read");
    let mut rng = Rng::new("dropped_reads_lose_nothing_and_split_nothing");
    run(async move {
        let (server, client) = pair(&root, r"\\.\pipe\cancel-read").await;
        const N: u64 = 300;
        let sizes: Vec<usize> = (0..N).map(|_| size(&mut rng)).collect();
        let writer = tokio::spawn(async move {
            for (seq, &len) in sizes.iter().enumerate() {
                server
                    .write_message(&message(seq as u64, len))
                    .await
                    .unwrap();
                if seq % 10 == 0 {
                    server.write_message(b"").await.unwrap();
                    tokio::task::yield_now().await;
                }
            }
            server.flush().await.unwrap();
        });
        let mut next = 0;
        let mut dropped = 0;
        let mut whole = Vec::new();
        let mut buf = vec![0u8; 500_000];
        while next < N {
            // Random buffer sizes: long messages come in MoreData pieces.
            let cap = [500_000, 1 + rng.below(70_000) as usize][rng.below(2) as usize];
            let Some(got) = maybe_cancel(&mut rng, client.read_message(&mut buf[..cap])).await
            else {
                dropped += 1;
                continue;
            };
            let got = got.unwrap();
            whole.extend_from_slice(&buf[..got.len()]);
            if got.is_complete() {
                if whole.is_empty() {
                    assert_eq!(next % 10, 1, "an empty message where {next} was due");
                    continue;
                }
                assert_eq!(check(&whole), next, "out of order");
                whole.clear();
                next += 1;
            }
        }
        writer.await.unwrap();
        eprintln!("{dropped} reads dropped");
        assert!(dropped > 0);
        // Nothing is left over: the server closed after its last message.
        let end = client.read_message(&mut buf).await;
        assert!(matches!(end, Err(Error::BrokenPipe)), "{end:?}");
    });
}

#[test]
fn dropped_writes_never_split_or_double_a_message() {
    let root = TestRoot::new("cancel-write");
    let mut rng = Rng::new("dropped_writes_never_split_or_double_a_message");
    run(async move {
        let (server, client) = pair(&root, r"\\.\pipe\cancel-write").await;
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 500_000];
            let mut seen = Vec::new();
            loop {
                match server.read_message(&mut buf).await {
                    Ok(MessageRead::Complete(n)) => seen.push(check(&buf[..n])),
                    Ok(other) => panic!("{other:?}: buffer too small"),
                    Err(Error::BrokenPipe) => break,
                    Err(e) => panic!("{e}"),
                }
                // Read slowly now and then, so the socket fills up.
                if seen.len() % 16 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            seen
        });
        let mut completed = Vec::new();
        let mut dropped = Vec::new();
        for seq in 0..400u64 {
            let msg = message(seq, size(&mut rng));
            match maybe_cancel(&mut rng, client.write_message(&msg)).await {
                Some(result) => {
                    assert_eq!(result.unwrap(), msg.len());
                    completed.push(seq);
                }
                None => dropped.push(seq),
            }
        }
        // A message taken by a dropped write may still have a rest to send.
        client.flush().await.unwrap();
        drop(client);
        let seen = reader.await.unwrap();
        eprintln!(
            "{} writes dropped, {} of them delivered",
            dropped.len(),
            seen.iter().filter(|s| dropped.contains(s)).count()
        );
        assert!(!dropped.is_empty());
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "out of order or doubled: {seen:?}"
        );
        for seq in &completed {
            assert!(
                seen.contains(seq),
                "message {seq} was written but never arrived"
            );
        }
        for seq in &seen {
            assert!(completed.contains(seq) || dropped.contains(seq));
        }
    });
}

#[test]
fn dropped_transacts_leave_the_reply_for_the_next_read() {
    let root = TestRoot::new("cancel-transact");
    let mut rng = Rng::new("dropped_transacts_leave_the_reply_for_the_next_read");
    run(async move {
        let (server, client) = pair(&root, r"\\.\pipe\cancel-transact").await;
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 500_000];
            let mut served = 0u64;
            while let Ok(got) = server.read_message(&mut buf).await {
                server.write_message(&buf[..got.len()]).await.unwrap();
                served += 1;
            }
            served
        });
        let mut out = vec![0u8; 500_000];
        let mut replies = 0;
        for seq in 0..150u64 {
            let request = message(seq, size(&mut rng));
            match maybe_cancel(&mut rng, client.transact(&request, &mut out)).await {
                Some(got) => {
                    assert_eq!(check(&out[..got.unwrap().len()]), seq);
                    replies += 1;
                }
                None => {
                    // The request may or may not have gone; if it went, its
                    // reply comes whole to a plain read, before the echo of
                    // a marker sent now.
                    client.write_message(&message(u64::MAX, 12)).await.unwrap();
                    loop {
                        let got = client.read_message(&mut out).await.unwrap();
                        match check(&out[..got.len()]) {
                            u64::MAX => break,
                            reply => {
                                assert_eq!(reply, seq);
                                replies += 1;
                            }
                        }
                    }
                    replies += 1; // the marker's
                }
            }
        }
        drop(client);
        assert_eq!(echo.await.unwrap(), replies);
    });
}

#[test]
fn dropped_connects_and_accepts_lose_no_client() {
    let root = TestRoot::new("cancel-accept");
    let name = r"\\.\pipe\cancel-accept";
    let mut rng = Rng::new("dropped_connects_and_accepts_lose_no_client");
    run(async move {
        let mut options = root.server();
        options.max_instances(4);
        let mut listener = PipeListener::bind(&options, name).unwrap();
        const CLIENTS: u64 = 40;
        let client_options = Arc::new(root.client());
        let mut clients = Vec::new();
        for id in 0..CLIENTS {
            let client_options = Arc::clone(&client_options);
            clients.push(tokio::spawn(async move {
                let client =
                    NamedPipeClient::open_wait(&client_options, name, Duration::from_secs(20))
                        .await
                        .unwrap();
                let mut out = [0u8; 64];
                let got = client.transact(&message(id, 20), &mut out).await.unwrap();
                assert_eq!(check(&out[..got.len()]), id);
            }));
        }
        let mut served = 0;
        let mut dropped = 0;
        let mut handlers = Vec::new();
        while served < CLIENTS {
            let Some(server) = maybe_cancel(&mut rng, listener.accept()).await else {
                dropped += 1;
                continue;
            };
            let server = server.unwrap();
            served += 1;
            handlers.push(tokio::spawn(async move {
                let mut buf = [0u8; 64];
                let got = server.read_message(&mut buf).await.unwrap();
                server.write_message(&buf[..got.len()]).await.unwrap();
                let _ = server.read_message(&mut buf).await; // until the client closes
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        for h in handlers {
            h.await.unwrap();
        }
        eprintln!("{dropped} accepts dropped");
        assert!(dropped > 0);

        // connect() itself, dropped while a client arrives.
        let server = NamedPipeServer::create(&root.server(), r"\\.\pipe\cancel-connect").unwrap();
        let client = tokio::spawn({
            let client_options = Arc::clone(&client_options);
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let client =
                    NamedPipeClient::open(&client_options, r"\\.\pipe\cancel-connect").unwrap();
                client.write_message(b"arrived").await.unwrap();
                client
            }
        });
        while maybe_cancel(&mut rng, server.connect()).await.is_none() {}
        let mut buf = [0u8; 16];
        let got = server.read_message(&mut buf).await.unwrap();
        assert_eq!(&buf[..got.len()], b"arrived");
        drop(client.await.unwrap());
    });
}

#[test]
fn dropped_waits_leave_no_watch_behind() {
    let root = TestRoot::new("cancel-wait");
    let name = r"\\.\pipe\cancel-wait";
    let mut rng = Rng::new("dropped_waits_leave_no_watch_behind");
    run(async move {
        let server = NamedPipeServer::create(root.server().max_instances(1), name).unwrap();
        let first = NamedPipeClient::open(&root.client(), name).unwrap();
        server.connect().await.unwrap();
        assert_eq!(watches_on(&root), 0);
        // All instances busy: every wait blocks, and each is dropped.
        let options = root.client();
        for _ in 0..200 {
            let wait = NamedPipeClient::wait(&options, name, Duration::from_secs(10));
            assert!(cancel_soon(&mut rng, wait).await.is_none());
        }
        let waiters: Vec<_> = (0..50)
            .map(|_| {
                let options = options.clone();
                tokio::spawn(async move {
                    NamedPipeClient::wait(&options, name, Duration::from_secs(10)).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(watches_on(&root), 1, "one watch for all waiters");
        server.disconnect().unwrap();
        drop(first);
        let relisten = tokio::spawn(async move {
            // connect() listens again; the waiters see the free instance.
            server.connect().await.unwrap();
            server
        });
        for w in waiters {
            w.await.unwrap().unwrap();
        }
        drop(relisten);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            watches_on(&root),
            0,
            "the watch closes with its last waiter"
        );
    });
}

/// inotify descriptors of this process that watch the one pipe directory
/// under `root` (other tests running beside this one have their own).
fn watches_on(root: &TestRoot) -> usize {
    use std::os::unix::fs::MetadataExt;
    let Some(dir) = std::fs::read_dir(root.path().join("pipe"))
        .ok()
        .and_then(|mut d| d.next())
    else {
        return 0;
    };
    let ino = format!("ino:{:x} ", dir.unwrap().metadata().unwrap().ino());
    std::fs::read_dir("/proc/self/fdinfo")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|info| {
            info.lines()
                .any(|l| l.starts_with("inotify") && l.contains(&ino))
        })
        .count()
}
