//! PeekNamedPipe between processes: the three counts, on byte and message
//! pipes; peeking never consumes and never blocks.

use std::io::Read;
use std::sync::Arc;

use npipe::{MessageRead, PeekInfo, PipeMode};
use npipe_tests::{within, TestRoot};

use crate::peer;

fn counts(p: PeekInfo) -> (usize, usize, usize) {
    (p.copied, p.total_available, p.left_in_message)
}

#[test]
fn peek_on_a_message_pipe_copies_from_the_first_message_and_counts_all() {
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
        "write",
        "hello world",
        "write",
        "!!",
        "await",
        "peek",
        "4",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 11", "wrote 2"]);
    server.connect().unwrap();

    let mut small = [0; 5];
    assert_eq!(counts(server.peek(&mut small).unwrap()), (5, 13, 6));
    assert_eq!(&small, b"hello");
    assert_eq!(
        counts(server.peek(&mut small).unwrap()),
        (5, 13, 6),
        "peek consumed"
    );
    let mut big = [0; 64];
    assert_eq!(counts(server.peek(&mut big).unwrap()), (11, 13, 0));

    // After part of the first message is read, its rest is what peek sees.
    assert_eq!(
        server.read_message(&mut small).unwrap(),
        MessageRead::MoreData(5)
    );
    assert_eq!(counts(server.peek(&mut big).unwrap()), (6, 8, 0));
    assert_eq!(&big[..6], b" world");
    assert_eq!(
        server.read_message(&mut big).unwrap(),
        MessageRead::Complete(6)
    );
    assert_eq!(
        server.read_message(&mut big).unwrap(),
        MessageRead::Complete(2)
    );

    server.write_message(b"abcdef").unwrap();
    client.resume();
    client.expect_all(&["resumed", "peek 4 6 2 abcd"]);
}

#[test]
fn peek_on_a_byte_pipe_sees_every_byte_and_no_message() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().create(&name).unwrap();
    let script = [
        "open", &name, "write", "hello", "write", "world", "await", "peek", "64", "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect_all(&["opened", "wrote 5", "wrote 5"]);
    server.connect().unwrap();

    let mut buf = [0; 4];
    assert_eq!(counts(server.peek(&mut buf).unwrap()), (4, 10, 0));
    assert_eq!(&buf, b"hell");
    let mut all = [0; 10];
    (&server).read_exact(&mut all).unwrap();
    assert_eq!(&all, b"helloworld");

    server.write_message(b"abc").unwrap();
    server.write_message(b"def").unwrap();
    client.resume();
    client.expect_all(&["resumed", "peek 6 6 0 abcdef"]);
}

#[test]
fn peek_on_an_empty_pipe_returns_at_once() {
    let root = TestRoot::new();
    for mode in [PipeMode::Byte, PipeMode::Message] {
        let name = root.pipe_named(&format!("{mode:?}"));
        let server = Arc::new(root.server().pipe_mode(mode).create(&name).unwrap());
        let mut client = peer(&root, &["open", &name, "peek", "16", "hang"]);
        client.expect_all(&["opened", "peek 0 0 0"]);
        server.connect().unwrap();
        let s = Arc::clone(&server);
        let seen = within("peek on an empty pipe", move || s.peek(&mut [0; 16])).unwrap();
        assert_eq!(counts(seen), (0, 0, 0), "{mode:?}");
    }
}
