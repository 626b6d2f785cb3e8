//! `call` (CallNamedPipe) and `wait` (WaitNamedPipe), with their exit
//! statuses.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Proc, TestRoot};

#[test]
fn call_prints_the_reply_as_one_line() {
    let root = TestRoot::new("call");
    let _server = root.serve("echo", &["--message", "--echo"]);
    let out = root.run(&["call", "echo", "hello world"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), "hello world\n");
}

#[test]
fn call_dash_sends_stdin_as_the_message() {
    let root = TestRoot::new("call-stdin");
    let _server = root.serve("echo", &["--message", "--echo"]);
    let out = root.run(&["call", "echo", "-"], b"from\nstdin");
    out.expect_code(0);
    assert_eq!(out.stdout(), "from\nstdin\n");
}

#[test]
fn call_with_a_short_buffer_prints_the_start_and_reports_more_data() {
    let root = TestRoot::new("call-more-data");
    let _server = root.serve("echo", &["--message", "--echo"]);
    let out = root.run(&["call", "echo", "0123456789", "--reply-size", "4"], b"");
    out.expect_code(2);
    assert_eq!(out.stdout(), "0123\n");
    assert!(out.stderr.contains("ERROR_MORE_DATA"), "{}", out.stderr);
    assert!(out.stderr.contains("--reply-size"), "{}", out.stderr);
}

#[test]
fn call_needs_a_message_pipe() {
    let root = TestRoot::new("call-byte-pipe");
    let _server = root.serve("bytes", &["--echo"]);
    let out = root.run(&["call", "bytes", "x"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("start the server with --message"),
        "{}",
        out.stderr
    );
}

#[test]
fn call_times_out_waiting_for_a_busy_pipe() {
    let root = TestRoot::new("call-timeout");
    let _server = root.serve("busy", &["--message", "--echo"]);
    let _holder = root.hold("busy");
    let out = root.run(&["call", "busy", "x", "--timeout", "100"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("ERROR_SEM_TIMEOUT"), "{}", out.stderr);
    assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
}

#[test]
fn wait_exits_1_when_no_instance_frees_in_time() {
    let root = TestRoot::new("wait-timeout");
    let _server = root.serve("busy", &[]);
    let _holder = root.hold("busy");
    let start = Instant::now();
    let out = root.run(&["wait", "busy", "--timeout", "300"], b"");
    out.expect_code(1);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(out.stderr, "", "a negative answer is not an error");
}

#[test]
fn wait_exits_0_when_an_instance_is_free() {
    let root = TestRoot::new("wait-free");
    let _server = root.serve("free", &[]);
    root.run(&["wait", "free", "--timeout", "5000"], b"")
        .expect_code(0);
}

#[test]
fn wait_returns_when_the_instance_frees() {
    let root = TestRoot::new("wait-frees");
    let _server = root.serve("later", &[]);
    let mut holder = root.hold("later");
    let mut cmd = root.npipe(&["wait", "later", "--timeout", "forever"]);
    cmd.stderr(Stdio::piped());
    let mut waiter = Proc::spawn(cmd);
    assert!(waiter.wait_for(Duration::from_millis(300)).is_none());
    holder.kill();
    waiter.finish().expect_code(0);
}

#[test]
fn wait_on_a_missing_pipe_is_an_error() {
    let root = TestRoot::new("wait-missing");
    let out = root.run(&["wait", "nobody", "--timeout", "forever"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("ERROR_FILE_NOT_FOUND"),
        "{}",
        out.stderr
    );
}
