//! FlushFileBuffers across processes: the writer's flush returns only once
//! the reader process has read everything. Ordering is shown with events
//! (the reader held at `await`), never with durations.

use std::io::Read;
use std::sync::Arc;

use npipe::PipeMode;
use npipe_tests::{pattern, Background, TestRoot};

use crate::peer;

#[test]
fn flush_waits_until_the_reader_process_has_read_every_byte() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().create(&name).unwrap());
    let script = [
        "open", &name, "await", "read", "520", "await", "read", "520", "hang",
    ];
    let mut reader = peer(&root, &script);
    reader.expect("opened");
    server.connect().unwrap();
    server.write_message(&pattern(1040)).unwrap();

    let s = Arc::clone(&server);
    let flushing = Background::start("flush", move || s.flush_buffers());
    flushing.expect_blocked();
    reader.resume();
    reader.expect_all(&["resumed", "read 520 complete <pattern>"]);
    flushing.expect_blocked();
    reader.resume();
    reader.expect("resumed");
    flushing.join().unwrap();
    reader.expect("read 520 complete <pattern>");
}

#[test]
fn flush_of_messages_waits_for_the_last_one_to_be_read() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let script = [
        "open", &name, "write", "one", "write", "two", "write", "three", "flush", "hang",
    ];
    let mut writer = peer(&root, &script);
    writer.expect_all(&["opened", "wrote 3", "wrote 3", "wrote 5"]);
    server.connect().unwrap();

    let mut buf = [0; 16];
    assert_eq!(server.read_message(&mut buf).unwrap().len(), 3);
    writer.expect_blocked("flush, with 2 of 3 messages unread");
    assert_eq!(server.read_message(&mut buf).unwrap().len(), 3);
    writer.expect_blocked("flush, with 1 of 3 messages unread");
    assert_eq!(server.read_message(&mut buf).unwrap().len(), 5);
    writer.expect("flushed");
}

#[test]
fn flush_from_the_server_waits_for_a_client_process_reading_messages() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(
        root.server()
            .pipe_mode(PipeMode::Message)
            .create(&name)
            .unwrap(),
    );
    let script = [
        "open",
        &name,
        "--message-read",
        "read",
        "16",
        "await",
        "read",
        "16",
        "hang",
    ];
    let mut reader = peer(&root, &script);
    reader.expect("opened");
    server.connect().unwrap();
    server.write_message(b"first").unwrap();
    server.write_message(b"second").unwrap();
    reader.expect("read 5 complete first");

    let s = Arc::clone(&server);
    let flushing = Background::start("flush", move || s.flush_buffers());
    flushing.expect_blocked();
    reader.resume();
    reader.expect("resumed");
    flushing.join().unwrap();
    reader.expect("read 6 complete second");
}

#[test]
fn flush_with_nothing_written_returns_at_once() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let mut client = peer(
        &root,
        &["open", &name, "await", "flush", "write", "x", "hang"],
    );
    client.expect("opened");
    server.connect().unwrap();
    client.resume();
    client.expect_all(&["resumed", "flushed", "wrote 1"]);
    // Data waiting for us to read does not hold up our own flush.
    npipe_tests::within("flush", move || {
        server.flush_buffers().unwrap();
        let mut one = [0; 1];
        (&server).read_exact(&mut one).unwrap();
    });
}
