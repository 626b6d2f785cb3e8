//! Quick end-to-end checks of the blocking API in one process.
use npipe::*;
use std::io::{Read, Write};

fn root(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("npsmoke-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

#[test]
fn smoke_lifecycle() {
    let r = root("life");
    let name = r"\\.\pipe\Smoke";
    let server = ServerOptions::new()
        .root(&r)
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(name)
        .unwrap();
    let client = ClientOptions::new()
        .root(&r)
        .read_mode(ReadMode::Message)
        .open(r"\\.\PIPE\smoke")
        .unwrap();
    let e = ClientOptions::new().root(&r).open(name).unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_PIPE_BUSY, "{e}");
    let e = ServerOptions::new()
        .root(&r)
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(name)
        .unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_PIPE_BUSY, "{e}");
    server.connect().unwrap();
    client.write_message(b"hello world").unwrap();
    client.write_message(b"").unwrap();
    let mut buf = [0u8; 5];
    let p = server.peek(&mut buf).unwrap();
    assert_eq!((p.copied, p.total_available, p.left_in_message), (5, 11, 6));
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::MoreData(5)
    );
    let mut big = [0u8; 64];
    assert_eq!(
        server.read_message(&mut big).unwrap(),
        MessageRead::Complete(6)
    );
    assert_eq!(&big[..6], b" world");
    assert_eq!(
        server.read_message(&mut big).unwrap(),
        MessageRead::Complete(0)
    );
    // transact
    let t = std::thread::scope(|s| {
        s.spawn(|| {
            let mut b = [0u8; 16];
            let n = server.read_message(&mut b).unwrap().len();
            server.write_message(&b[..n].to_ascii_uppercase()).unwrap();
        });
        let mut out = [0u8; 16];
        let r = client.transact(b"ping", &mut out).unwrap();
        out[..r.len()].to_vec()
    });
    assert_eq!(t, b"PING");
    server.disconnect().unwrap();
    let e = client.read_message(&mut big).unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_PIPE_NOT_CONNECTED, "{e}");
    drop(client);
    // reconnect
    std::thread::scope(|s| {
        s.spawn(|| server.connect().unwrap());
        ClientOptions::new()
            .root(&r)
            .wait(
                name,
                WaitTimeout::Duration(std::time::Duration::from_secs(5)),
            )
            .unwrap();
        let mut c = ClientOptions::new().root(&r).open(name).unwrap();
        c.write_all(b"again").unwrap();
        drop(c);
    });
    let mut got = Vec::new();
    (&server).read_to_end(&mut got).unwrap();
    assert_eq!(got, b"again");
    let e = server.read_message(&mut big).unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_BROKEN_PIPE, "{e}");
    let list = Namespace::at(&r).pipes().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].current_instances, 1);
    drop(server);
    assert!(Namespace::at(&r).pipes().unwrap().is_empty());
    let e = ClientOptions::new().root(&r).open(name).unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_FILE_NOT_FOUND, "{e}");
    let _ = std::fs::remove_dir_all(&r);
}

#[test]
fn smoke_byte_flush_and_wait_timeout() {
    let r = root("flush");
    let name = r"\\.\pipe\flushy";
    let server = ServerOptions::new()
        .root(&r)
        .max_instances(1)
        .create(name)
        .unwrap();
    let client = ClientOptions::new().root(&r).open(name).unwrap();
    let e = ClientOptions::new()
        .root(&r)
        .wait(
            name,
            WaitTimeout::Duration(std::time::Duration::from_millis(100)),
        )
        .unwrap_err();
    assert_eq!(e.win32_code(), win32::ERROR_SEM_TIMEOUT);
    (&client).write_all(&[1u8; 1000]).unwrap();
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let mut b = vec![0; 1000];
            (&server).read_exact(&mut b).unwrap();
        });
        (&client).flush().unwrap();
    });
    assert!(start.elapsed() >= std::time::Duration::from_millis(150));
    let _ = std::fs::remove_dir_all(&r);
}

#[test]
fn disconnect_wakes_a_connect_waiting_in_another_thread() {
    let r = root("wake");
    let server = ServerOptions::new()
        .root(&r)
        .create(r"\\.\pipe\wake")
        .unwrap();
    server.disconnect().unwrap(); // stop listening, then wait again below
    std::thread::scope(|s| {
        let waiting = s.spawn(|| server.connect());
        // Wait until the waiter listens again, then disconnect under it.
        let listening = || Namespace::at(&r).pipes().unwrap()[0].listening_instances == 1;
        let start = std::time::Instant::now();
        while !listening() {
            assert!(start.elapsed() < std::time::Duration::from_secs(10));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        server.disconnect().unwrap();
        let result = waiting.join().unwrap();
        assert!(matches!(result, Err(Error::PipeNotConnected)), "{result:?}");
    });
    let _ = std::fs::remove_dir_all(&r);
}

#[test]
fn non_blocking_io_write_says_would_block_when_full() {
    let r = root("nbw");
    let name = r"\\.\pipe\nbw";
    let _server = ServerOptions::new().root(&r).create(name).unwrap();
    let client = ClientOptions::new()
        .root(&r)
        .nowait(true)
        .open(name)
        .unwrap();
    let chunk = vec![0u8; 65536];
    let err = loop {
        match (&client).write(&chunk) {
            Ok(n) => assert!(n > 0),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    let _ = std::fs::remove_dir_all(&r);
}

#[test]
fn a_client_flush_with_nothing_written_returns_before_the_server_accepts() {
    let r = root("flush0");
    let name = r"\\.\pipe\flush0";
    let _server = ServerOptions::new().root(&r).create(name).unwrap();
    let client = ClientOptions::new().root(&r).open(name).unwrap();
    // The server never calls connect(): the hello stays unread.
    client.flush_buffers().unwrap();
    let _ = std::fs::remove_dir_all(&r);
}

#[test]
fn read_message_to_end_and_close_write() {
    let r = root("rmte");
    let name = r"\\.\pipe\rmte";
    let server = ServerOptions::new()
        .root(&r)
        .pipe_mode(PipeMode::Message)
        .create(name)
        .unwrap();
    let client = ClientOptions::new().root(&r).open(name).unwrap();
    server.connect().unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            client.write_message(&big).unwrap();
            client.write_message(b"tail").unwrap();
            client.close_write().unwrap();
        });
        let mut got = b"prefix".to_vec();
        assert_eq!(server.read_message_to_end(&mut got).unwrap(), big.len());
        assert_eq!(&got[..6], b"prefix");
        assert_eq!(&got[6..], &big[..]);
        let mut tail = Vec::new();
        assert_eq!(server.read_message_to_end(&mut tail).unwrap(), 4);
        let e = server.read_message_to_end(&mut tail).unwrap_err();
        assert_eq!(e.win32_code(), win32::ERROR_BROKEN_PIPE, "{e}");
        assert_eq!(tail, b"tail");
    });
    // The client still reads after closing its writing half.
    server.write_message(b"reply").unwrap();
    let mut reply = Vec::new();
    client.set_read_mode(ReadMode::Message).unwrap();
    assert_eq!(client.read_message_to_end(&mut reply).unwrap(), 5);
    let _ = std::fs::remove_dir_all(&r);
}
