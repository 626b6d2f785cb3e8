//! The few system facts and knobs the harness needs: CPU pinning, the
//! open-file limit, and a process's fds and resident memory.

use std::io;

use rustix::thread::CpuSet;

/// The CPUs this process may run on, lowest first.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        Err(_) => vec![0],
    }
}

/// Pins the calling thread to `cpu` (`sched_setaffinity(0, {cpu})`).
pub(crate) fn pin_to(cpu: usize) -> io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    Ok(rustix::thread::sched_setaffinity(None, &set)?)
}

/// Lets the calling thread run on `cpus` again.
pub(crate) fn unpin(cpus: &[usize]) {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c);
    }
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// Raises the soft limit of open files to the hard limit: 255 instances
/// and their clients need about 800 fds a side.
pub(crate) fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Open fds, resident bytes and threads of this process, from `/proc/self`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub fds: usize,
    pub rss: usize,
    pub threads: usize,
}

pub(crate) fn usage() -> Usage {
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1)) // the directory's own fd
        .unwrap_or(0);
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .unwrap_or(0);
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    Usage {
        fds,
        rss: pages * rustix::param::page_size(),
        threads,
    }
}

impl Usage {
    /// `fds=N rss=N threads=N`, as peers report it on their control line.
    pub fn encode(&self) -> String {
        self.encode_as("")
    }

    /// The same with `prefix` before each key.
    pub fn encode_as(&self, prefix: &str) -> String {
        format!(
            "{prefix}fds={} {prefix}rss={} {prefix}threads={}",
            self.fds, self.rss, self.threads
        )
    }
}
