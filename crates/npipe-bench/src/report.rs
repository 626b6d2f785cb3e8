//! What a run found: one row per case, the ratios of npipe to its
//! baselines and peers, and the table printed at the end.

use std::fmt::Write as _;

use crate::cases::{Case, Group, Impl, Pinning, Workload};

/// Named figures of one case, e.g. `("p50_us", 41.2)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics(pub Vec<(&'static str, f64)>);

impl Metrics {
    /// No figures yet.
    pub fn new() -> Metrics {
        Metrics(Vec::new())
    }

    /// Adds a figure.
    pub fn with(mut self, name: &'static str, value: f64) -> Metrics {
        self.0.push((name, value));
        self
    }

    /// The figure called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
    }

    /// The median of each figure over several repetitions (figures missing
    /// from some are taken over the others).
    pub fn median(runs: &[Metrics]) -> Metrics {
        let mut out = Metrics::new();
        let Some(first) = runs.first() else {
            return out;
        };
        for &(name, _) in &first.0 {
            let mut values: Vec<f64> = runs.iter().filter_map(|m| m.get(name)).collect();
            values.sort_by(f64::total_cmp);
            let mid = values.len() / 2;
            let median = if values.len() % 2 == 1 {
                values[mid]
            } else {
                (values[mid - 1] + values[mid]) / 2.0
            };
            out.0.push((name, median));
        }
        out
    }
}

/// How a case went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Measured: the median figures of the repetitions.
    Measured(Metrics),
    /// Not measurable yet, and why.
    Pending(String),
    /// Tried and failed, with the error.
    Failed(String),
}

/// One case and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// Its figures, or why there are none.
    pub outcome: Outcome,
}

impl Row {
    /// The figures, if measured.
    pub fn metrics(&self) -> Option<&Metrics> {
        match &self.outcome {
            Outcome::Measured(m) => Some(m),
            _ => None,
        }
    }
}

/// An npipe figure next to the same figure of a baseline or peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The npipe case.
    pub case: Case,
    /// What it is compared with (same workload, size and pinning).
    pub against: Impl,
    /// The workload's primary figure.
    pub metric: &'static str,
    /// npipe's value.
    pub npipe: f64,
    /// The other's value.
    pub other: f64,
    /// Whether a bigger figure is better (throughput) or not (latency).
    pub higher_is_better: bool,
}

impl Comparison {
    /// npipe's figure divided by the other's.
    pub fn ratio(&self) -> f64 {
        self.npipe / self.other
    }

    /// Whether npipe does at least as well.
    pub fn npipe_ahead(&self) -> bool {
        if self.higher_is_better {
            self.npipe >= self.other
        } else {
            self.npipe <= self.other
        }
    }
}

/// The machine a run happened on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: usize,
    /// The CPUs the run used: the driver's, and the peer's when cross-core.
    pub cpus: (usize, usize),
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release.
    pub kernel: String,
    /// `/proc/loadavg` at the start and the end of the run.
    pub load_start: String,
    /// See `load_start`.
    pub load_end: String,
}

impl Machine {
    pub(crate) fn probe(cpus: (usize, usize)) -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu_model = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpus,
            cpu_model,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load_start: load(),
            load_end: String::new(),
        }
    }
}

/// The first three fields of `/proc/loadavg`.
pub(crate) fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything a run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// Seconds each case ran, per repetition.
    pub duration_s: f64,
    /// Repetitions of each case (the figures are their medians).
    pub repetitions: u32,
    /// Where it ran.
    pub machine: Machine,
    /// Wall-clock seconds of the whole run.
    pub elapsed_s: f64,
    /// One row per case that matched the filter, in table order.
    pub rows: Vec<Row>,
}

impl Report {
    /// The row of `case`.
    pub fn row(&self, case: &Case) -> Option<&Row> {
        self.rows.iter().find(|r| r.case == *case)
    }

    /// Each measured npipe figure against each of its measured references
    /// (see [`Workload::references`]).
    pub fn comparisons(&self) -> Vec<Comparison> {
        let mut out = Vec::new();
        for row in &self.rows {
            let case = row.case;
            if case.implementation.group() != Group::Npipe {
                continue;
            }
            let Some(mine) = row.metrics() else { continue };
            let (metric, higher_is_better) = case.workload.primary_metric();
            for &against in case.workload.references(case.implementation) {
                let other_case = Case {
                    implementation: against,
                    ..case
                };
                let Some(theirs) = self.row(&other_case).and_then(Row::metrics) else {
                    continue;
                };
                if let (Some(npipe), Some(other)) = (mine.get(metric), theirs.get(metric)) {
                    out.push(Comparison {
                        case,
                        against,
                        metric,
                        npipe,
                        other,
                        higher_is_better,
                    });
                }
            }
        }
        out
    }

    /// The human-readable table: every figure, and under each npipe row
    /// its ratio to each reference.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "npipe-bench ({} mode, {:.2} s x {} per case): {} CPUs ({}), kernel {}, load {} -> {}; driver on CPU {}, peer on CPU {} (same-core) or {} (cross-core)",
            self.mode, self.duration_s, self.repetitions, m.nproc, m.cpu_model, m.kernel,
            m.load_start, m.load_end, m.cpus.0, m.cpus.0, m.cpus.1
        );
        let comparisons = self.comparisons();
        for workload in Workload::ALL {
            for &size in workload.sizes() {
                let rows: Vec<&Row> = self
                    .rows
                    .iter()
                    .filter(|r| r.case.workload == workload && r.case.size == size)
                    .collect();
                if rows.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "\n## {}{}: {}",
                    workload.title(),
                    size_suffix(workload, size),
                    legend(workload)
                );
                let _ = writeln!(
                    out,
                    "  {:<22} {:<30} {:<30}",
                    "implementation", "same-core", "cross-core"
                );
                for &implementation in workload.impls() {
                    let cell = |pinning| {
                        let case = Case {
                            workload,
                            size,
                            pinning,
                            implementation,
                        };
                        rows.iter().find(|r| r.case == case).map(|r| cell(r))
                    };
                    let (same, cross) = (cell(Pinning::SameCore), cell(Pinning::CrossCore));
                    if same.is_none() && cross.is_none() {
                        continue;
                    }
                    let label = match implementation.group() {
                        Group::Baseline => format!("{implementation} (base)"),
                        Group::Peer => format!("{implementation} (peer)"),
                        Group::Npipe => implementation.to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "  {:<22} {:<30} {:<30}",
                        label,
                        same.unwrap_or_default(),
                        cross.unwrap_or_default()
                    );
                    for &against in workload.references(implementation) {
                        let ratio = |pinning| {
                            comparisons
                                .iter()
                                .find(|c| {
                                    c.case.workload == workload
                                        && c.case.size == size
                                        && c.case.pinning == pinning
                                        && c.case.implementation == implementation
                                        && c.against == against
                                })
                                .map(|c| format!("{:.2}x", c.ratio()))
                                .unwrap_or_else(|| "-".into())
                        };
                        let _ = writeln!(
                            out,
                            "  {:<22} {:<30} {:<30}",
                            format!("  / {against}"),
                            ratio(Pinning::SameCore),
                            ratio(Pinning::CrossCore)
                        );
                    }
                    if workload == Workload::Instances255 {
                        for (pinning, r) in rows.iter().filter_map(|r| {
                            (r.case.implementation == implementation).then_some((r.case.pinning, r))
                        }) {
                            if let (Some(m), Pinning::CrossCore) = (r.metrics(), pinning) {
                                let _ = writeln!(
                                    out,
                                    "  {:<22} listening: {:.1} fds, {:.1} KiB RSS per instance; connected: {:.1} fds, {:.1} KiB RSS; server threads: {}",
                                    "",
                                    m.get("idle_fds_per_instance").unwrap_or(f64::NAN),
                                    m.get("idle_rss_kib_per_instance").unwrap_or(f64::NAN),
                                    m.get("connected_fds_per_instance").unwrap_or(f64::NAN),
                                    m.get("connected_rss_kib_per_instance").unwrap_or(f64::NAN),
                                    m.get("server_threads").unwrap_or(f64::NAN),
                                );
                            }
                        }
                    }
                    if workload == Workload::Clients1000 {
                        for r in rows
                            .iter()
                            .filter(|r| r.case.implementation == implementation)
                        {
                            if let Some(m) = r.metrics() {
                                let g = |k| m.get(k).unwrap_or(f64::NAN);
                                let _ = writeln!(
                                    out,
                                    "  {:<22} {}: {} sessions, connect wait p50 {:.0} us p99 {:.0} us; server: {} connections open at most, {:.1} fds and {:.1} KiB RSS each, {} thread(s); clients: {} threads",
                                    "",
                                    r.case.pinning.name(),
                                    g("sessions"),
                                    g("connect_wait_p50_us"),
                                    g("connect_wait_p99_us"),
                                    g("peak_connections"),
                                    g("fds_per_connection"),
                                    g("rss_kib_per_connection"),
                                    g("server_threads"),
                                    g("driver_threads"),
                                );
                            }
                        }
                    }
                }
            }
        }
        let pending: Vec<String> = self
            .rows
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Pending(_)))
            .map(|r| r.case.id())
            .collect();
        if !pending.is_empty() {
            let _ = writeln!(out, "\npending: {}", pending.join(", "));
        }
        out.push_str(
            "\nratios are npipe / reference in the same run: above 1 is better for throughput, below 1 for latency\n",
        );
        out
    }
}

fn size_suffix(workload: Workload, size: usize) -> String {
    match workload {
        Workload::Bulk | Workload::Instances255 | Workload::Clients1000 => String::new(),
        _ => format!(", {}", human_size(size)),
    }
}

/// `64 B`, `4 KiB`, `64 KiB`.
pub fn human_size(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn legend(workload: Workload) -> &'static str {
    match workload {
        Workload::Bulk => "GiB/s (higher is better)",
        Workload::Messages | Workload::Instances255 => "messages/s (GiB/s); higher is better",
        Workload::Clients1000 => "round trips/s (p50 us, p99 us; server threads); higher is better",
        Workload::RoundTrip => "p50 us (p99, p99.9); lower is better",
        Workload::Connect => "operations/s (p50 us); higher is better",
    }
}

fn cell(row: &Row) -> String {
    let m = match &row.outcome {
        Outcome::Measured(m) => m,
        Outcome::Pending(_) => return "pending".into(),
        Outcome::Failed(_) => return "FAILED".into(),
    };
    let g = |k| m.get(k).unwrap_or(f64::NAN);
    match row.case.workload {
        Workload::Bulk => format!("{:.2}", g("gib_per_s")),
        Workload::Messages | Workload::Instances255 => {
            format!("{} ({:.3})", rate(g("msgs_per_s")), g("gib_per_s"))
        }
        Workload::Clients1000 => format!(
            "{} ({:.0}, {:.0}; {} thr)",
            rate(g("msgs_per_s")),
            g("p50_us"),
            g("p99_us"),
            g("server_threads")
        ),
        Workload::RoundTrip => format!(
            "{:.1} ({:.1}, {:.1})",
            g("p50_us"),
            g("p99_us"),
            g("p999_us")
        ),
        Workload::Connect => format!("{} ({:.1})", rate(g("ops_per_s")), g("p50_us")),
    }
}

/// `1.23 M`, `456 k`, `789`.
pub fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k", per_s / 1e3)
    } else {
        format!("{per_s:.0}")
    }
}
