//! Helpers: a namespace root per test, and child processes that report
//! line by line with bounded waits.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any single wait in these tests may take.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The helper binary.
pub const PEER: &str = env!("CARGO_BIN_EXE_npipe-mailslot-peer");

/// A fresh namespace directory for one test: removed when the test passes,
/// kept (and printed) when it fails.
pub struct TestRoot {
    path: PathBuf,
}

impl TestRoot {
    pub fn new(test: &str) -> TestRoot {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("npms-{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        // Children that drop to another uid must reach the namespace.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TestRoot { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A command running the helper with this root.
    pub fn peer(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(PEER);
        cmd.args(args).env("NPIPE_ROOT", &self.path);
        cmd
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept the namespace of the failed test: {}",
                self.path.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running child whose stdout is read line by line on a thread. Killed
/// and reaped on drop.
pub struct Peer {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    pub fn spawn(mut cmd: Command, what: &str) -> Peer {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: spawn: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Peer {
            what: what.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// Runs the command to its end and returns its output lines.
    pub fn run(cmd: Command, what: &str) -> Vec<String> {
        let mut peer = Peer::spawn(cmd, what);
        let status = peer.wait();
        assert!(status.success(), "{what}: exited with {status}");
        // The reading thread ends at the child's end of output.
        let mut lines = Vec::new();
        loop {
            match peer.lines.recv_timeout(LIMIT) {
                Ok(line) => lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return lines,
                Err(e) => panic!("{what}: output never ended ({e})"),
            }
        }
    }

    /// The next line, waiting at most [`LIMIT`].
    pub fn line(&self) -> String {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => line,
            Err(e) => panic!("{}: no line within {LIMIT:?} ({e})", self.what),
        }
    }

    /// Asserts the next line.
    pub fn expect(&self, expected: &str) {
        let line = self.line();
        assert_eq!(line, expected, "{}: expected {expected:?}", self.what);
    }

    /// Sends one command line to the child's stdin.
    pub fn tell(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap_or_else(|e| panic!("{}: {e}", self.what));
        stdin.flush().unwrap();
    }

    /// Waits for the child to exit, at most [`LIMIT`].
    pub fn wait(&mut self) -> ExitStatus {
        self.stdin.take();
        let deadline = Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{}: still running after {LIMIT:?}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `i`th message of writer `id`, as `npipe-mailslot-peer write-many`
/// makes it (keep the two in step).
pub fn message(id: usize, i: usize, max: usize) -> Vec<u8> {
    let len = (id * 7919 + i * 104_729) % (max + 1);
    (0..len).map(|j| (id * 31 + i * 7 + j) as u8).collect()
}
