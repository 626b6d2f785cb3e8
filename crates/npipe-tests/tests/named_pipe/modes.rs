//! Byte and message types and read modes between processes: boundaries,
//! zero-length messages, `ERROR_MORE_DATA`, and large messages.

use std::io::Read;

use npipe::win32::*;
use npipe::{MessageRead, PipeMode, ReadMode};
use npipe_tests::{expect_err, pattern, TestRoot};

use crate::peer;

const MIB: usize = 1 << 20;

#[test]
fn message_boundaries_survive_between_processes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let script = [
        "open",
        &name,
        "--message-read",
        "write",
        "a",
        "write",
        "bb",
        "write",
        "ccc",
        "await",
        "read",
        "64",
        "read",
        "64",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 1", "wrote 2", "wrote 3"]);
    server.connect().unwrap();

    let mut buf = [0; 64];
    for want in ["a", "bb", "ccc"] {
        let got = server.read_message(&mut buf).unwrap();
        assert_eq!(got, MessageRead::Complete(want.len()));
        assert_eq!(&buf[..got.len()], want.as_bytes());
    }
    server.write_message(b"xyz").unwrap();
    server.write_message(b"0123").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 3 complete xyz", "read 4 complete 0123"]);
}

#[test]
fn zero_length_messages_arrive_in_message_read_mode() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let script = [
        "open",
        &name,
        "--message-read",
        "write",
        "",
        "write",
        "x",
        "await",
        "read",
        "16",
        "read",
        "16",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 0", "wrote 1"]);
    server.connect().unwrap();

    let mut buf = [0; 16];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(0)
    );
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(1)
    );
    assert_eq!(buf[0], b'x');

    server.write_message(b"").unwrap();
    server.write_message(b"y").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 0 complete", "read 1 complete y"]);
}

#[test]
fn zero_length_messages_are_skipped_in_byte_read_mode() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Byte)
        .create(&name)
        .unwrap();
    let script = [
        "open", &name, "write", "", "write", "x", "write", "", "write", "yz", "await", "read",
        "16", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 0", "wrote 1", "wrote 0", "wrote 2"]);
    server.connect().unwrap();

    let mut buf = [0; 3];
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"xyz");
    assert_eq!(server.peek(&mut []).unwrap().total_available, 0);

    // The client reads in byte mode (the default) too.
    server.write_message(b"").unwrap();
    server.write_message(b"ab").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 2 complete ab"]);
}

#[test]
fn a_message_longer_than_the_buffer_gives_more_data_then_the_rest() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let script = [
        "open",
        &name,
        "--message-read",
        "write",
        "hello world",
        "await",
        "read",
        "5",
        "read",
        "64",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 11"]);
    server.connect().unwrap();

    let mut buf = [0; 5];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::MoreData(5)
    );
    assert_eq!(&buf, b"hello");
    let mut rest = [0; 64];
    assert_eq!(
        server.read_message(&mut rest).unwrap(),
        MessageRead::Complete(6)
    );
    assert_eq!(&rest[..6], b" world");

    server.write_message(b"goodbye world").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 5 more goodb", "read 8 complete ye world"]);
}

#[test]
fn byte_read_mode_on_a_message_pipe_reads_across_message_boundaries() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Byte)
        .create(&name)
        .unwrap();
    let script = [
        "open", &name, "write", "abc", "write", "def", "await", "read", "2", "read", "2", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 3", "wrote 3"]);
    server.connect().unwrap();

    // One read takes both waiting messages, as ReadFile does in byte mode.
    let mut buf = [0; 64];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(6)
    );
    assert_eq!(&buf[..6], b"abcdef");

    // In byte read mode a long message is no error: the rest just follows.
    server.write_message(b"wxyz").unwrap();
    client.resume();
    client.expect_all(&["resumed", "read 2 complete wx", "read 2 complete yz"]);
}

#[test]
fn set_read_mode_switches_an_open_handle() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let script = [
        "open",
        &name,
        "set-read-mode",
        "message",
        "await",
        "read",
        "3",
        "set-read-mode",
        "byte",
        "read",
        "2",
        "read",
        "5",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "ok"]);
    server.connect().unwrap();
    server.write_message(b"hello").unwrap();
    server.write_message(b"world").unwrap();

    client.resume();
    client.expect_all(&[
        "resumed",
        "read 3 more hel",
        "ok",
        "read 2 complete lo",
        "read 5 complete world",
    ]);

    server.set_read_mode(ReadMode::Byte).unwrap();
    assert_eq!(server.info().unwrap().read_mode, ReadMode::Byte);
}

#[test]
fn message_read_mode_cannot_be_set_on_a_byte_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let mut client = peer(
        &root,
        &["open", &name, "set-read-mode", "message", "info", "hang"],
    );
    client.expect_all(&[
        "opened",
        "err ERROR_INVALID_PARAMETER",
        "info end=client type=byte read-mode=byte nowait=false max=255 current=1",
    ]);
    expect_err(
        server.set_read_mode(ReadMode::Message),
        ERROR_INVALID_PARAMETER,
    );
}

#[test]
fn large_messages_arrive_whole() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let (one, eight) = (MIB.to_string(), (8 * MIB).to_string());
    let script = [
        "open",
        &name,
        "--message-read",
        "write-size",
        &one,
        "write-size",
        &eight,
        "await",
        "read",
        &eight,
        "read",
        &eight,
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect("opened");
    server.connect().unwrap();

    let mut buf = vec![0; 8 * MIB];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(MIB)
    );
    assert!(
        buf[..MIB] == pattern(MIB)[..],
        "the 1 MiB message is not whole"
    );
    // The 8 MiB one, read 1 MiB at a time.
    let mut got = Vec::new();
    loop {
        let read = server.read_message(&mut buf[..MIB]).unwrap();
        got.extend_from_slice(&buf[..read.len()]);
        if read.is_complete() {
            break;
        }
        assert_eq!(read, MessageRead::MoreData(MIB));
    }
    assert!(got == pattern(8 * MIB), "the 8 MiB message is not whole");
    client.expect_all(&[&format!("wrote {MIB}"), &format!("wrote {}", 8 * MIB)]);

    client.resume();
    client.expect("resumed");
    server.write_message(&pattern(MIB)).unwrap();
    server.write_message(&pattern(8 * MIB)).unwrap();
    client.expect_all(&[
        &format!("read {MIB} complete <pattern>"),
        &format!("read {} complete <pattern>", 8 * MIB),
    ]);
}
