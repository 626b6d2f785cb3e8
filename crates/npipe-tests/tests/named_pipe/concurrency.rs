//! Threads sharing one handle while its other end is another process: a
//! read blocked in one thread does not hold up writes, peeks, flushes or a
//! disconnect in another, and a disconnect wakes it.

use std::sync::Arc;

use npipe::win32::*;
use npipe::{MessageRead, PipeMode, ReadMode};
use npipe_tests::{expect_err, within, Background, TestRoot};

use crate::peer;

#[test]
fn a_blocked_read_does_not_hold_up_write_peek_or_flush_on_the_same_handle() {
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
        "write",
        "answer",
        "hang",
    ];
    let mut client = peer(&root, &script);
    client.expect("opened");
    server.connect().unwrap();

    let s = Arc::clone(&server);
    let reading = Background::start("read", move || {
        let mut buf = [0; 16];
        s.read_message(&mut buf)
            .map(|got| buf[..got.len()].to_vec())
    });
    reading.expect_blocked();

    let s = Arc::clone(&server);
    within("write, peek and flush beside a blocked read", move || {
        s.write_message(b"question").unwrap();
        assert_eq!(s.peek(&mut [0; 16]).unwrap().total_available, 0);
        s.flush_buffers().unwrap();
    });
    client.expect("read 8 complete question");
    reading.expect_blocked();

    client.resume();
    client.expect_all(&["resumed", "wrote 6"]);
    assert_eq!(reading.join().unwrap(), b"answer");
}

#[test]
fn a_blocked_server_read_is_woken_by_disconnect_from_another_thread() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(root.server().create(&name).unwrap());
    let mut client = peer(&root, &["open", &name, "read", "16"]);
    client.expect("opened");
    server.connect().unwrap();

    let s = Arc::clone(&server);
    let reading = Background::start("read", move || s.read_message(&mut [0; 16]));
    reading.expect_blocked();
    let s = Arc::clone(&server);
    within("disconnect", move || s.disconnect()).unwrap();
    expect_err(reading.join(), ERROR_PIPE_NOT_CONNECTED);
    client.expect("err ERROR_PIPE_NOT_CONNECTED");
}

#[test]
fn a_blocked_client_read_is_woken_when_the_server_process_disconnects() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(
        &root,
        &[
            "serve",
            &name,
            "--message",
            "connect",
            "await",
            "disconnect",
            "hang",
        ],
    );
    server.expect("listening");
    let client = Arc::new(
        root.client()
            .read_mode(ReadMode::Message)
            .open(&name)
            .unwrap(),
    );
    server.expect("connected");

    let c = Arc::clone(&client);
    let reading = Background::start("read", move || c.read_message(&mut [0; 16]));
    reading.expect_blocked();
    server.resume();
    server.expect_all(&["resumed", "disconnected"]);
    expect_err(reading.join(), ERROR_PIPE_NOT_CONNECTED);
    expect_err(client.write_message(b"late"), ERROR_PIPE_NOT_CONNECTED);
}

#[test]
fn two_threads_reading_messages_each_get_whole_ones() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = Arc::new(
        root.server()
            .pipe_mode(PipeMode::Message)
            .create(&name)
            .unwrap(),
    );
    let mut script = vec!["open", &name];
    let messages: Vec<String> = (0..50).map(|i| format!("message {i:02}")).collect();
    for m in &messages {
        script.extend(["write", m.as_str()]);
    }
    script.push("exit");
    let mut client = peer(&root, &script);
    client.expect("opened");
    server.connect().unwrap();

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let s = Arc::clone(&server);
            Background::start("reader", move || {
                let mut got = Vec::new();
                let mut buf = [0; 16];
                // Until the client's exit ends the pipe for both readers.
                loop {
                    match s.read_message(&mut buf) {
                        Ok(MessageRead::Complete(n)) => {
                            got.push(String::from_utf8_lossy(&buf[..n]).into_owned())
                        }
                        Err(npipe::Error::BrokenPipe) => return got,
                        other => panic!("{other:?}"),
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<String> = readers.into_iter().flat_map(|r| r.join()).collect();
    all.sort();
    assert_eq!(all, messages);
}
