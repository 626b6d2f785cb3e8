//! Helpers of the async tests: a namespace root per test, runtimes, the
//! peer process, payloads.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use npipe::{ClientOptions, PipeMode, ReadMode, ServerOptions};

/// Every wait in these tests gives up after this long.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A fresh namespace root for one test; removed on success, kept on
/// failure for a look.
pub struct TestRoot {
    path: PathBuf,
}

impl TestRoot {
    pub fn new(test: &str) -> TestRoot {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("npipe-async-{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("test root");
        TestRoot { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Message-type server options in this root.
    pub fn server(&self) -> ServerOptions {
        let mut options = ServerOptions::new();
        options.root(&self.path).pipe_mode(PipeMode::Message);
        options
    }

    /// Message-read-mode client options in this root.
    pub fn client(&self) -> ClientOptions {
        let mut options = ClientOptions::new();
        options.root(&self.path).read_mode(ReadMode::Message);
        options
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A multi-threaded runtime with two workers, the size of CI's machine.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `test` on a fresh runtime, failing if it takes longer than `LIMIT`.
pub fn run<F: std::future::Future<Output = ()>>(test: F) {
    runtime().block_on(async {
        tokio::time::timeout(LIMIT, test)
            .await
            .expect("the test did not finish within the limit")
    })
}

/// Message sizes the peer process cycles through (its `SIZES`).
pub const PEER_SIZES: [usize; 6] = [0, 1, 100, 4096, 65_536, 300_000];

/// The content of message `i` of `len` bytes (the peer's `payload`).
pub fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| ((i * 31 + k) % 251) as u8).collect()
}

/// The `npipe-async-peer` process, killed and reaped on drop.
pub struct Peer {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Peer {
    pub fn spawn(root: &TestRoot, args: &[&str]) -> Peer {
        let mut child = Command::new(env!("CARGO_BIN_EXE_npipe-async-peer"))
            .args(args)
            .env("NPIPE_ROOT", root.path())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn npipe-async-peer");
        let stdout: ChildStdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer { child, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line, which must start with `key`; returns the rest.
    pub fn expect(&self, key: &str) -> String {
        let line = self
            .lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|e| panic!("expected a '{key}' line from the peer, got {e}"));
        match line.strip_prefix(key) {
            Some(rest) => rest.trim().to_string(),
            None => panic!("expected a '{key}' line from the peer, got {line:?}"),
        }
    }

    /// Waits for the peer to exit and asserts it succeeded.
    pub fn finish(mut self) {
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "the peer failed: {status}");
                return;
            }
            assert!(std::time::Instant::now() < deadline, "the peer hangs");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// This process's thread count, from `/proc/self/status`.
pub fn thread_count() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: line")
}

/// Raises the soft limit of open files to the hard limit.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read one valid rlimit struct.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
