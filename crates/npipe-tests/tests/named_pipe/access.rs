//! Pipe direction: inbound and outbound pipes refuse the wrong access, at
//! open time and on each handle.

use npipe::win32::*;
use npipe::{Error, Namespace};
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

#[test]
fn a_pipe_with_neither_direction_is_invalid_parameter_and_leaves_no_name() {
    let root = TestRoot::new();
    let name = root.pipe();
    let created = root
        .server()
        .access_inbound(false)
        .access_outbound(false)
        .create(&name);
    let err = expect_err(created, ERROR_INVALID_PARAMETER);
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");

    // Refused before anything was made: no instance a client could find.
    assert!(Namespace::at(root.path()).pipes().unwrap().is_empty());
    let mut client = peer(&root, &["open", &name]);
    client.expect("err ERROR_FILE_NOT_FOUND");
}

#[test]
fn a_client_asking_neither_to_read_nor_to_write_is_invalid_parameter() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "--max", "1", "connect", "hang"]);
    server.expect("listening");

    let opened = root.client().read(false).write(false).open(&name);
    let err = expect_err(opened, ERROR_INVALID_PARAMETER);
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");

    // The refused open did not take the only instance: the next one does.
    let client = root.client().open(&name).unwrap();
    server.expect("connected");
    assert_eq!(client.server_process_id().unwrap(), server.pid());
}
