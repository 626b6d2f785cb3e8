//! TransactNamedPipe and CallNamedPipe against a server process.

use std::time::{Duration, Instant};

use npipe::win32::*;
use npipe::{MessageRead, PipeMode, ReadMode, WaitTimeout};
use npipe_tests::{expect_err, within, Background, TestRoot, LIMIT};

use crate::peer;

/// A message server process's script: answer one message with `reply`,
/// then read again (which reports how the client left).
fn answer_once<'a>(name: &'a str, reply: &'a str) -> Vec<&'a str> {
    let (read, write) = (["read", "64"], ["write", reply]);
    [
        &["serve", name, "--message", "connect"][..],
        &read,
        &write,
        &read,
    ]
    .concat()
}

#[test]
fn transact_writes_a_message_and_reads_the_reply() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &answer_once(&name, "pong"));
    server.expect("listening");
    let client = root
        .client()
        .read_mode(ReadMode::Message)
        .open(&name)
        .unwrap();
    server.expect("connected");

    let mut out = [0; 16];
    assert_eq!(
        client.transact(b"ping", &mut out).unwrap(),
        MessageRead::Complete(4)
    );
    assert_eq!(&out[..4], b"pong");
    server.expect_all(&["read 4 complete ping", "wrote 4"]);
}

#[test]
fn a_reply_longer_than_the_buffer_gives_more_data_and_the_rest_follows() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &answer_once(&name, "pong pong pong"));
    server.expect("listening");
    let client = root
        .client()
        .read_mode(ReadMode::Message)
        .open(&name)
        .unwrap();

    let mut out = [0; 4];
    assert_eq!(
        client.transact(b"ping", &mut out).unwrap(),
        MessageRead::MoreData(4)
    );
    let mut rest = [0; 16];
    assert_eq!(
        client.read_message(&mut rest).unwrap(),
        MessageRead::Complete(10)
    );
    assert_eq!(&rest[..10], b" pong pong");
}

#[test]
fn transact_on_a_byte_pipe_is_bad_pipe() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "connect", "hang"]);
    server.expect("listening");
    let client = root.client().open(&name).unwrap();
    server.expect("connected");
    expect_err(client.transact(b"ping", &mut [0; 16]), ERROR_BAD_PIPE);
}

#[test]
fn transact_in_byte_read_mode_is_bad_pipe_and_sends_nothing() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &answer_once(&name, "pong"));
    server.expect("listening");
    let client = root.client().open(&name).unwrap();
    server.expect("connected");
    expect_err(client.transact(b"lost", &mut [0; 16]), ERROR_BAD_PIPE);

    client.set_read_mode(ReadMode::Message).unwrap();
    let mut out = [0; 16];
    assert_eq!(
        client.transact(b"ping", &mut out).unwrap(),
        MessageRead::Complete(4)
    );
    server.expect_all(&["read 4 complete ping", "wrote 4"]);
}

#[test]
fn transact_with_unread_data_waiting_is_pipe_busy() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "connect",
        "write",
        "unsolicited",
        "read",
        "64",
        "write",
        "pong",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let client = root
        .client()
        .read_mode(ReadMode::Message)
        .open(&name)
        .unwrap();
    server.expect_all(&["connected", "wrote 11"]);

    expect_err(client.transact(b"ping", &mut [0; 16]), ERROR_PIPE_BUSY);
    let mut out = [0; 16];
    assert_eq!(
        client.read_message(&mut out).unwrap(),
        MessageRead::Complete(11)
    );
    assert_eq!(&out[..11], b"unsolicited");
    assert_eq!(
        client.transact(b"ping", &mut out).unwrap(),
        MessageRead::Complete(4)
    );
    server.expect_all(&["read 4 complete ping", "wrote 4"]);
}

#[test]
fn call_named_pipe_talks_to_a_server_process_and_hangs_up() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &answer_once(&name, "pong"));
    server.expect("listening");

    let mut out = [0; 16];
    let got = root.client().call(&name, b"ping", &mut out, LIMIT).unwrap();
    assert_eq!(got, MessageRead::Complete(4));
    assert_eq!(&out[..4], b"pong");
    server.expect_all(&["connected", "read 4 complete ping", "wrote 4"]);
    server.expect("err ERROR_BROKEN_PIPE");
}

#[test]
fn a_client_process_calls_a_server_in_this_process() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut caller = peer(&root, &["call", &name, "ping", "16", "5000"]);
    caller.expect("err ERROR_FILE_NOT_FOUND");

    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .create(&name)
        .unwrap();
    let mut caller = peer(&root, &["call", &name, "ping", "16", "5000"]);
    server.connect().unwrap();
    let mut buf = [0; 16];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(4)
    );
    assert_eq!(&buf[..4], b"ping");
    server.write_message(b"pong").unwrap();
    caller.expect("call 4 complete pong");
    // CallNamedPipe closes its handle once it has the reply.
    expect_err(server.read_message(&mut buf), ERROR_BROKEN_PIPE);
}

#[test]
fn call_named_pipe_waits_for_a_busy_instance() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "--max",
        "1",
        "connect",
        "await",
        "disconnect",
        "connect",
        "read",
        "64",
        "write",
        "pong",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let mut holder = peer(&root, &["open", &name, "hang"]);
    holder.expect("opened");
    server.expect("connected");

    let options = root.client();
    let n = name.clone();
    let calling = Background::start("call", move || {
        let mut out = [0; 16];
        let wait = WaitTimeout::Duration(Duration::from_secs(60));
        options
            .call(&n, b"ping", &mut out, wait)
            .map(|got| out[..got.len()].to_vec())
    });
    calling.expect_blocked();
    server.resume();
    server.expect_all(&[
        "resumed",
        "disconnected",
        "connected",
        "read 4 complete ping",
    ]);
    assert_eq!(calling.join().unwrap(), b"pong");
}

/// `NMPWAIT_NOWAIT`: a zero time-out does not wait for the busy instance.
#[test]
fn call_with_a_zero_timeout_on_a_busy_pipe_gives_sem_timeout_at_once() {
    let root = TestRoot::new();
    let name = root.pipe();
    // A default time-out of ten minutes: a zero time-out taken for "the
    // default" (NMPWAIT_USE_DEFAULT_WAIT) would wait as long as one taken
    // for "forever", past the bound of `within`.
    let script = [
        "serve",
        &name,
        "--message",
        "--max",
        "1",
        "--timeout",
        "600000",
        "connect",
        "read",
        "64",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let holder = root.client().open(&name).unwrap();
    server.expect("connected");

    let started = Instant::now();
    let (options, n) = (root.client(), name.clone());
    let called = within("call", move || {
        options.call(&n, b"ping", &mut [0; 16], Duration::ZERO)
    });
    let err = expect_err(called, ERROR_SEM_TIMEOUT);
    assert!(matches!(err, npipe::Error::Timeout), "{err:?}");
    // Only a sanity bound; `within` already fails a call that waits.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // The same from another process, through its own CallNamedPipe.
    let mut caller = peer(&root, &["call", &name, "ping", "16", "0"]);
    caller.expect("err ERROR_SEM_TIMEOUT");

    // Neither call reached the server: the first message it reads is the
    // holder's.
    holder.write_message(b"holder").unwrap();
    server.expect("read 6 complete holder");
}
