//! Connect, disconnect, reconnect and close, with the other end in another
//! process.

use std::io::Read;
use std::sync::Arc;

use npipe::win32::*;
use npipe_tests::{expect_err, within, Background, TestRoot};

use crate::peer;

#[test]
fn connect_returns_at_once_when_the_client_came_first() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().create(&name).unwrap());
    let mut client = peer(&root, &["open", &name, "hang"]);
    client.expect("opened");

    let s = Arc::clone(&server);
    within("connect", move || s.connect()).unwrap();
    assert!(server.is_connected());
    assert_eq!(server.client_process_id().unwrap(), client.pid());
}

#[test]
fn connect_blocks_until_a_client_comes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().create(&name).unwrap());
    let s = Arc::clone(&server);
    let connecting = Background::start("connect", move || s.connect());
    connecting.expect_blocked();
    assert!(!server.is_connected());

    let mut client = peer(&root, &["open", &name, "hang"]);
    client.expect("opened");
    connecting.join().unwrap();
    assert_eq!(server.client_process_id().unwrap(), client.pid());
}

#[test]
fn disconnect_makes_the_clients_next_read_and_write_fail_not_connected() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let script = [
        "open", &name, "await", "peek", "16", "read", "16", "write", "late", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect("opened");
    server.connect().unwrap();
    // Unread data is discarded by the disconnect, not delivered.
    server.write_message(b"never read").unwrap();
    server.disconnect().unwrap();

    client.resume();
    client.expect_all(&[
        "resumed",
        "err ERROR_PIPE_NOT_CONNECTED",
        "err ERROR_PIPE_NOT_CONNECTED",
        "err ERROR_PIPE_NOT_CONNECTED",
    ]);
    expect_err(server.read_message(&mut [0; 16]), ERROR_PIPE_NOT_CONNECTED);
}

#[test]
fn disconnect_before_connect_turns_away_the_client_that_came_first() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().max_instances(1).create(&name).unwrap());
    let mut early = peer(&root, &["open", &name, "await", "read", "16", "hang"]);
    early.expect("opened");
    server.disconnect().unwrap();
    early.resume();
    early.expect_all(&["resumed", "err ERROR_PIPE_NOT_CONNECTED"]);

    // Not listening until connect is called again.
    expect_err(root.client().open(&name), ERROR_PIPE_BUSY);
    let s = Arc::clone(&server);
    let connecting = Background::start("connect", move || s.connect());
    let mut next = peer(&root, &["wait-pipe", &name, "20000", "open", &name, "hang"]);
    next.expect_all(&["waited", "opened"]);
    connecting.join().unwrap();
    assert_eq!(server.client_process_id().unwrap(), next.pid());
}

/// As on Windows, a disconnected instance takes no client until `connect`
/// listens again, so each client waits for it (WaitNamedPipe) first.
#[test]
fn connect_after_disconnect_serves_the_next_client_process() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().max_instances(1).create(&name).unwrap());
    for round in 0..3 {
        let s = Arc::clone(&server);
        let connecting = Background::start("connect", move || s.connect());
        let hello = format!("client {round}");
        let script = [
            "wait-pipe",
            &name,
            "20000",
            "open",
            &name,
            "write",
            &hello,
            "read",
            "16",
            "exit",
        ];
        let mut client = peer(&root, &script);
        client.expect_all(&["waited", "opened", "wrote 8"]);
        connecting.join().unwrap();
        assert_eq!(server.client_process_id().unwrap(), client.pid());

        let mut buf = [0; 16];
        let got = server.read_message(&mut buf).unwrap();
        assert_eq!(&buf[..got.len()], hello.as_bytes());
        server
            .write_message(format!("bye {round}").as_bytes())
            .unwrap();
        client.expect_all(&[&format!("read 5 complete bye {round}"), "exiting"]);
        server.disconnect().unwrap();
        let mut late = peer(&root, &["open", &name]);
        late.expect("err ERROR_PIPE_BUSY");
    }
}

#[test]
fn a_closed_client_leaves_its_data_readable_then_broken_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let mut client = peer(
        &root,
        &["open", &name, "write", "one", "write", "two", "exit"],
    );
    client.expect_all(&["opened", "wrote 3", "wrote 3", "exiting"]);
    client.wait_exit();

    server.connect().unwrap();
    let mut all = Vec::new();
    (&server).read_to_end(&mut all).unwrap();
    assert_eq!(all, b"onetwo");
    expect_err(server.read_message(&mut [0; 8]), ERROR_BROKEN_PIPE);
    expect_err(server.write_message(b"anyone?"), ERROR_NO_DATA);
}

#[test]
fn dropping_the_server_gives_the_client_broken_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let script = [
        "open", &name, "await", "read", "16", "write", "late", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect("opened");
    server.connect().unwrap();
    drop(server);

    client.resume();
    client.expect_all(&["resumed", "err ERROR_BROKEN_PIPE", "err ERROR_NO_DATA"]);
}

#[test]
fn killing_the_server_process_gives_the_client_broken_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "connect", "hang"]);
    server.expect("listening");
    let client = root.client().open(&name).unwrap();
    server.expect_all(&["connected", "hanging"]);
    server.kill();

    expect_err(client.read_message(&mut [0; 8]), ERROR_BROKEN_PIPE);
    expect_err(client.write_message(b"late"), ERROR_NO_DATA);
}

#[test]
fn killing_the_client_process_gives_the_server_broken_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let mut client = peer(&root, &["open", &name, "write", "last words", "hang"]);
    client.expect_all(&["opened", "wrote 10", "hanging"]);
    client.kill();

    server.connect().unwrap();
    let mut buf = [0; 16];
    let got = server.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..got.len()], b"last words");
    expect_err(server.read_message(&mut buf), ERROR_BROKEN_PIPE);
}
