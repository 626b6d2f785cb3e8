//! Running the real `npipe` binary: a private namespace per test, children
//! killed on drop, every wait bounded, and failures that show what ran.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any single step may take before the test gives up.
pub const LIMIT: Duration = Duration::from_secs(20);

/// A fresh namespace directory named after the test, removed when the test
/// passes and kept for inspection when it fails.
pub struct TestRoot {
    path: PathBuf,
}

impl TestRoot {
    pub fn new(test: &str) -> TestRoot {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("cli")
            .join(format!("{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test root");
        TestRoot { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `npipe --root ROOT ARGS...`, with stdin, stdout and stderr null
    /// unless the caller sets them.
    pub fn npipe(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_npipe"));
        cmd.arg("--root")
            .arg(&self.path)
            .args(args)
            .env_remove("NPIPE_ROOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Runs `npipe ARGS` to the end with `input` on stdin.
    pub fn run(&self, args: &[&str], input: &[u8]) -> Output {
        run(self.npipe(args), input)
    }

    /// Starts `npipe serve NAME ARGS` and waits until `name` is listed.
    /// Its stdout and stderr are collected.
    pub fn serve(&self, name: &str, args: &[&str]) -> Proc {
        let mut all = vec!["serve", name];
        all.extend_from_slice(args);
        let mut cmd = self.npipe(&all);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let proc = Proc::spawn(cmd);
        self.wait_listed(name, &proc);
        proc
    }

    /// Starts `npipe mailslot create NAME ARGS` and waits until the
    /// mailslot is listed. Its stdout and stderr are collected.
    pub fn mailslot(&self, name: &str, args: &[&str]) -> Proc {
        let mut all = vec!["mailslot", "create", name];
        all.extend_from_slice(args);
        let mut cmd = self.npipe(&all);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.start_mailslot(name, cmd)
    }

    /// Starts `cmd`, a `npipe mailslot create` of `name`, and waits until
    /// the mailslot is listed.
    pub fn start_mailslot(&self, name: &str, cmd: Command) -> Proc {
        let mut proc = Proc::spawn(cmd);
        let deadline = Instant::now() + LIMIT;
        while self.mailslot_entry(name).is_none() {
            if let Some(status) = proc.wait_for(Duration::ZERO) {
                let out = proc.output(status);
                panic!(
                    "{name} was never listed: {} exited with {status}\n--- stderr\n{}",
                    out.what, out.stderr
                );
            }
            assert!(
                Instant::now() < deadline,
                "{name} was never listed; reader: {}",
                proc.describe()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        proc
    }

    /// The mailslot `name` (short) as the namespace lists it, if it is
    /// there.
    pub fn mailslot_entry(&self, name: &str) -> Option<npipe::MailslotEntry> {
        let full = format!(r"\\.\mailslot\{name}");
        npipe::Namespace::at(&self.path)
            .mailslots()
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.name == full)
    }

    /// Waits until `name` shows in the namespace with a listening instance.
    pub fn wait_listed(&self, name: &str, server: &Proc) {
        let full = format!(r"\\.\pipe\{name}");
        let deadline = Instant::now() + LIMIT;
        loop {
            let pipes = npipe::Namespace::at(&self.path).pipes().unwrap_or_default();
            if pipes
                .iter()
                .any(|p| p.name == full && p.listening_instances > 0)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{full} was never listed; server: {}",
                server.describe()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The pipe `name` as the namespace lists it, if it is there.
    pub fn entry(&self, name: &str) -> Option<npipe::PipeEntry> {
        let full = format!(r"\\.\pipe\{name}");
        npipe::Namespace::at(&self.path)
            .pipes()
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.name == full)
    }

    /// Starts a client that connects to `name` and holds its instance (its
    /// stdin stays open), and waits until no instance of `name` listens.
    pub fn hold(&self, name: &str) -> Proc {
        let mut cmd = self.npipe(&["connect", name]);
        cmd.stdin(Stdio::piped());
        let proc = Proc::spawn(cmd);
        eventually(&format!("a client holds {name}"), || {
            self.entry(name).is_some_and(|p| p.listening_instances == 0)
        });
        proc
    }

    /// The uid that owns the test root: this process's.
    pub fn uid(&self) -> u32 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.path).unwrap().uid()
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test root kept: {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Polls `check` until it holds, failing after [`LIMIT`].
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a finished run gave.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub what: String,
}

impl Output {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Asserts the exit status, printing everything when it differs.
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.code(),
            Some(code),
            "exit status of {}\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.stdout(),
            self.stderr
        );
        self
    }
}

/// Runs `cmd` to the end within [`LIMIT`], feeding `input`, and collects
/// its output. Kills it and fails if it overruns.
pub fn run(mut cmd: Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = Proc::spawn(cmd);
    let stdin = proc.stdin();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let mut stdin = stdin;
        let _ = stdin.write_all(&input);
    });
    let status = proc.wait();
    let _ = feeder.join();
    proc.output(status)
}

/// A child process that is killed and reaped when dropped, with its stdout
/// and stderr collected by threads so it never blocks on them.
pub struct Proc {
    child: Child,
    what: String,
    stdout: Option<JoinHandle<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Proc {
    pub fn spawn(cmd: Command) -> Proc {
        Proc::spawn_with(cmd, true)
    }

    /// Like [`Proc::spawn`], leaving a piped stdout to the caller
    /// ([`Proc::take_stdout`]).
    pub fn spawn_streaming(cmd: Command) -> Proc {
        Proc::spawn_with(cmd, false)
    }

    fn spawn_with(mut cmd: Command, collect_stdout: bool) -> Proc {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = if collect_stdout {
            child.stdout.take().map(collect)
        } else {
            None
        };
        let stderr = child.stderr.take().map(collect);
        Proc {
            child,
            what,
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Takes the child's stdout, to read as it comes (it must have been
    /// piped); it is then not collected.
    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        assert!(
            self.stdout.is_none(),
            "spawn with stdout piped and not collected"
        );
        self.child.stdout.take().expect("stdout was piped")
    }

    /// Takes the child's stdin (it must have been piped).
    pub fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin was piped")
    }

    /// Waits for the child to exit, within [`LIMIT`].
    pub fn wait(&mut self) -> ExitStatus {
        self.wait_for(LIMIT)
            .unwrap_or_else(|| panic!("{} still running after {LIMIT:?}", self.what))
    }

    /// Waits up to `limit`; `None` if it is still running.
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Collected output, after the child exited.
    pub fn output(&mut self, status: ExitStatus) -> Output {
        let take =
            |h: Option<JoinHandle<Vec<u8>>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Output {
            status,
            stdout: take(self.stdout.take()),
            stderr: String::from_utf8_lossy(&take(self.stderr.take())).into_owned(),
            what: self.what.clone(),
        }
    }

    /// Waits for exit and returns the output.
    pub fn finish(mut self) -> Output {
        let status = self.wait();
        self.output(status)
    }

    pub fn describe(&self) -> String {
        self.what.clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect(mut from: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        all
    })
}

/// An interactive `npipe connect`: write to its stdin, wait for what it
/// prints, then end the input. For replies that must come before the
/// input ends.
pub struct Session {
    proc: Proc,
    stdin: Option<ChildStdin>,
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Session {
    pub fn connect(root: &TestRoot, args: &[&str]) -> Session {
        let mut all = vec!["connect"];
        all.extend_from_slice(args);
        let mut cmd = root.npipe(&all);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut proc = Proc::spawn_streaming(cmd);
        let stdin = Some(proc.stdin());
        let mut stdout = proc.take_stdout();
        let (tx, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session {
            proc,
            stdin,
            chunks,
            seen: Vec::new(),
        }
    }

    pub fn send(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("input still open");
        stdin.write_all(data).expect("write to connect's stdin");
        stdin.flush().unwrap();
    }

    /// Waits (within [`LIMIT`]) until the output so far is `expected`.
    pub fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + LIMIT;
        while self.seen.len() < expected.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&self.seen),
            String::from_utf8_lossy(expected),
            "output of {}",
            self.proc.describe()
        );
    }

    /// Ends the input and waits for the exit.
    pub fn close(mut self) -> Output {
        drop(self.stdin.take());
        self.proc.finish()
    }
}
