//! Pipe direction: inbound and outbound pipes refuse the wrong access, at
//! open time and on each handle.

use npipe::win32::*;
use npipe_tests::{expect_err, TestRoot};

use crate::peer;

#[test]
fn inbound_pipe_refuses_client_reads_and_server_writes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--inbound",
        "connect",
        "write",
        "no",
        "read",
        "16",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");

    expect_err(root.client().open(&name), ERROR_ACCESS_DENIED);
    expect_err(root.client().write(false).open(&name), ERROR_ACCESS_DENIED);
    let client = root.client().read(false).open(&name).unwrap();
    server.expect_all(&["connected", "err ERROR_ACCESS_DENIED"]);
    client.write_message(b"upstream").unwrap();
    server.expect("read 8 complete upstream");
    expect_err(client.read_message(&mut [0; 8]), ERROR_ACCESS_DENIED);
    expect_err(client.peek(&mut [0; 8]), ERROR_ACCESS_DENIED);
}

#[test]
fn outbound_pipe_refuses_client_writes_and_server_reads() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--outbound",
        "connect",
        "read",
        "16",
        "write",
        "downstream",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");

    expect_err(root.client().open(&name), ERROR_ACCESS_DENIED);
    expect_err(root.client().read(false).open(&name), ERROR_ACCESS_DENIED);
    let client = root.client().write(false).open(&name).unwrap();
    server.expect_all(&["connected", "err ERROR_ACCESS_DENIED", "wrote 10"]);
    let mut buf = [0; 16];
    assert_eq!(client.read_message(&mut buf).unwrap().len(), 10);
    assert_eq!(&buf[..10], b"downstream");
    expect_err(client.write_message(b"up"), ERROR_ACCESS_DENIED);
}

#[test]
fn a_peer_opening_an_inbound_pipe_for_reading_is_access_denied() {
    let root = TestRoot::new();
    let name = root.pipe();
    let _server = root.server().access_outbound(false).create(&name).unwrap();
    let mut both = peer(&root, &["open", &name]);
    both.expect("err ERROR_ACCESS_DENIED");
    let mut write_only = peer(&root, &["open", &name, "--write-only", "write", "ok"]);
    write_only.expect_all(&["opened", "wrote 2"]);
}
