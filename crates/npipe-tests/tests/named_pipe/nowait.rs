//! PIPE_NOWAIT: connect and read return at once with
//! `ERROR_PIPE_LISTENING` and `ERROR_NO_DATA` instead of blocking.

use std::sync::Arc;

use npipe::win32::*;
use npipe::{Error, MessageRead};
use npipe_tests::{expect_err, within, Background, TestRoot};

use crate::peer;

#[test]
fn nowait_connect_without_a_client_gives_pipe_listening() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().nowait(true).create(&name).unwrap());
    let s = Arc::clone(&server);
    expect_err(within("connect", move || s.connect()), ERROR_PIPE_LISTENING);

    let mut client = peer(&root, &["open", &name, "hang"]);
    client.expect("opened");
    let s = Arc::clone(&server);
    within("connect", move || s.connect()).unwrap();
    assert_eq!(server.client_process_id().unwrap(), client.pid());
}

#[test]
fn nowait_read_with_nothing_waiting_gives_would_block() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "connect",
        "await",
        "write",
        "now",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let client = Arc::new(root.client().nowait(true).open(&name).unwrap());
    server.expect("connected");

    let c = Arc::clone(&client);
    let read = within("read", move || c.read_message(&mut [0; 8]));
    assert!(matches!(read, Err(Error::WouldBlock)), "{read:?}");
    expect_err(read, ERROR_NO_DATA);

    server.resume();
    server.expect_all(&["resumed", "wrote 3"]);
    let mut buf = [0; 8];
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(3)
    );
}

#[test]
fn nowait_read_in_the_peer_gives_no_data() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let script = [
        "open", &name, "--nowait", "read", "8", "await", "read", "8", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "err ERROR_NO_DATA"]);
    server.connect().unwrap();
    server.write_message(b"late").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 4 complete late"]);
}

#[test]
fn set_nowait_switches_an_open_handle_both_ways() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "connect",
        "await",
        "write",
        "wake",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let client = Arc::new(root.client().open(&name).unwrap());
    server.expect("connected");

    client.set_nowait(true);
    assert!(client.info().unwrap().nowait);
    let c = Arc::clone(&client);
    let read = within("read", move || c.read_message(&mut [0; 8]));
    assert!(matches!(read, Err(Error::WouldBlock)), "{read:?}");

    client.set_nowait(false);
    let c = Arc::clone(&client);
    let reading = Background::start("read", move || c.read_message(&mut [0; 8]));
    reading.expect_blocked();
    server.resume();
    assert_eq!(reading.join().unwrap(), MessageRead::Complete(4));
}

#[test]
fn a_nowait_server_process_polls_for_its_client_and_its_data() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "--nowait",
        "connect",
        "await",
        "connect",
        "read",
        "8",
        "await",
        "read",
        "8",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect_all(&["listening", "err ERROR_PIPE_LISTENING"]);
    let client = root.client().open(&name).unwrap();
    server.resume();
    server.expect_all(&["resumed", "connected", "err ERROR_NO_DATA"]);
    client.write_message(b"hi").unwrap();
    server.resume();
    server.expect_all(&["resumed", "read 2 complete hi"]);
}
