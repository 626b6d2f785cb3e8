//! Helpers of the robustness tests: a namespace root per test, a guard
//! around each `npipe-stress-peer` process, and bounded waits.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use npipe::{ClientOptions, Namespace, ServerOptions};

/// How long any single wait for a process may take before the test fails.
pub const LIMIT: Duration = Duration::from_secs(30);

/// The helper binary.
const PEER: &str = env!("CARGO_BIN_EXE_npipe-stress-peer");

/// The user and group tests drop to (`nobody`/`nogroup` on most systems).
pub const NOBODY: u32 = 65534;

/// A fresh directory per test; the namespace is its `ns` subdirectory,
/// world-writable with the sticky bit so that unprivileged peers can create
/// names too. Removed when the test passes, kept (and named on stderr) when
/// it fails.
pub struct TestRoot {
    base: PathBuf,
}

impl TestRoot {
    pub fn new(test: &str) -> TestRoot {
        use std::os::unix::fs::PermissionsExt;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base =
            std::env::temp_dir().join(format!("npipe-robust-{}-{test}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("ns")).unwrap();
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Set up like a machine-wide namespace: root makes the root and its
        // kind directories, sticky and world-writable (see
        // packaging/tmpfiles.d/npipe.conf).
        for dir in ["ns", "ns/pipe", "ns/mailslot"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
            std::fs::set_permissions(base.join(dir), std::fs::Permissions::from_mode(0o1777))
                .unwrap();
        }
        TestRoot { base }
    }

    /// The namespace directory (`NPIPE_ROOT` of the peers).
    pub fn ns(&self) -> PathBuf {
        self.base.join("ns")
    }

    pub fn namespace(&self) -> Namespace {
        Namespace::at(self.ns())
    }

    pub fn server(&self) -> ServerOptions {
        let mut options = ServerOptions::new();
        options.root(self.ns());
        options
    }

    pub fn client(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(self.ns());
        options
    }

    /// The directories of pipe names (`ns/pipe/*`), whatever their state.
    pub fn pipe_dirs(&self) -> Vec<PathBuf> {
        match std::fs::read_dir(self.ns().join("pipe")) {
            Ok(dirs) => dirs.map(|d| d.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The only pipe directory; fails if there is not exactly one.
    pub fn pipe_dir(&self) -> PathBuf {
        let dirs = self.pipe_dirs();
        assert_eq!(dirs.len(), 1, "expected one pipe directory: {dirs:?}");
        dirs.into_iter().next().unwrap()
    }

    /// Asserts that no pipe is listed and no pipe directory is left.
    pub fn assert_empty(&self) {
        let pipes = self.namespace().pipes().unwrap();
        assert!(pipes.is_empty(), "pipes still listed: {pipes:?}");
        let dirs = self.pipe_dirs();
        let listing: Vec<_> = dirs.iter().map(|d| (d, files_in(d))).collect();
        assert!(dirs.is_empty(), "pipe directories left: {listing:?}");
    }

    /// Starts `npipe-stress-peer ARGS` in this namespace, as root.
    pub fn peer(&self, args: &[&str]) -> Peer {
        Peer::spawn(&self.ns(), None, args)
    }

    /// Starts `npipe-stress-peer --as UID:GID[:GROUPS] ARGS` in this
    /// namespace.
    pub fn peer_as(&self, uid: u32, gid: u32, groups: &[u32], args: &[&str]) -> Peer {
        let mut who = format!("{uid}:{gid}");
        if !groups.is_empty() {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            who = format!("{who}:{}", list.join(","));
        }
        Peer::spawn(&self.ns(), Some(who), args)
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "test namespace kept for inspection: {}",
                self.base.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.base);
        }
    }
}

/// The names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A running `npipe-stress-peer`: its stdout lines arrive on a channel,
/// its stderr is kept for failure messages, and dropping the guard kills
/// and reaps it.
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
    what: String,
}

impl Peer {
    fn spawn(ns: &Path, who: Option<String>, args: &[&str]) -> Peer {
        let mut command = Command::new(PEER);
        if let Some(who) = &who {
            command.arg("--as").arg(who);
        }
        command.args(args).env("NPIPE_ROOT", ns);
        let what = match who {
            Some(who) => format!("peer (as {who}) {args:?}"),
            None => format!("peer {args:?}"),
        };
        Peer::start(command, what)
    }

    /// Runs `command`, which ends up executing `npipe-stress-peer`.
    fn start(mut command: Command, what: String) -> Peer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn npipe-stress-peer");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr,
            what,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line starting with `prefix` (skipping others); fails the
    /// test on a `fail` line, at end of output, or after [`LIMIT`].
    pub fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with("fail ") {
                        self.die(&format!("expected {prefix:?}, the peer failed"));
                    }
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.die(&format!("no {prefix:?} line within {LIMIT:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.die(&format!("output ended before a {prefix:?} line"))
                }
            }
        }
    }

    /// What follows `prefix ` on the next line starting with it.
    pub fn expect_value(&mut self, prefix: &str) -> String {
        let line = self.expect(prefix);
        line[prefix.len()..].trim().to_string()
    }

    /// Waits until the peer is asleep in the kernel (state `S` in
    /// `/proc/PID/stat`): after it printed that it starts a blocking call,
    /// this means the call is blocked.
    pub fn wait_until_blocked(&mut self) {
        let path = format!("/proc/{}/stat", self.pid());
        let deadline = Instant::now() + LIMIT;
        loop {
            let stat = std::fs::read_to_string(&path).unwrap_or_default();
            // The state follows the command name, which is in parentheses.
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            if state == Some('S') {
                return;
            }
            if Instant::now() > deadline {
                self.die(&format!("not blocked within {LIMIT:?}; stat: {stat}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes stdin: a "hanging" peer goes on to exit.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin (the peer exits once "hanging"), and waits for the exit
    /// status, bounded; fails unless it exited 0.
    pub fn finish(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + LIMIT;
        loop {
            match self.child.try_wait().unwrap() {
                Some(status) if status.success() => return,
                Some(status) => self.die(&format!("exited with {status}")),
                None if Instant::now() > deadline => {
                    self.die(&format!("still running {LIMIT:?} after stdin closed"))
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    fn die(&mut self, why: &str) -> ! {
        // Collect what is left of the output without waiting long.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.lock().unwrap().clone();
        panic!(
            "{}: {why}\nstdout:\n  {}\nstderr:\n{stderr}",
            self.what,
            self.seen.join("\n  ")
        );
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `npipe-stress-peer ARGS` without `NPIPE_ROOT`, so that it uses
/// the default root, in a private mount namespace whose `/tmp` is a fresh
/// tmpfs prepared by the shell commands `setup` (which find the peer in
/// `$PEER`): the machine's own `/tmp/.npipe` is never touched. `None` where
/// mount namespaces are not available.
pub fn peer_with_private_tmp(setup: &str, args: &[&str]) -> Option<Peer> {
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs tmpfs /tmp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(status) if status.success()) {
        return None;
    }
    // Open the peer binary before /tmp is covered: the checkout (and so the
    // binary) may itself live under /tmp, as CI's clone can. Executing
    // /proc/self/fd/3 reaches it through the descriptor.
    let script = format!(
        "exec 3<\"$PEER\" && mount -t tmpfs tmpfs /tmp && PEER=/proc/self/fd/3 && {setup} && exec \"$PEER\" \"$@\""
    );
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .args(args)
        .env("PEER", PEER)
        .env_remove("NPIPE_ROOT");
    Some(Peer::start(
        command,
        format!("peer in a private /tmp after `{setup}` {args:?}"),
    ))
}

/// A result being computed on another thread; [`Pending::join`] waits
/// for it, bounded.
pub struct Pending<T> {
    rx: Receiver<T>,
    what: String,
}

/// Starts `f` on a thread; its result is awaited later with a bound.
pub fn start<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    Pending {
        rx,
        what: what.to_string(),
    }
}

impl<T> Pending<T> {
    pub fn join(self) -> T {
        match self.rx.recv_timeout(LIMIT) {
            Ok(value) => value,
            Err(_) => panic!("{}: no result within {LIMIT:?}", self.what),
        }
    }
}

/// Asserts that `result` failed with the Win32 `expected` code.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: npipe::Result<T>, expected: u32) {
    match result {
        Ok(value) => panic!(
            "expected {}, got Ok({value:?})",
            npipe::win32::name(expected).unwrap_or("?")
        ),
        Err(e) => assert_eq!(
            e.win32_code(),
            expected,
            "expected {}, got: {e}",
            npipe::win32::name(expected).unwrap_or("?")
        ),
    }
}
