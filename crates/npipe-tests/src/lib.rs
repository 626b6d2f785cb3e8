//! Shared helpers for npipe's multi-process integration tests.
//!
//! - [`TestRoot`]: a fresh namespace directory per test, removed when the
//!   test passes and kept (its path printed) when it fails. It also bounds
//!   the whole test: one still running after [`TEST_LIMIT`] aborts the test
//!   binary with its name, rather than hanging CI.
//! - [`Peer`]: a running `npipe-test-peer` with its script, read line by
//!   line with bounded waits, killed and reaped on drop.
//! - [`Background`]: a blocking call run on another thread, to check that
//!   it is still blocked and then collect its result, both bounded.
//! - [`expect_err`]: asserts a Win32 error code, printing what came instead.
//!
//! Nothing here changes the test process's environment: the namespace goes
//! to children through `Command::env`.

use std::ffi::OsStr;
use std::fmt::Debug;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use npipe::{ClientOptions, ServerOptions};

/// The longest any single wait may take: a line from a peer, a blocking
/// call that must return, a peer's exit.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The longest a whole test may take before the test binary is aborted.
pub const TEST_LIMIT: Duration = Duration::from_secs(90);

/// How long a check that something is still blocked waits for it not to
/// happen. Only a wrong library makes it happen; a slow machine cannot.
pub const STILL: Duration = Duration::from_millis(200);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace directory of one's own, named after the test.
#[derive(Debug)]
pub struct TestRoot {
    name: String,
    path: PathBuf,
    watchdog: Option<Sender<()>>,
}

impl TestRoot {
    /// A fresh root for the calling test. The name comes from the test
    /// thread (libtest names it after the test), plus the pid and a
    /// counter, so parallel tests and repeated runs never share a root.
    pub fn new() -> TestRoot {
        let thread = std::thread::current();
        let full = thread.name().unwrap_or("test").to_string();
        let name = full.rsplit("::").next().unwrap_or("test").to_string();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join("npipe-itests")
            .join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the test root");
        let (tx, rx) = mpsc::channel::<()>();
        let (label, shown) = (full.clone(), path.clone());
        std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(TEST_LIMIT) {
                eprintln!(
                    "test {label} still running after {TEST_LIMIT:?}: aborting; its namespace \
                     is kept at {}",
                    shown.display()
                );
                std::process::abort();
            }
        });
        TestRoot {
            name,
            path,
            watchdog: Some(tx),
        }
    }

    /// The namespace directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The test's pipe name, `\\.\pipe\<test name>`.
    pub fn pipe(&self) -> String {
        format!(r"\\.\pipe\{}", self.name)
    }

    /// Another pipe name of this test, `\\.\pipe\<test name>-<suffix>`.
    pub fn pipe_named(&self, suffix: &str) -> String {
        format!(r"\\.\pipe\{}-{suffix}", self.name)
    }

    /// `ServerOptions` in this namespace.
    pub fn server(&self) -> ServerOptions {
        let mut options = ServerOptions::new();
        options.root(&self.path);
        options
    }

    /// `ClientOptions` in this namespace.
    pub fn client(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(&self.path);
        options
    }
}

impl Default for TestRoot {
    fn default() -> TestRoot {
        TestRoot::new()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        drop(self.watchdog.take());
        if std::thread::panicking() {
            eprintln!("namespace root kept at {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running `npipe-test-peer`.
///
/// Every line it prints is kept, and every failure shows the script, the
/// lines seen so far and the peer's stderr. Dropping the guard kills and
/// reaps the process.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
    script: Vec<String>,
    seen: Vec<String>,
    reported: bool,
}

impl Peer {
    /// Starts the peer binary `exe` (found by the test through
    /// `env!("CARGO_BIN_EXE_npipe-test-peer")`) with `script`, in the
    /// namespace of `root`.
    pub fn spawn<S: AsRef<OsStr>>(exe: &str, root: &TestRoot, script: &[S]) -> Peer {
        let mut child = Command::new(exe)
            .args(script)
            .env("NPIPE_ROOT", root.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn npipe-test-peer");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            script: script
                .iter()
                .map(|s| s.as_ref().to_string_lossy().into_owned())
                .collect(),
            seen: Vec::new(),
            reported: false,
        }
    }

    /// The peer's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line, waiting at most [`LIMIT`].
    #[track_caller]
    pub fn line(&mut self) -> String {
        match self.lines.recv_timeout(LIMIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("no line within {LIMIT:?}")),
            Err(RecvTimeoutError::Disconnected) => self.fail("the peer exited"),
        }
    }

    /// Asserts that the next line is `want`.
    #[track_caller]
    pub fn expect(&mut self, want: &str) {
        let got = self.line();
        if got != want {
            self.fail(&format!("expected the line {want:?}\n    but saw {got:?}"));
        }
    }

    /// Asserts the next lines, in order.
    #[track_caller]
    pub fn expect_all(&mut self, want: &[&str]) {
        for line in want {
            self.expect(line);
        }
    }

    /// Asserts that no line comes for [`STILL`]: the peer is still blocked
    /// in its current action.
    #[track_caller]
    pub fn expect_blocked(&mut self, doing: &str) {
        match self.lines.recv_timeout(STILL) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(line) => {
                self.seen.push(line.clone());
                self.fail(&format!(
                    "expected the peer to be blocked in {doing}\n    but saw {line:?}"
                ))
            }
            Err(RecvTimeoutError::Disconnected) => self.fail(&format!(
                "expected the peer to be blocked in {doing}, but it exited"
            )),
        }
    }

    /// Lets a peer waiting in `await` go on.
    #[track_caller]
    pub fn resume(&mut self) {
        let sent = self
            .stdin
            .as_mut()
            .map(|stdin| stdin.write_all(b"go\n").and_then(|()| stdin.flush()));
        if !matches!(sent, Some(Ok(()))) {
            self.fail("could not write to the peer's stdin");
        }
    }

    /// Kills the peer with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits at most [`LIMIT`] for the peer to exit by itself.
    #[track_caller]
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => self.fail(&format!("the peer did not exit within {LIMIT:?}")),
            }
        }
    }

    /// Panics with everything known about the peer.
    #[track_caller]
    pub fn fail(&mut self, what: &str) -> ! {
        let report = self.report();
        self.reported = true;
        panic!("{what}\n{report}");
    }

    /// The script, the lines seen and the stderr of the peer (killing it
    /// first, so its stderr ends).
    fn report(&mut self) -> String {
        self.kill();
        let stderr = self
            .stderr
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| "<unavailable>".into());
        format!(
            "peer {}: npipe-test-peer {}\n  lines seen: {:#?}\n  stderr:\n{stderr}",
            self.child.id(),
            self.script
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(" "),
            self.seen
        )
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if std::thread::panicking() && !self.reported {
            eprintln!("{}", self.report());
        }
        self.kill();
    }
}

/// A call running on its own thread, for calls that block.
#[derive(Debug)]
pub struct Background<T> {
    what: String,
    result: Receiver<T>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `f` on a new thread; `what` names it in failures.
    pub fn start(what: &str, f: impl FnOnce() -> T + Send + 'static) -> Background<T> {
        let (tx, result) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        Background {
            what: what.to_string(),
            result,
        }
    }

    /// Asserts that the call has not returned within [`STILL`].
    #[track_caller]
    pub fn expect_blocked(&self)
    where
        T: Debug,
    {
        match self.result.recv_timeout(STILL) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(v) => panic!("expected {} to block, but it returned {v:?}", self.what),
            Err(RecvTimeoutError::Disconnected) => panic!("{} panicked", self.what),
        }
    }

    /// The call's result, waiting at most [`LIMIT`].
    #[track_caller]
    pub fn join(self) -> T {
        match self.result.recv_timeout(LIMIT) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{} did not return within {LIMIT:?}", self.what)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{} panicked", self.what),
        }
    }
}

/// Runs a call that must not block (or must return soon) on another
/// thread, and returns its result within [`LIMIT`].
#[track_caller]
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    Background::start(what, f).join()
}

/// Asserts that `result` is the npipe error with Win32 code `code`, and
/// returns it.
#[track_caller]
pub fn expect_err<T: Debug>(result: npipe::Result<T>, code: u32) -> npipe::Error {
    let want = npipe::win32::name(code).unwrap_or("an unknown code");
    match result {
        Err(e) if e.win32_code() == code => e,
        Err(e) => panic!(
            "expected {want} ({code})\n    but got {} ({}): {e}",
            e.win32_name(),
            e.win32_code()
        ),
        Ok(v) => panic!("expected {want} ({code})\n    but the call succeeded: {v:?}"),
    }
}

/// `len` bytes of the peer's `write-size` pattern (`abc…zabc…`).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// This process's effective uid.
#[allow(unsafe_code)]
pub fn my_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
