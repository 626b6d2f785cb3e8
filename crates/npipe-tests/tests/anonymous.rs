//! Anonymous pipes across real processes: handing ends to children,
//! inheritance, back-pressure, and broken pipes without SIGPIPE.
//!
//! Children are `npipe-anon-child` (see its doc for the commands). Every wait
//! is bounded, and a `Child` guard kills and reaps its process on drop. The
//! test process never changes its own signal dispositions or environment:
//! cases that need `SIGPIPE` at `SIG_DFL` set it in the child.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use npipe::anonymous::{pipe, AnonymousPipeOptions};
use npipe::win32::ERROR_BROKEN_PIPE;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn child_reads_the_read_end_as_stdin_and_answers_through_another_pipe() {
    let (to_child, mut to_child_w) = pipe().unwrap();
    let (from_child, from_child_w) = pipe().unwrap();
    let mut child = Child::spawn(&["cat"], to_child.into(), from_child_w.into());

    to_child_w.write_all(b"hello through two pipes").unwrap();
    drop(to_child_w);

    assert_eq!(read_to_end_within(from_child), b"hello through two pipes");
    assert!(child.wait().success());
}

#[test]
fn child_not_given_an_end_does_not_inherit_it() {
    let (r, w) = pipe().unwrap();
    let fds = [r.as_raw_fd(), w.as_raw_fd()];
    let ours = fds.map(own_fd_target);

    let seen = fd_status_in_child(&fds, Stdio::null());
    assert_ne!(seen[0], ours[0], "the read end leaked into the child");
    assert_ne!(seen[1], ours[1], "the write end leaked into the child");

    // Control: the same check does see an end that is given.
    let seen = fd_status_in_child(&fds[..1], r.try_clone().unwrap().into());
    assert_ne!(
        seen[0], ours[0],
        "a given end arrives as fd 0, not its own number"
    );
    let stdin = fd_status_in_child(&["0".to_string()], r.try_clone().unwrap().into());
    assert_eq!(stdin[0], ours[0], "fd 0 of the child is our read end");

    // And one made inheritable arrives under its own number.
    r.set_inheritable(true).unwrap();
    let seen = fd_status_in_child(&fds[..1], Stdio::null());
    r.set_inheritable(false).unwrap();
    assert_eq!(seen[0], ours[0]);
}

#[test]
fn a_full_pipe_blocks_the_writer_until_a_child_reads() {
    let (r, mut w) = AnonymousPipeOptions::new()
        .buffer_size(4096)
        .create()
        .unwrap();
    let capacity = w.buffer_size().unwrap();
    let data: Vec<u8> = (0..capacity * 4).map(|i| (i % 251) as u8).collect();

    let (done_tx, done_rx) = mpsc::channel();
    let expected = data.clone();
    let writer = std::thread::spawn(move || {
        let result = w.write_all(&data);
        drop(w);
        done_tx.send(result.map_err(|e| e.to_string())).unwrap();
    });

    let deadline = Instant::now() + LIMIT;
    while r.bytes_available().unwrap() < capacity {
        assert!(Instant::now() < deadline, "the pipe never filled up");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Full, and the writer has three times as much again to write.
    assert!(
        done_rx.try_recv().is_err(),
        "the writer finished on a full pipe"
    );

    let (from_child, from_child_w) = pipe().unwrap();
    let mut child = Child::spawn(&["cat"], r.into(), from_child_w.into());
    assert_eq!(read_to_end_within(from_child), expected);
    done_rx.recv_timeout(LIMIT).unwrap().unwrap();
    writer.join().unwrap();
    assert!(child.wait().success());
}

#[test]
fn writing_after_the_reader_child_is_killed_gives_broken_pipe() {
    let (r, mut w) = pipe().unwrap();
    let mut reader = Child::spawn(&["hang"], r.into(), Stdio::null());
    w.write_all(b"before").unwrap();
    reader.kill();

    let err = w.write_all(b"after").unwrap_err();
    assert_eq!(npipe::win32_code_of(&err), ERROR_BROKEN_PIPE, "{err}");
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
}

/// The writer is a child whose SIGPIPE is at its default (it would die of a
/// plain `write`); the reader was another child, killed first.
#[test]
fn writer_with_default_sigpipe_survives_a_killed_reader() {
    let (r, w) = pipe().unwrap();
    let mut reader = Child::spawn(&["hang"], r.into(), Stdio::null());
    reader.kill();

    let report = run(&["write-stdin-sigdfl"], w.into());
    assert_eq!(report.get("error"), ERROR_BROKEN_PIPE.to_string());
    assert_eq!(report.get("sigpipe-pending"), "no");
    assert_eq!(report.get("sigpipe-blocked"), "no");
}

#[test]
fn default_sigpipe_slow_path_writes_and_then_reports_broken_pipe() {
    let report = run(&["own-pipe-sigdfl"], Stdio::null());
    assert_eq!(report.get("live"), "abc");
    assert_eq!(report.get("error"), ERROR_BROKEN_PIPE.to_string());
    assert_eq!(
        report.get("sigpipe-pending"),
        "no",
        "npipe's SIGPIPE was not consumed"
    );
    assert_eq!(
        report.get("sigpipe-blocked"),
        "no",
        "the mask was not restored"
    );
}

#[test]
fn a_sigpipe_the_host_had_pending_stays_pending() {
    let report = run(&["pending-preserved"], Stdio::null());
    assert_eq!(report.get("error"), ERROR_BROKEN_PIPE.to_string());
    assert_eq!(report.get("sigpipe-pending"), "yes");
    assert_eq!(
        report.get("sigpipe-blocked"),
        "yes",
        "the host's mask was not kept"
    );
}

#[test]
fn a_host_sigpipe_handler_is_not_run_for_npipe_writes() {
    let report = run(&["handler"], Stdio::null());
    assert_eq!(report.get("error"), ERROR_BROKEN_PIPE.to_string());
    assert_eq!(report.get("handler-calls"), "0");
    assert_eq!(report.get("sigpipe-pending"), "no");
    assert_eq!(report.get("sigpipe-blocked"), "no");
}

/// As root the kernel would grant the size; the child drops to `nobody`
/// first so the clamp to `pipe-max-size` is what is tested.
#[test]
fn unprivileged_size_hint_above_the_maximum_is_clamped_to_it() {
    for hint in ["4194305", "1099511627776"] {
        let report = run(&["size-unprivileged", hint], Stdio::null());
        if let Some(reason) = report.find("skip") {
            eprintln!("skipped: {reason}");
            return;
        }
        assert_eq!(report.get("size"), report.get("max"), "hint {hint}");
    }
}

// ---- helpers ---------------------------------------------------------------

/// A child process that is killed and reaped when dropped.
struct Child(std::process::Child);

impl Child {
    fn spawn(args: &[&str], stdin: Stdio, stdout: Stdio) -> Child {
        // The Command (and with it the parent's copies of the ends given to
        // the child) is dropped when this function returns.
        Child(
            Command::new(env!("CARGO_BIN_EXE_npipe-anon-child"))
                .args(args)
                .stdin(stdin)
                .stdout(stdout)
                .spawn()
                .expect("spawn npipe-anon-child"),
        )
    }

    /// Waits at most [`LIMIT`] for the child to exit.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "child {} still running",
                self.0.id()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        self.wait();
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads until the end of data, failing the test after [`LIMIT`].
fn read_to_end_within(mut reader: impl Read + Send + 'static) -> Vec<u8> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let result = reader.read_to_end(&mut buf).map(|_| buf);
        let _ = tx.send(result);
    });
    rx.recv_timeout(LIMIT)
        .expect("no end of data in time")
        .expect("read failed")
}

/// The `key value` lines a child printed.
struct Report(String);

impl Report {
    fn find(&self, key: &str) -> Option<&str> {
        self.0
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
    }

    fn get(&self, key: &str) -> String {
        match self.find(key) {
            Some(value) => value.to_string(),
            None => panic!("no {key:?} in the child's report:\n{}", self.0),
        }
    }
}

/// Runs the helper to completion and returns its report; it must exit 0
/// (in particular, not be killed by SIGPIPE).
fn run(args: &[&str], stdin: Stdio) -> Report {
    let (out, out_w) = pipe().unwrap();
    let mut child = Child::spawn(args, stdin, out_w.into());
    let text = String::from_utf8(read_to_end_within(out)).unwrap();
    let status = child.wait();
    assert!(
        status.success(),
        "{args:?} ended with {status}; it printed:\n{text}"
    );
    Report(text)
}

/// What `/proc/self/fd/N` points at in this process, such as `pipe:[1234]`.
fn own_fd_target(fd: i32) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .display()
        .to_string()
}

/// What each fd points at in a fresh child, or `closed`.
fn fd_status_in_child(fds: &[impl ToString], stdin: Stdio) -> Vec<String> {
    let mut args = vec!["fd-status".to_string()];
    args.extend(fds.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = run(&args, stdin);
    args[1..].iter().map(|fd| report.get(fd)).collect()
}
