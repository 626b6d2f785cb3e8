//! Helpers: a namespace root, test certificates, a running npiped, remote
//! client options, child processes. Every wait is bounded.

// Shared by the test modules; not each uses each helper.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use npipe::net::RemoteOptions;
use npipe::{ClientOptions, ServerOptions};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir; removed on drop unless
/// the test failed (kept for inspection).
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("npiped-t-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        // Children running as another user must reach the namespace.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TestDir { path }
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("kept {} for inspection", self.path.display());
        }
    }
}

/// How the daemon authenticates clients in a test.
#[derive(Clone)]
pub enum Auth {
    /// Client certificates from the test CA.
    Ca,
    /// A shared token.
    Token(&'static str),
    /// [`TOKEN`] from `--token-file`, with `--token-name NAME` when given;
    /// nothing else in the file.
    TokenFile(Option<&'static str>),
}

pub const TOKEN: &str = "a-test-token-0123456789";

/// One test's world: a namespace root, certificates, a running npiped.
pub struct World {
    pub dir: TestDir,
    pub root: PathBuf,
    pub certs: npiped::CertPaths,
    pub daemon: Daemon,
}

impl World {
    /// Starts npiped on loopback with client certificates required.
    pub fn new(name: &str) -> World {
        World::with(name, Auth::Ca, &[])
    }

    pub fn with(name: &str, auth: Auth, extra_args: &[&str]) -> World {
        World::with_limits(name, auth, "", extra_args)
    }

    /// As [`World::with`], adding `limits` lines to the `[limits]` table.
    pub fn with_limits(name: &str, auth: Auth, limits: &str, extra_args: &[&str]) -> World {
        let dir = TestDir::new(name);
        let root = dir.path.join("ns");
        std::fs::create_dir_all(&root).unwrap();
        let certs = npiped::generate_test_certificates(
            &dir.path.join("certs"),
            &["localhost".into(), "127.0.0.1".into(), "10.213.7.1".into()],
            "alice",
        )
        .unwrap();
        let config = write_config(&dir.path, &root, &certs, &auth);
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(limits);
        std::fs::write(&config, text).unwrap();
        let mut args: Vec<String> = Vec::new();
        if let Auth::TokenFile(name) = auth {
            let file = dir.path.join("token");
            std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
            args.extend(["--token-file".into(), file.display().to_string()]);
            if let Some(name) = name {
                args.extend(["--token-name".into(), name.to_string()]);
            }
        }
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let daemon = Daemon::start(&config, "127.0.0.1", &dir.path, &args, None);
        World {
            dir,
            root,
            certs,
            daemon,
        }
    }

    /// Server options in this world's namespace, accepting remote clients.
    pub fn server(&self) -> ServerOptions {
        let mut o = ServerOptions::new();
        o.root(&self.root).reject_remote_clients(false);
        o
    }

    /// Remote settings: this world's CA, port and client certificate.
    pub fn remote(&self) -> RemoteOptions {
        let mut r = RemoteOptions::new();
        r.port(self.daemon.addr.port())
            .address("127.0.0.1")
            .ca_file(&self.certs.ca_cert)
            .client_cert_files(&self.certs.client_cert, &self.certs.client_key)
            .computer_name("test-client")
            .connect_timeout(Duration::from_secs(5));
        r
    }

    /// Client options for remote names through this world's npiped.
    pub fn client(&self) -> ClientOptions {
        let mut o = ClientOptions::new();
        o.remote(self.remote());
        o
    }
}

/// The npiped configuration file for a test.
pub fn write_config(dir: &Path, root: &Path, certs: &npiped::CertPaths, auth: &Auth) -> PathBuf {
    let auth = match auth {
        Auth::Ca => format!("client_ca = {:?}\n", certs.ca_cert),
        Auth::Token(t) => format!("tokens = [{{ name = \"ci\", token = {t:?} }}]\n"),
        Auth::TokenFile(_) => String::new(),
    };
    let text = format!(
        "root = {root:?}\n[tls]\ncert = {:?}\nkey = {:?}\n[auth]\n{auth}[limits]\nshutdown_grace_secs = 2\nhandshake_timeout_secs = 2\n",
        certs.server_cert, certs.server_key
    );
    let path = dir.join("npiped.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running npiped process; killed and reaped on drop.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts the binary on a free port of `ip`, optionally inside network
    /// namespace `netns`, and waits (bounded) until it accepts.
    pub fn start(
        config: &Path,
        ip: &str,
        dir: &Path,
        extra_args: &[&str],
        netns: Option<&str>,
    ) -> Daemon {
        let port = free_port();
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let log = dir.join(format!("npiped-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let exe = env!("CARGO_BIN_EXE_npiped");
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, exe]);
                c
            }
            None => Command::new(exe),
        };
        cmd.arg("--config")
            .arg(config)
            .args(["--listen", &addr.to_string(), "--log-level", "debug"])
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let child = cmd.spawn().expect("start npiped");
        let mut daemon = Daemon { child, addr, log };
        daemon.wait_listening(netns);
        daemon
    }

    fn wait_listening(&mut self, netns: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("npiped exited with {status}: {}", self.log_text());
            }
            let listening = std::fs::read_to_string(&self.log)
                .map(|l| l.contains("npiped listening"))
                .unwrap_or(false);
            if listening && (netns.is_some() || TcpStream::connect(self.addr).is_ok()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("npiped did not start listening: {}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for it to exit; returns whether it did.
    pub fn terminate(&mut self, within: Duration) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("npiped log:\n{}", self.log_text());
        }
    }
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

/// A helper process: this test binary again, running `child::entry` with
/// `role`; killed and reaped on drop.
pub struct ChildProc {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ChildProc {
    pub fn spawn(
        role: &str,
        env: &[(&str, String)],
        prefix: &[&str],
        uid: Option<u32>,
    ) -> ChildProc {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = if prefix.is_empty() {
            Command::new(&exe)
        } else {
            let mut c = Command::new(prefix[0]);
            c.args(&prefix[1..]).arg(&exe);
            c
        };
        cmd.args(["child::entry", "--exact", "--nocapture", "--test-threads=1"])
            .env("NPIPED_TEST_CHILD", role)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let mut child = cmd.spawn().expect("spawn child");
        let (tx, lines) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest may print "test child::entry ... " first.
                if let Some(at) = line.find("CHILD: ") {
                    let _ = tx2.send(line[at + 7..].to_owned());
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            if !text.trim().is_empty() {
                let _ = tx.send(format!("STDERR {text}"));
            }
        });
        ChildProc { child, lines }
    }

    /// The child's next report, waiting at most `limit`.
    pub fn expect(&self, limit: Duration) -> String {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("the child said nothing within {limit:?}"))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A simple checksum: FNV-1a 64 over the bytes.
pub fn fnv(hash: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Serves `calls` clients of a message pipe in turn: each request comes
/// back reversed, flushed (the client reads it, and may close at once),
/// then the client is disconnected.
pub fn reversing_echo(server: npipe::NamedPipeServer, calls: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..calls {
            server.connect().unwrap();
            let mut req = Vec::new();
            server.read_message_to_end(&mut req).unwrap();
            req.reverse();
            server.write_message(&req).unwrap();
            server.flush_buffers().unwrap();
            server.disconnect().unwrap();
        }
    })
}

/// A two-worker runtime for the async tests.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}
