//! The second process of every case: how the driver starts it, talks to it
//! and ends it, and what it runs.
//!
//! The driver re-executes a binary that knows the hidden subcommand
//! [`PEER_SUBCOMMAND`] (the bench binary itself, found with
//! `std::env::current_exe`), with the case and the address to meet at:
//!
//! ```text
//! <exe> __npipe-bench-peer <workload> <size> <impl> <cpu> <address>
//! ```
//!
//! The peer pins itself to `<cpu>`, plays the server side (sink, echo,
//! accept loop, or 255 instances), and reports on its standard output, one
//! line each: `ready` once the driver may connect, `done bytes=N msgs=N`
//! after a one-way transfer. Anonymous pipes use the peer's standard input
//! (and, for round trips, standard output) as the data pipes.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::cases::{Case, Impl, Workload};
use crate::{server, sys};

/// The hidden first argument that turns a binary into a benchmark peer.
pub const PEER_SUBCOMMAND: &str = "__npipe-bench-peer";

/// How to start a peer: a program and the arguments that go before
/// [`PEER_SUBCOMMAND`] (usually none).
#[derive(Debug, Clone)]
pub struct PeerCommand {
    /// The program; by default this process's own executable.
    pub program: PathBuf,
    /// Arguments placed before the peer subcommand.
    pub args: Vec<OsString>,
}

impl PeerCommand {
    /// This process's own executable, which must call
    /// [`crate::run_peer_if_requested`] first thing in `main`.
    pub fn current_exe() -> io::Result<PeerCommand> {
        Ok(PeerCommand {
            program: std::env::current_exe()?,
            args: Vec::new(),
        })
    }
}

/// A running peer process, killed and reaped on drop.
///
/// A watchdog kills it if it is still there [`WATCHDOG`] after it started,
/// so a case that hangs (in the peer, or in the driver blocked on the
/// peer) fails instead of stalling the run: the driver's blocked call sees
/// the connection end.
#[derive(Debug)]
pub(crate) struct Peer {
    child: Child,
    control: Option<BufReader<ChildStdout>>,
    case: String,
    watchdog: Option<mpsc::Sender<()>>,
}

/// How long a peer may live.
const WATCHDOG: Duration = Duration::from_secs(60);

/// What the peer's standard streams are.
pub(crate) struct PeerStdio {
    pub stdin: Stdio,
    /// `None`: piped, for control lines.
    pub stdout: Option<Stdio>,
}

impl PeerStdio {
    pub fn control() -> PeerStdio {
        PeerStdio {
            stdin: Stdio::null(),
            stdout: None,
        }
    }
}

impl Peer {
    pub fn spawn(
        command: &PeerCommand,
        case: &Case,
        cpu: usize,
        address: &str,
        stdio: PeerStdio,
    ) -> io::Result<Peer> {
        let mut cmd = Command::new(&command.program);
        cmd.args(&command.args)
            .arg(PEER_SUBCOMMAND)
            .arg(case.workload.name())
            .arg(case.size.to_string())
            .arg(case.implementation.name())
            .arg(cpu.to_string())
            .arg(address)
            .stdin(stdio.stdin)
            .stderr(Stdio::inherit());
        let piped = stdio.stdout.is_none();
        cmd.stdout(stdio.stdout.unwrap_or_else(Stdio::piped));
        let mut child = cmd.spawn()?;
        let control = if piped {
            child.stdout.take().map(BufReader::new)
        } else {
            None
        };
        let (cancel, cancelled) = mpsc::channel::<()>();
        let pid = rustix::process::Pid::from_child(&child);
        std::thread::spawn(move || {
            // Nothing sent and the sender still alive: time is up. The
            // child has not been reaped (Drop cancels first), so the pid
            // is still its own.
            if let Err(mpsc::RecvTimeoutError::Timeout) = cancelled.recv_timeout(WATCHDOG) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        });
        Ok(Peer {
            child,
            control,
            case: case.id(),
            watchdog: Some(cancel),
        })
    }

    /// Reads control lines until one starts with `word`; returns the rest.
    pub fn expect(&mut self, word: &str) -> io::Result<String> {
        let control = self
            .control
            .as_mut()
            .ok_or_else(|| io::Error::other("this peer has no control channel"))?;
        let mut line = String::new();
        loop {
            line.clear();
            if control.read_line(&mut line)? == 0 {
                self.disarm();
                let status = self.child.wait()?;
                return Err(io::Error::other(format!(
                    "peer of {} exited ({status}) before saying `{word}`",
                    self.case
                )));
            }
            if let Some(rest) = line.trim_end().strip_prefix(word) {
                return Ok(rest.trim().to_string());
            }
        }
    }

    /// Waits (up to 20 s) for the peer to exit, and checks it succeeded.
    pub fn finish(mut self) -> io::Result<()> {
        self.disarm();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if status.success() {
                    return Ok(());
                }
                return Err(io::Error::other(format!(
                    "peer of {} failed: {status}",
                    self.case
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "peer of {} did not exit",
                    self.case
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Peer {
    /// Stops the watchdog; called before anything that may reap the child,
    /// so the watchdog never signals a reused pid.
    fn disarm(&mut self) {
        if let Some(cancel) = self.watchdog.take() {
            let _ = cancel.send(());
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.disarm();
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Parses `key=value` words of a control line.
pub(crate) fn field(line: &str, key: &str) -> io::Result<u64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no {key}= in `{line}`")))
}

/// Says one control line to the driver.
pub(crate) fn say(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// The peer's `main`: `args` are the arguments after [`PEER_SUBCOMMAND`].
pub fn peer_main(args: &[String]) -> ExitCode {
    match peer(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("npipe-bench peer {}: {e}", args.join(" "));
            ExitCode::from(2)
        }
    }
}

fn peer(args: &[String]) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidInput, "bad peer arguments");
    let [workload, size, implementation, cpu, address] = args else {
        return Err(bad());
    };
    let workload = Workload::from_name(workload).ok_or_else(bad)?;
    let size: usize = size.parse().map_err(|_| bad())?;
    let implementation = Impl::from_name(implementation).ok_or_else(bad)?;
    let cpu: usize = cpu.parse().map_err(|_| bad())?;
    sys::raise_fd_limit();
    sys::pin_to(cpu)?;
    server::serve(workload, size, implementation, address)
}
