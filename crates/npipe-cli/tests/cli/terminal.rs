//! The progress line: shown on stderr when stderr is a terminal and the
//! transfer takes more than a second, never when stderr is a pipe.
//!
//! The terminal comes from `script` (util-linux, in Debian's essential
//! `bsdutils`), which runs a command on a new pseudo-terminal and copies
//! what it draws to its own stdout.

use std::process::Command;

use crate::util::{run, TestRoot};

/// A shell command: a client whose input trickles in over 1.5 seconds.
fn slow_client(root: &TestRoot, name: &str) -> String {
    format!(
        "(printf abc; sleep 1.5; printf def) | '{}' --root '{}' connect {name} > /dev/null",
        env!("CARGO_BIN_EXE_npipe"),
        root.path().display()
    )
}

#[test]
fn progress_shows_on_a_terminal() {
    let root = TestRoot::new("tty-progress");
    let server = root.serve("slow", &["--count", "1"]);
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &slow_client(&root, "slow"), "/dev/null"]);
    let out = run(cmd, b"");
    out.expect_code(0);
    let screen = out.stdout();
    assert!(
        screen.contains(r"\\.\pipe\slow: ") && screen.contains(" B sent, 0 B received"),
        "no progress line on the terminal: {screen:?}"
    );
    let served = server.finish();
    served.expect_code(0);
    assert_eq!(served.stdout(), "abcdef");
}

#[test]
fn progress_stays_off_a_pipe() {
    let root = TestRoot::new("pipe-progress");
    let server = root.serve("slow", &["--count", "1"]);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &slow_client(&root, "slow")]);
    let out = run(cmd, b"");
    out.expect_code(0);
    assert_eq!(out.stderr, "", "stderr is a pipe: nothing drawn");
    assert_eq!(server.finish().stdout(), "abcdef");
}
