//! Side-by-side benchmarks of npipe against the kernel and peer crates.
//!
//! Every case runs two real processes — the driver (this process, the
//! client side, which measures) and a peer (this binary again, started with
//! a hidden subcommand, the server side) — pinned to one core or to two, and
//! every npipe figure is reported as a ratio to baselines measured in the
//! same run: raw pipes, Unix stream and seqpacket sockets, length-prefixed
//! frames, and the `interprocess` and `ipc-channel` crates.
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     // First thing: this binary may have been started as a peer.
//!     if let Some(code) = npipe_bench::run_peer_if_requested() {
//!         return code;
//!     }
//!     let report = npipe_bench::run(&npipe_bench::BenchConfig::quick());
//!     print!("{}", report.table());
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! A host binary other than `npipe-bench` (say the `npipe` CLI, for
//! `npipe bench`) does the same: call [`run_peer_if_requested`] before
//! parsing its arguments, and [`run`] with a [`BenchConfig`].
//!
//! `docs/BENCHMARKS.md` in the repository has the figures of a full run and
//! what they mean.

mod async_server;
mod cases;
mod channel;
mod clients;
mod driver;
mod json;
mod peer;
mod plot;
mod report;
mod server;
mod setup;
mod sys;

use std::process::ExitCode;
use std::time::{Duration, Instant};

pub use cases::{all_cases, Case, Group, Impl, Pinning, Workload};
pub use clients::{CLIENTS, SESSION_ROUND_TRIPS};
pub use peer::{peer_main, PeerCommand, PEER_SUBCOMMAND};
pub use report::{Comparison, Machine, Metrics, Outcome, Report, Row};

/// What to run and how long.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Reported as the mode (`quick` or `full`); the durations below are
    /// what make it quick.
    pub quick: bool,
    /// How long each case runs, per repetition.
    pub duration: Duration,
    /// How many times each case runs; figures are the medians. The
    /// repetitions are interleaved (every case once, then again), so a
    /// burst of load on a shared machine hits one repetition of many cases
    /// rather than every repetition of one.
    pub repetitions: u32,
    /// Run only the cases whose id (`workload/size/pinning/impl`, e.g.
    /// `rt/64/cross/npipe-msg`) contains one of these; all when empty.
    pub filters: Vec<String>,
    /// How to start the peer process; `None`: this executable.
    pub peer_command: Option<PeerCommand>,
    /// Print each case's result to standard error as it comes.
    pub progress: bool,
}

impl BenchConfig {
    /// The full run behind `docs/BENCHMARKS.md`: 0.5 s per case, three
    /// times (about five and a half minutes on two cores).
    pub fn full() -> BenchConfig {
        BenchConfig {
            quick: false,
            duration: Duration::from_millis(500),
            repetitions: 3,
            filters: Vec::new(),
            peer_command: None,
            progress: true,
        }
    }

    /// The CI run: every case once for 20 ms (well under a minute). It
    /// proves every case still works; its figures are rough.
    pub fn quick() -> BenchConfig {
        BenchConfig {
            quick: true,
            duration: Duration::from_millis(20),
            repetitions: 1,
            ..BenchConfig::full()
        }
    }

    /// The cases this configuration runs, in table order.
    pub fn cases(&self) -> Vec<Case> {
        all_cases()
            .into_iter()
            .filter(|c| {
                let id = c.id();
                self.filters.is_empty() || self.filters.iter().any(|f| id.contains(f.as_str()))
            })
            .collect()
    }
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig::full()
    }
}

/// Runs the cases `config` selects and reports every figure.
///
/// Cases that fail are reported as failed (with the error) rather than
/// stopping the run; cases that wait on parts of npipe not written yet are
/// reported as pending. The calling thread is pinned to one CPU while a
/// case runs and let go afterwards.
pub fn run(config: &BenchConfig) -> Report {
    let started = Instant::now();
    sys::raise_fd_limit();
    let allowed = sys::allowed_cpus();
    let driver_cpu = allowed.first().copied().unwrap_or(0);
    let other_cpu = allowed.get(1).copied();
    let mut report = Report {
        mode: if config.quick { "quick" } else { "full" },
        duration_s: config.duration.as_secs_f64(),
        repetitions: config.repetitions.max(1),
        machine: Machine::probe((driver_cpu, other_cpu.unwrap_or(driver_cpu))),
        elapsed_s: 0.0,
        rows: Vec::new(),
    };
    let cases = config.cases();
    let mut context = match context(config) {
        Ok(context) => context,
        Err(e) => {
            report.rows = cases
                .iter()
                .map(|&case| Row {
                    case,
                    outcome: Outcome::Failed(format!("cannot set up the run: {e}")),
                })
                .collect();
            return report;
        }
    };
    let mut runs: Vec<Vec<Metrics>> = vec![Vec::new(); cases.len()];
    let mut errors: Vec<Option<String>> = vec![None; cases.len()];
    let total = cases.len() * report.repetitions as usize;
    let mut done = 0;
    for _ in 0..report.repetitions {
        for (i, case) in cases.iter().enumerate() {
            done += 1;
            if case.pending_reason().is_some() {
                continue;
            }
            let cpus = match (case.pinning, other_cpu) {
                (Pinning::SameCore, _) => (driver_cpu, driver_cpu),
                (Pinning::CrossCore, Some(other)) => (driver_cpu, other),
                (Pinning::CrossCore, None) => {
                    errors[i] = Some("only one CPU is available".into());
                    continue;
                }
            };
            let result = driver::measure(&mut context, case, cpus, config.duration);
            sys::unpin(&allowed);
            if config.progress {
                match &result {
                    Ok(m) => eprintln!("[{done}/{total}] {}: {}", case.id(), brief(case, m)),
                    Err(e) => eprintln!("[{done}/{total}] {}: FAILED: {e}", case.id()),
                }
            }
            match result {
                Ok(metrics) => runs[i].push(metrics),
                Err(e) => errors[i] = Some(e.to_string()),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&context.dir);
    report.rows = cases
        .iter()
        .zip(runs.iter().zip(errors))
        .map(|(&case, (runs, error))| {
            let outcome = if let Some(reason) = case.pending_reason() {
                Outcome::Pending(reason.into())
            } else if !runs.is_empty() {
                Outcome::Measured(Metrics::median(runs))
            } else {
                Outcome::Failed(error.unwrap_or_else(|| "not run".into()))
            };
            Row { case, outcome }
        })
        .collect();
    report.machine.load_end = report::load();
    report.elapsed_s = started.elapsed().as_secs_f64();
    report
}

/// If this process was started as a benchmark peer (its first argument is
/// [`PEER_SUBCOMMAND`]), runs the peer and returns its exit code; `None`
/// otherwise. Call it first thing in `main` of any binary that runs
/// [`run`] with the default peer command.
pub fn run_peer_if_requested() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (first, rest) = args.split_first()?;
    (first == PEER_SUBCOMMAND).then(|| peer_main(rest))
}

fn context(config: &BenchConfig) -> std::io::Result<setup::Context> {
    let command = match &config.peer_command {
        Some(command) => command.clone(),
        None => PeerCommand::current_exe()?,
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // $TMPDIR, else /tmp: the namespace root of the run, and its sockets.
    let dir = std::env::temp_dir().join(format!("npipe-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(dir.join("root"))?;
    Ok(setup::Context {
        command,
        dir,
        serial: 0,
    })
}

/// One case's figures in a few words, for progress lines.
fn brief(case: &Case, m: &Metrics) -> String {
    let g = |k| m.get(k).unwrap_or(f64::NAN);
    match case.workload {
        Workload::Bulk => format!("{:.2} GiB/s", g("gib_per_s")),
        Workload::RoundTrip => format!(
            "p50 {:.1} us, p99 {:.1} us, p99.9 {:.1} us",
            g("p50_us"),
            g("p99_us"),
            g("p999_us")
        ),
        Workload::Connect => format!("{:.0} ops/s", g("ops_per_s")),
        Workload::Clients1000 => format!(
            "{} round trips/s, p50 {:.1} us, p99 {:.1} us, {} sessions, server threads {}",
            report::rate(g("msgs_per_s")),
            g("p50_us"),
            g("p99_us"),
            g("sessions"),
            g("server_threads")
        ),
        _ => format!(
            "{} msgs/s, {:.3} GiB/s",
            report::rate(g("msgs_per_s")),
            g("gib_per_s")
        ),
    }
}
