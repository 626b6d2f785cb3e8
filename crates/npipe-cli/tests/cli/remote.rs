//! A pipe on "another computer": `npipe cert` makes the certificates, the
//! real `npiped` serves them on a free loopback port, `npipe serve
//! --accept-remote` serves a pipe in npiped's namespace, and `npipe
//! connect '\\localhost\pipe\NAME'` reaches it through npiped.
//!
//! `npiped` is another package's binary: it is looked for next to `npipe`
//! in the same target directory (`cargo test --workspace` and `cargo build
//! --workspace` put it there). When it is missing the test fails under CI
//! and is skipped, loudly, elsewhere.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::TestRoot;

/// `npiped` next to `npipe`, if built.
fn npiped_exe() -> Option<PathBuf> {
    let exe = Path::new(env!("CARGO_BIN_EXE_npipe")).with_file_name("npiped");
    exe.is_file().then_some(exe)
}

/// A running npiped, killed and reaped on drop (its log printed if the
/// test failed).
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(exe: &Path, root: &Path, certs: &Path, port: u16, log: PathBuf) -> Daemon {
        let pem = |f: &str| certs.join(f);
        let child = Command::new(exe)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--root")
            .arg(root)
            .arg("--cert")
            .arg(pem("server.pem"))
            .arg("--key")
            .arg(pem("server.key"))
            .arg("--client-ca")
            .arg(pem("ca.pem"))
            .args(["--log-level", "debug"])
            .env_remove("NPIPE_ROOT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create npiped log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let mut daemon = Daemon { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("npiped exited with {status}:\n{}", daemon.log_text());
            }
            if daemon.log_text().contains("npiped listening")
                && TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return daemon;
            }
            assert!(
                Instant::now() < deadline,
                "npiped did not start listening:\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("npiped log:\n{}", self.log_text());
        }
    }
}

/// A loopback port nobody listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("local address")
        .port()
}

/// `npipe ARGS` as a remote client: NPIPE_REMOTE_* point at `certs` and
/// `port` on loopback, and nothing else of the environment's remote
/// settings leaks in.
fn remote_client(root: &TestRoot, args: &[&str], certs: &Path, port: u16) -> Command {
    let mut cmd = root.npipe(args);
    for var in [
        "NPIPE_REMOTE_CONFIG",
        "NPIPE_REMOTE_SERVER_NAME",
        "NPIPE_REMOTE_TOKEN",
        "NPIPE_REMOTE_TOKEN_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("XDG_CONFIG_HOME", root.path())
        .env("NPIPE_REMOTE_CA", certs.join("ca.pem"))
        .env("NPIPE_REMOTE_CERT", certs.join("client.pem"))
        .env("NPIPE_REMOTE_KEY", certs.join("client.key"))
        .env("NPIPE_REMOTE_PORT", port.to_string())
        .env("NPIPE_REMOTE_ADDRESS", "127.0.0.1");
    cmd
}

#[test]
fn connect_reaches_a_remote_pipe_through_npiped() {
    let Some(npiped) = npiped_exe() else {
        let msg = format!(
            "npiped is not built next to {}: run `cargo build -p npiped` (or `cargo test \
             --workspace`) to run this test",
            env!("CARGO_BIN_EXE_npipe")
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("\n*** SKIPPED connect_reaches_a_remote_pipe_through_npiped: {msg} ***\n");
        return;
    };
    let root = TestRoot::new("remote");
    let certs = root.path().join("certs");
    let certs_arg = certs.to_str().expect("UTF-8 path");
    let made = root.run(
        &[
            "cert",
            "--out",
            certs_arg,
            "--host",
            "localhost",
            "--host",
            "127.0.0.1",
            "--client",
            "alice",
        ],
        b"",
    );
    made.expect_code(0);
    for needle in [
        "ca.pem",
        "npiped --cert",
        "NPIPE_REMOTE_CA",
        "NPIPE_REMOTE_CERT",
    ] {
        assert!(
            made.stdout().contains(needle),
            "{needle:?} not in:\n{}",
            made.stdout()
        );
    }

    let port = free_port();
    let _daemon = Daemon::start(
        &npiped,
        root.path(),
        &certs,
        port,
        root.path().join("npiped.log"),
    );
    let _server = root.serve(
        "remote-echo",
        &[
            "--accept-remote",
            "--allow-remote-principal",
            "alice",
            "--echo",
        ],
    );

    let out = crate::util::run(
        remote_client(
            &root,
            &["connect", r"\\localhost\pipe\remote-echo"],
            &certs,
            port,
        ),
        b"hi\n",
    );
    out.expect_code(0);
    assert_eq!(out.stdout(), "hi\n");

    // No such pipe on the remote computer: the hint says where to serve it.
    let out = crate::util::run(
        remote_client(&root, &["connect", r"\\localhost\pipe\nope"], &certs, port),
        b"",
    );
    out.expect_code(2);
    assert!(
        out.stderr.contains("ERROR_FILE_NOT_FOUND"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--accept-remote"), "{}", out.stderr);

    // Nobody on the port: the hint names npiped and NPIPE_REMOTE_PORT.
    let out = crate::util::run(
        remote_client(
            &root,
            &["connect", r"\\localhost\pipe\remote-echo"],
            &certs,
            free_port(),
        ),
        b"",
    );
    out.expect_code(2);
    assert!(out.stderr.contains("ERROR_BAD_NETPATH"), "{}", out.stderr);
    assert!(out.stderr.contains("NPIPE_REMOTE_PORT"), "{}", out.stderr);
}
