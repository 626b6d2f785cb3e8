//! Data through `serve` and `connect`, in byte and message mode, with the
//! services `--echo` and `--exec`, and who ends a session.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{eventually, Proc, Session, TestRoot};

#[test]
fn byte_mode_client_data_reaches_server_stdout() {
    let root = TestRoot::new("byte-sink");
    let server = root.serve("sink", &["--count", "1"]);
    let data = b"hello\0world, bytes as they are\n\xff".to_vec();
    root.run(&["connect", "sink"], &data).expect_code(0);
    let out = server.finish();
    out.expect_code(0);
    assert_eq!(out.stdout, data);
}

#[test]
fn message_mode_each_line_is_one_message() {
    let root = TestRoot::new("message-sink");
    let server = root.serve("msgs", &["--message", "--count", "1"]);
    root.run(&["connect", "msgs", "--message"], b"one\ntwo\n\nlast")
        .expect_code(0);
    let out = server.finish();
    out.expect_code(0);
    // An empty line is an empty message; a last line without a newline is
    // a message too.
    assert_eq!(out.stdout(), "one\ntwo\n\nlast\n");
}

#[test]
fn echo_sends_bytes_back() {
    let root = TestRoot::new("echo-bytes");
    let _server = root.serve("echo", &["--echo"]);
    let out = root.run(&["connect", "echo"], b"hi\n");
    out.expect_code(0);
    assert_eq!(out.stdout(), "hi\n");
}

#[test]
fn echo_sends_each_message_back() {
    let root = TestRoot::new("echo-messages");
    let _server = root.serve("echo", &["--message", "--echo"]);
    let out = root.run(&["connect", "echo", "--message"], b"a\nbb\n\nccc\n");
    out.expect_code(0);
    assert_eq!(out.stdout(), "a\nbb\n\nccc\n");
}

#[test]
fn exec_gives_each_client_its_own_process() {
    let root = TestRoot::new("exec-bytes");
    // tr buffers its output when it is not a terminal; stdbuf makes it
    // write each line at once, before the input ends.
    let _server = root.serve(
        "upper",
        &[
            "--instances",
            "2",
            "--exec",
            "stdbuf",
            "-oL",
            "tr",
            "a-z",
            "A-Z",
        ],
    );
    // Both clients are connected at once, each to its own tr.
    let mut first = Session::connect(&root, &["upper"]);
    let mut second = Session::connect(&root, &["upper"]);
    first.send(b"first client\n");
    second.send(b"second client\n");
    second.expect(b"SECOND CLIENT\n");
    first.expect(b"FIRST CLIENT\n");
    first.close().expect_code(0);
    second.close().expect_code(0);
}

#[test]
fn connect_half_closes_at_the_end_of_input_so_exec_sees_it() {
    let root = TestRoot::new("half-close");
    // Plain tr: it prints only when its input ends, which happens only if
    // connect half-closes the pipe and serve closes tr's stdin.
    let _server = root.serve("upper", &["--exec", "tr", "a-z", "A-Z"]);
    let out = root.run(&["connect", "upper"], b"hi\n");
    out.expect_code(0);
    assert_eq!(out.stdout(), "HI\n");
    // In message mode too: the last message, then the end.
    let _server = root.serve("lines", &["--message", "--exec", "sort", "-r"]);
    let out = root.run(&["connect", "lines", "--message"], b"a\nc\nb\n");
    out.expect_code(0);
    assert_eq!(out.stdout(), "c\nb\na\n");
}

#[test]
fn linger_ends_the_session_when_the_server_goes_quiet() {
    let root = TestRoot::new("linger");
    // A program that ignores the end of its input and goes on for a while.
    let _server = root.serve(
        "slow",
        &["--exec", "sh", "-c", "echo started; sleep 3; echo late"],
    );
    let start = Instant::now();
    let out = root.run(&["connect", "slow", "--linger", "300"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), "started\n");
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn exec_cat_in_message_mode_maps_lines_to_messages() {
    let root = TestRoot::new("exec-messages");
    let _server = root.serve("cat", &["--message", "--exec", "cat"]);
    let mut session = Session::connect(&root, &["cat", "--message"]);
    session.send(b"x\ny y\n");
    session.expect(b"x\ny y\n");
    session.close().expect_code(0);
    let out = root.run(&["call", "cat", "one message", "--timeout", "10000"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), "one message\n");
}

#[test]
fn exec_learns_who_the_client_is() {
    let root = TestRoot::new("exec-env");
    let _server = root.serve(
        "who",
        &[
            "--exec",
            "sh",
            "-c",
            r#"printf '%s %s\n' "$NPIPE_CLIENT_UID" "$NPIPE_PIPE_NAME""#,
        ],
    );
    let out = root.run(&["connect", "who"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), format!("{} \\\\.\\pipe\\who\n", root.uid()));
}

#[test]
fn connect_ends_when_the_server_closes() {
    let root = TestRoot::new("server-closes");
    let _server = root.serve("bye", &["--exec", "echo", "bye"]);
    // stdin stays open: only the server closing can end the session.
    let mut cmd = root.npipe(&["connect", "bye", "--linger", "forever"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut client = Proc::spawn(cmd);
    let _stdin = client.stdin();
    let out = client.finish();
    out.expect_code(0);
    assert_eq!(out.stdout(), "bye\n");
}

#[test]
fn connect_wait_takes_the_instance_once_it_is_free() {
    let root = TestRoot::new("connect-wait");
    let server = root.serve("one", &["--count", "2"]);
    let mut holder = root.hold("one");
    let mut cmd = root.npipe(&["connect", "one", "--wait", "forever"]);
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut waiter = Proc::spawn(cmd);
    std::io::Write::write_all(&mut waiter.stdin(), b"waited").unwrap();
    // The waiter blocks while the holder has the only instance.
    assert!(waiter.wait_for(Duration::from_millis(300)).is_none());
    holder.kill();
    waiter.finish().expect_code(0);
    let out = server.finish();
    out.expect_code(0);
    assert_eq!(out.stdout(), "waited");
}

#[test]
fn serve_count_stops_after_k_clients() {
    let root = TestRoot::new("count");
    let server = root.serve("c", &["--count", "3", "--instances", "2"]);
    for i in 0..3 {
        root.run(
            &["connect", "c", "--wait", "forever"],
            format!("{i}").as_bytes(),
        )
        .expect_code(0);
    }
    let out = server.finish();
    out.expect_code(0);
    let mut got: Vec<u8> = out.stdout.clone();
    got.sort();
    assert_eq!(got, b"012");
    eventually("the pipe is gone", || root.entry("c").is_none());
}
