//! `FlushFileBuffers` across npiped, both ways and in both front ends: a
//! flush returns once the *remote* reader has read everything, never when
//! the bytes merely reached npiped or the local relay.
//!
//! Each test writes, starts the flush, checks after a pause that it has
//! not returned (a flag, not a timing: a slow machine only makes the pause
//! longer), then reads and sees the flush return.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use npipe::{Error, PipeMode, ReadMode};

use crate::support::*;

/// Long enough for a flush that does not wait to have returned.
const PAUSE: Duration = Duration::from_millis(300);

/// Runs `flush` on a thread; the flag says when it returned.
fn flushing<T: Send + 'static>(
    flush: impl FnOnce() -> T + Send + 'static,
) -> (Arc<AtomicBool>, std::thread::JoinHandle<T>) {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let thread = std::thread::spawn(move || {
        let result = flush();
        flag.store(true, Ordering::SeqCst);
        result
    });
    (done, thread)
}

#[test]
fn the_servers_flush_waits_for_the_remote_reader() {
    let w = World::new("server-flush");
    let server = Arc::new(w.server().create(r"\\.\pipe\sflush").unwrap());
    let client = w.client().open(r"\\localhost\pipe\sflush").unwrap();
    server.connect().unwrap();
    // More than a socket buffer, less than npiped's window: all of it
    // leaves the server at once and waits in the client's pump.
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    (&*server).write_all(&data).unwrap();
    let s = Arc::clone(&server);
    let (done, flusher) = flushing(move || s.flush_buffers());
    std::thread::sleep(PAUSE);
    assert!(
        !done.load(Ordering::SeqCst),
        "the server's flush returned before the remote client read anything"
    );
    let mut got = vec![0u8; data.len()];
    (&client).read_exact(&mut got).unwrap();
    assert!(got == data, "the data changed on the way");
    let result = within(Duration::from_secs(10), move || flusher.join().unwrap());
    result.unwrap();

    // A second flush with nothing new written returns at once.
    let server = within(Duration::from_secs(10), move || {
        server.flush_buffers().unwrap();
        server
    });
    // And the stream goes on after a flush, both ways.
    (&*server).write_all(b"more").unwrap();
    let mut more = [0u8; 4];
    let client = within(Duration::from_secs(10), move || {
        (&client).read_exact(&mut more).unwrap();
        assert_eq!(&more, b"more");
        client
    });
    (&client).write_all(b"back").unwrap();
    (&*server).read_exact(&mut more).unwrap();
    assert_eq!(&more, b"back");
}

#[test]
fn the_servers_flush_waits_for_every_message_to_be_read() {
    let w = World::new("server-flush-msg");
    let server = Arc::new(
        w.server()
            .pipe_mode(PipeMode::Message)
            .create(r"\\.\pipe\mflush")
            .unwrap(),
    );
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\mflush").unwrap();
    server.connect().unwrap();
    for i in 0..3u8 {
        server.write_message(&[i; 100]).unwrap();
    }
    let s = Arc::clone(&server);
    let (done, flusher) = flushing(move || s.flush_buffers());
    let mut buf = [0u8; 100];
    for i in 0..2u8 {
        assert_eq!(client.read_message(&mut buf).unwrap().len(), 100);
        assert_eq!(buf, [i; 100]);
    }
    std::thread::sleep(PAUSE);
    assert!(
        !done.load(Ordering::SeqCst),
        "the flush returned with one message still unread"
    );
    assert_eq!(client.read_message(&mut buf).unwrap().len(), 100);
    assert_eq!(buf, [2; 100]);
    within(Duration::from_secs(10), move || flusher.join().unwrap()).unwrap();
}

#[test]
fn the_servers_flush_fails_when_the_remote_client_closes_without_reading() {
    let w = World::new("server-flush-closed");
    let server = Arc::new(w.server().create(r"\\.\pipe\cflush").unwrap());
    let client = w.client().open(r"\\localhost\pipe\cflush").unwrap();
    server.connect().unwrap();
    (&*server).write_all(b"never read").unwrap();
    let s = Arc::clone(&server);
    let (done, flusher) = flushing(move || s.flush_buffers());
    std::thread::sleep(PAUSE);
    assert!(!done.load(Ordering::SeqCst));
    drop(client);
    let err = within(Duration::from_secs(10), move || flusher.join().unwrap()).unwrap_err();
    // As a local flush whose reader closes: the pipe is gone.
    assert!(
        matches!(err, Error::NoData | Error::BrokenPipe),
        "unexpected error: {err}"
    );
}

#[test]
fn a_flush_after_the_remote_client_read_everything_and_closed_succeeds() {
    let w = World::new("server-flush-after");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\aflush")
        .unwrap();
    let client = w.client().open(r"\\localhost\pipe\aflush").unwrap();
    server.connect().unwrap();
    server.write_message(b"read me").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(client.read_message(&mut buf).unwrap().len(), 7);
    drop(client);
    // Wait until the close has come through: the server reads its end.
    let err = within(Duration::from_secs(10), {
        let server = Arc::new(server);
        move || {
            let err = server.read_message(&mut [0u8; 4]).unwrap_err();
            (err, server)
        }
    });
    let (err, server) = err;
    assert!(matches!(err, Error::BrokenPipe), "{err}");
    // As locally: the client read everything, so the flush is done.
    within(Duration::from_secs(10), move || server.flush_buffers()).unwrap();
}

#[test]
fn a_flush_after_the_remote_client_closed_without_reading_fails() {
    let w = World::new("server-flush-unread");
    let server = Arc::new(w.server().create(r"\\.\pipe\uflush").unwrap());
    let client = w.client().open(r"\\localhost\pipe\uflush").unwrap();
    server.connect().unwrap();
    (&*server).write_all(b"never read").unwrap();
    drop(client);
    let s = Arc::clone(&server);
    let err = within(Duration::from_secs(10), move || {
        s.read_message(&mut [0u8; 4]).unwrap_err()
    });
    assert!(matches!(err, Error::BrokenPipe), "{err}");
    let err = within(Duration::from_secs(10), move || server.flush_buffers()).unwrap_err();
    assert!(
        matches!(err, Error::NoData | Error::BrokenPipe),
        "unexpected error: {err}"
    );
}

#[test]
fn disconnecting_ends_a_servers_flush_waiting_for_the_remote_reader() {
    let w = World::new("server-flush-dc");
    let server = Arc::new(w.server().create(r"\\.\pipe\dflush").unwrap());
    let client = w.client().open(r"\\localhost\pipe\dflush").unwrap();
    server.connect().unwrap();
    (&*server).write_all(b"unread").unwrap();
    let s = Arc::clone(&server);
    let (done, flusher) = flushing(move || s.flush_buffers());
    std::thread::sleep(PAUSE);
    assert!(!done.load(Ordering::SeqCst));
    server.disconnect().unwrap();
    let err = within(Duration::from_secs(10), move || flusher.join().unwrap()).unwrap_err();
    assert!(matches!(err, Error::PipeNotConnected), "{err}");
    // Across npiped, what the server wrote before is still delivered, then
    // the disconnect (docs/REMOTE.md).
    let mut buf = [0u8; 8];
    assert_eq!(client.read_message(&mut buf).unwrap().len(), 6);
    assert_eq!(&buf[..6], b"unread");
    let err = client.read_message(&mut buf).unwrap_err();
    assert!(matches!(err, Error::PipeNotConnected), "{err}");
}

#[test]
fn an_async_servers_flush_waits_for_the_remote_reader() {
    let w = World::new("async-server-flush");
    let options = w.client();
    let rt = runtime();
    rt.block_on(async {
        let server = Arc::new(
            npipe::tokio::NamedPipeServer::create(&w.server(), r"\\.\pipe\asflush").unwrap(),
        );
        let client =
            tokio::task::spawn_blocking(move || options.open(r"\\localhost\pipe\asflush").unwrap());
        tokio::time::timeout(Duration::from_secs(10), server.connect())
            .await
            .expect("connect timed out")
            .unwrap();
        let client = client.await.unwrap();
        server.write_message(&[9u8; 5000]).await.unwrap();
        let s = Arc::clone(&server);
        let flush = tokio::spawn(async move { s.flush().await });
        tokio::time::sleep(PAUSE).await;
        assert!(
            !flush.is_finished(),
            "the async server's flush returned before the remote read"
        );
        let reader = tokio::task::spawn_blocking(move || {
            let mut got = vec![0u8; 5000];
            (&client).read_exact(&mut got).unwrap();
            (got, client)
        });
        let (got, client) = reader.await.unwrap();
        assert_eq!(got, vec![9u8; 5000]);
        tokio::time::timeout(Duration::from_secs(10), flush)
            .await
            .expect("the flush did not return after the read")
            .unwrap()
            .unwrap();

        // AsyncWrite::poll_flush takes the same path.
        use tokio::io::AsyncWriteExt;
        let mut writer = &*server;
        writer.write_all(b"poll").await.unwrap();
        let s = Arc::clone(&server);
        let flush = tokio::spawn(async move {
            let mut writer: &npipe::tokio::NamedPipeServer = &s;
            tokio::io::AsyncWriteExt::flush(&mut writer).await
        });
        tokio::time::sleep(PAUSE).await;
        assert!(!flush.is_finished(), "poll_flush returned before the read");
        tokio::task::spawn_blocking(move || {
            let mut got = [0u8; 4];
            (&client).read_exact(&mut got).unwrap();
            assert_eq!(&got, b"poll");
            client
        })
        .await
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), flush)
            .await
            .expect("poll_flush did not return after the read")
            .unwrap()
            .unwrap();
    });
}

#[test]
fn an_async_remote_clients_flush_waits_for_the_servers_read() {
    let w = World::new("async-client-flush");
    let server = w.server().create(r"\\.\pipe\acflush").unwrap();
    let options = w.client();
    let rt = runtime();
    rt.block_on(async {
        let client = npipe::tokio::NamedPipeClient::open_wait(
            &options,
            r"\\localhost\pipe\acflush",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let server = tokio::task::spawn_blocking(move || {
            server.connect().unwrap();
            server
        })
        .await
        .unwrap();
        let client = Arc::new(client);
        client.write_message(&[3u8; 2000]).await.unwrap();
        let c = Arc::clone(&client);
        let flush = tokio::spawn(async move { c.flush().await });
        tokio::time::sleep(PAUSE).await;
        assert!(
            !flush.is_finished(),
            "the async client's flush returned before the server read"
        );
        let server = tokio::task::spawn_blocking(move || {
            let mut got = vec![0u8; 2000];
            (&server).read_exact(&mut got).unwrap();
            assert_eq!(got, vec![3u8; 2000]);
            server
        })
        .await
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), flush)
            .await
            .expect("the flush did not return after the read")
            .unwrap()
            .unwrap();

        use tokio::io::AsyncWriteExt;
        let mut writer = &*client;
        writer.write_all(b"poll").await.unwrap();
        let c = Arc::clone(&client);
        let flush = tokio::spawn(async move {
            let mut writer: &npipe::tokio::NamedPipeClient = &c;
            tokio::io::AsyncWriteExt::flush(&mut writer).await
        });
        tokio::time::sleep(PAUSE).await;
        assert!(!flush.is_finished(), "poll_flush returned before the read");
        let reader = tokio::task::spawn_blocking(move || {
            let mut got = [0u8; 4];
            (&server).read_exact(&mut got).unwrap();
            assert_eq!(&got, b"poll");
            server
        });
        tokio::time::timeout(Duration::from_secs(10), flush)
            .await
            .expect("poll_flush did not return after the read")
            .unwrap()
            .unwrap();
        // The server stays open until the flush was seen to end.
        drop(reader.await.unwrap());
    });
}
