//! Pipe semantics across npiped on loopback: the library as client.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use npipe::{Error, MessageRead, PipeMode, ReadMode, WaitTimeout};

use crate::support::*;

#[test]
fn byte_mode_round_trip_both_ways() {
    let w = World::new("bytes");
    let server = w.server().create(r"\\.\pipe\bytes").unwrap();
    let client = w.client().open(r"\\localhost\pipe\bytes").unwrap();
    server.connect().unwrap();
    (&client).write_all(b"hello over the network").unwrap();
    let mut buf = [0u8; 22];
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hello over the network");
    (&server).write_all(b"and back").unwrap();
    let mut back = [0u8; 8];
    (&client).read_exact(&mut back).unwrap();
    assert_eq!(&back, b"and back");
}

#[test]
fn message_boundaries_more_data_and_zero_length_messages() {
    let w = World::new("messages");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\msgs")
        .unwrap();
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\msgs").unwrap();
    server.connect().unwrap();
    for m in [&b"first"[..], b"", b"a longer third message"] {
        server.write_message(m).unwrap();
    }
    let mut buf = [0u8; 64];
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(5)
    );
    assert_eq!(&buf[..5], b"first");
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(0)
    );
    let mut small = [0u8; 8];
    assert_eq!(
        client.read_message(&mut small).unwrap(),
        MessageRead::MoreData(8)
    );
    assert_eq!(&small, b"a longer");
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(14)
    );
    assert_eq!(&buf[..14], b" third message");
    // The other way, and a message bigger than the network window, so
    // the reader must read while the writer writes (as locally).
    let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
    let expected = big.clone();
    let writer = std::thread::spawn(move || {
        client.write_message(&big).unwrap();
        client.write_message(b"after").unwrap();
        client
    });
    let mut got = Vec::new();
    server.read_message_to_end(&mut got).unwrap();
    assert!(got == expected, "the big message came back different");
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(5)
    );
    let _client = writer.join().unwrap();
}

#[test]
fn peek_sees_what_the_server_wrote() {
    let w = World::new("peek");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\peek")
        .unwrap();
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\peek").unwrap();
    server.connect().unwrap();
    assert_eq!(client.peek(&mut []).unwrap().total_available, 0);
    server.write_message(b"peek at me").unwrap();
    let mut buf = [0u8; 4];
    let info = client.peek(&mut buf).unwrap();
    assert_eq!(
        (info.copied, info.total_available, info.left_in_message),
        (4, 10, 6)
    );
    assert_eq!(&buf, b"peek");
    let mut all = [0u8; 16];
    assert_eq!(
        client.read_message(&mut all).unwrap(),
        MessageRead::Complete(10)
    );
}

#[test]
fn transact_and_call() {
    let w = World::new("transact");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\rpc")
        .unwrap();
    let echo = reversing_echo(server, 2);
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\rpc").unwrap();
    let mut out = [0u8; 16];
    assert_eq!(
        client.transact(b"abc", &mut out).unwrap(),
        MessageRead::Complete(3)
    );
    assert_eq!(&out[..3], b"cba");
    drop(client);
    let got = w
        .client()
        .call(
            r"\\localhost\pipe\rpc",
            b"xyz",
            &mut out,
            Duration::from_secs(5),
        )
        .unwrap();
    assert_eq!(&out[..got.len()], b"zyx");
    echo.join().unwrap();
}

#[test]
fn transact_refuses_with_unread_data_waiting() {
    let w = World::new("transact-busy");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\tbusy")
        .unwrap();
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\tbusy").unwrap();
    server.connect().unwrap();
    server.write_message(b"unread").unwrap();
    let mut out = [0u8; 16];
    assert!(matches!(
        client.transact(b"q", &mut out),
        Err(Error::PipeBusy { .. })
    ));
}

#[test]
fn busy_then_wait_for_a_free_instance() {
    let w = World::new("wait");
    let server = w.server().max_instances(1).create(r"\\.\pipe\one").unwrap();
    let options = w.client();
    let first = options.open(r"\\localhost\pipe\one").unwrap();
    server.connect().unwrap();
    assert!(matches!(
        options.open(r"\\localhost\pipe\one"),
        Err(Error::PipeBusy { .. })
    ));
    let started = Instant::now();
    assert!(matches!(
        options.wait(r"\\localhost\pipe\one", Duration::from_millis(300)),
        Err(Error::Timeout)
    ));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(matches!(
        options.wait(r"\\localhost\pipe\nobody", WaitTimeout::Forever),
        Err(Error::FileNotFound { .. })
    ));
    let freer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(first);
        server.disconnect().unwrap();
        server.connect().unwrap();
        server
    });
    options
        .wait(r"\\localhost\pipe\one", Duration::from_secs(10))
        .unwrap();
    let second = options
        .open_timeout(r"\\localhost\pipe\one", Duration::from_secs(10))
        .unwrap();
    let server = freer.join().unwrap();
    (&second).write_all(b"ok").unwrap();
    let mut buf = [0u8; 2];
    (&server).read_exact(&mut buf).unwrap();
}

#[test]
fn disconnect_by_the_server_reads_as_not_connected() {
    let w = World::new("disconnect");
    let server = w.server().create(r"\\.\pipe\dc").unwrap();
    let client = w.client().open(r"\\localhost\pipe\dc").unwrap();
    server.connect().unwrap();
    server.disconnect().unwrap();
    let err = within(Duration::from_secs(10), move || {
        let mut buf = [0u8; 4];
        client.read_message(&mut buf).unwrap_err()
    });
    assert!(matches!(err, Error::PipeNotConnected), "{err}");
}

#[test]
fn close_by_either_side_reads_as_broken_pipe() {
    let w = World::new("close");
    let server = w.server().create(r"\\.\pipe\close").unwrap();
    let client = w.client().open(r"\\localhost\pipe\close").unwrap();
    server.connect().unwrap();
    (&server).write_all(b"last words").unwrap();
    drop(server);
    let mut got = Vec::new();
    (&client).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"last words");
    assert!(matches!(
        client.read_message(&mut [0u8; 4]),
        Err(Error::BrokenPipe)
    ));

    let server = w.server().create(r"\\.\pipe\close2").unwrap();
    let client = w.client().open(r"\\localhost\pipe\close2").unwrap();
    server.connect().unwrap();
    (&client).write_all(b"bye").unwrap();
    drop(client);
    let mut got = Vec::new();
    (&server).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    assert!(matches!(
        server.read_message(&mut [0u8; 4]),
        Err(Error::BrokenPipe)
    ));
}

#[test]
fn flush_waits_for_the_remote_reader() {
    let w = World::new("flush");
    let server = w.server().create(r"\\.\pipe\flush").unwrap();
    let client = w.client().open(r"\\localhost\pipe\flush").unwrap();
    server.connect().unwrap();
    (&client).write_all(&[7u8; 1000]).unwrap();
    let flusher = std::thread::spawn(move || {
        let start = Instant::now();
        client.flush_buffers().unwrap();
        (start.elapsed(), client)
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut buf = vec![0u8; 1000];
    (&server).read_exact(&mut buf).unwrap();
    let (took, _client) = flusher.join().unwrap();
    assert!(
        took >= Duration::from_millis(250),
        "flush returned after {took:?}, before the read"
    );
}

#[test]
fn read_mode_changes_on_an_open_handle() {
    let w = World::new("readmode");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\modes")
        .unwrap();
    let client = w.client().open(r"\\localhost\pipe\modes").unwrap();
    server.connect().unwrap();
    server.write_message(b"ab").unwrap();
    server.write_message(b"cd").unwrap();
    // Byte read mode reads across message boundaries.
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        got += client.read_message(&mut buf[got..]).unwrap().len();
    }
    assert_eq!(&buf, b"abcd");
    client.set_read_mode(ReadMode::Message).unwrap();
    server.write_message(b"ef").unwrap();
    server.write_message(b"gh").unwrap();
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(2)
    );
    assert_eq!(&buf[..2], b"ef");
    // Message read mode is refused on a byte pipe, remote or not.
    let bytes = w.server().create(r"\\.\pipe\bytepipe").unwrap();
    let c = w.client().open(r"\\localhost\pipe\bytepipe").unwrap();
    bytes.connect().unwrap();
    assert!(matches!(
        c.set_read_mode(ReadMode::Message),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn the_server_sees_the_remote_principal_and_computer_name() {
    let w = World::new("principal");
    let server = w.server().create(r"\\.\pipe\who").unwrap();
    let _client = w.client().open(r"\\localhost\pipe\who").unwrap();
    server.connect().unwrap();
    let remote = server.remote_client().unwrap().expect("a remote client");
    assert_eq!(remote.principal, "alice");
    assert_eq!(remote.computer_name, "test-client");
    assert!(
        remote.address.starts_with("127.0.0.1:"),
        "{}",
        remote.address
    );
    assert_eq!(
        server.client_computer_name().unwrap().as_deref(),
        Some("test-client")
    );
    assert_eq!(server.remote_principal().unwrap().as_deref(), Some("alice"));
    // No local credentials, and never npiped's own.
    let creds = server.client_credentials().unwrap();
    assert_eq!((creds.uid, creds.pid), (u32::MAX, 0));
    // A local client is local.
    let local = w.server().create(r"\\.\pipe\who-local").unwrap();
    let _l = npipe::ClientOptions::new()
        .root(&w.root)
        .open(r"\\.\pipe\who-local")
        .unwrap();
    local.connect().unwrap();
    assert_eq!(local.remote_client().unwrap(), None);
    assert_eq!(local.client_computer_name().unwrap(), None);
}

#[test]
fn an_async_server_sees_the_remote_principal_too() {
    let w = World::new("principal-async");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server =
            npipe::tokio::NamedPipeServer::create(&w.server(), r"\\.\pipe\who-async").unwrap();
        let options = w.client();
        let client = tokio::task::spawn_blocking(move || {
            options.open(r"\\localhost\pipe\who-async").unwrap()
        });
        tokio::time::timeout(Duration::from_secs(10), server.connect())
            .await
            .expect("connect timed out")
            .unwrap();
        assert_eq!(server.remote_principal().unwrap().as_deref(), Some("alice"));
        assert_eq!(
            server.client_computer_name().unwrap().as_deref(),
            Some("test-client")
        );
        drop(client.await.unwrap());
    });
}

#[test]
fn many_concurrent_remote_clients() {
    const CLIENTS: usize = 32;
    let w = World::new("many");
    let mut servers = Vec::new();
    for _ in 0..CLIENTS {
        servers.push(
            w.server()
                .pipe_mode(PipeMode::Message)
                .create(r"\\.\pipe\many")
                .unwrap(),
        );
    }
    let echoes: Vec<_> = servers
        .into_iter()
        .map(|server| {
            std::thread::spawn(move || {
                server.connect().unwrap();
                let mut msg = Vec::new();
                loop {
                    msg.clear();
                    match server.read_message_to_end(&mut msg) {
                        Ok(_) => server.write_message(&msg).unwrap(),
                        Err(Error::BrokenPipe) => return,
                        Err(e) => panic!("{e}"),
                    };
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut options = w.client();
            options.read_mode(ReadMode::Message);
            std::thread::spawn(move || {
                let client = options
                    .open_timeout(r"\\localhost\pipe\many", Duration::from_secs(20))
                    .unwrap();
                for round in 0..20 {
                    let msg = format!("client {i} round {round}");
                    let mut out = [0u8; 64];
                    let got = client.transact(msg.as_bytes(), &mut out).unwrap();
                    assert_eq!(&out[..got.len()], msg.as_bytes());
                }
            })
        })
        .collect();
    within(Duration::from_secs(40), move || {
        for c in clients {
            c.join().unwrap();
        }
        for e in echoes {
            e.join().unwrap();
        }
    });
}

/// 1 GiB in release builds; 64 MiB in debug builds (what CI's
/// `cargo test` runs), where the unoptimized crypto would take minutes.
#[test]
fn a_large_transfer_arrives_intact() {
    let total: usize = if cfg!(debug_assertions) {
        64 << 20
    } else {
        1 << 30
    };
    let w = World::new("large");
    let server = w.server().create(r"\\.\pipe\large").unwrap();
    let client = w.client().open(r"\\localhost\pipe\large").unwrap();
    server.connect().unwrap();
    let writer = std::thread::spawn(move || {
        let mut hash = FNV_START;
        let mut chunk = vec![0u8; 256 << 10];
        let mut sent = 0usize;
        let mut seed = 0x1234_5678u32;
        while sent < total {
            for b in chunk.iter_mut() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *b = (seed >> 24) as u8;
            }
            let n = chunk.len().min(total - sent);
            (&client).write_all(&chunk[..n]).unwrap();
            fnv(&mut hash, &chunk[..n]);
            sent += n;
        }
        client.flush_buffers().unwrap();
        hash
    });
    let started = Instant::now();
    let mut hash = FNV_START;
    let mut buf = vec![0u8; 256 << 10];
    let mut got = 0usize;
    while got < total {
        let n = (&server).read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended after {got} bytes");
        fnv(&mut hash, &buf[..n]);
        got += n;
    }
    let sent_hash = writer.join().unwrap();
    assert_eq!(hash, sent_hash, "checksums differ");
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "transferred {} MiB in {secs:.2} s ({:.0} MiB/s)",
        total >> 20,
        (total >> 20) as f64 / secs
    );
}

#[test]
fn the_async_front_end_drives_a_remote_handle() {
    let w = World::new("async");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\async")
        .unwrap();
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let echo = std::thread::spawn(move || {
        server.connect().unwrap();
        let mut msg = Vec::new();
        server
            .read_message_to_end(&mut msg)
            .unwrap_or_else(|e| panic!("the server's read: {e}"));
        server.write_message(&msg).unwrap();
        // The client may have read the reply and closed already, which
        // makes a flush fail as it would locally.
        let _ = server.flush_buffers();
        server
    });
    rt.block_on(async {
        let client =
            npipe::tokio::NamedPipeClient::open(&options, r"\\localhost\pipe\async").unwrap();
        client.write_message(b"async hello").await.unwrap();
        let mut buf = [0u8; 32];
        let got = tokio::time::timeout(Duration::from_secs(10), client.read_message(&mut buf))
            .await
            .expect("the read timed out")
            .unwrap_or_else(|e| panic!("the client's read: {e}"));
        assert_eq!(&buf[..got.len()], b"async hello");
    });
    echo.join().unwrap();
}
