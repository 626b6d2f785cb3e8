//! A progress line on stderr for transfers that take more than a second,
//! shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a transfer runs before its progress shows.
const SHOW_AFTER: Duration = Duration::from_secs(1);
/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Counts the bytes of one transfer and, on a terminal, shows them.
///
/// Cheap when hidden: two atomic counters and no thread.
#[derive(Debug)]
pub struct Progress {
    shared: Arc<Shared>,
    monitor: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    sent: AtomicU64,
    received: AtomicU64,
    done: AtomicBool,
}

impl Progress {
    /// Starts counting. `label` names the transfer; `total` is the bytes to
    /// send when known (stdin is a regular file).
    pub fn start(label: String, total: Option<u64>) -> Progress {
        let shared = Arc::new(Shared {
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            done: AtomicBool::new(false),
        });
        let monitor = std::io::stderr().is_terminal().then(|| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || monitor(&shared, label, total))
        });
        Progress {
            shared,
            monitor: Mutex::new(monitor),
        }
    }

    /// Counts bytes written to the pipe.
    pub fn sent(&self, bytes: u64) {
        self.shared.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts bytes read from the pipe.
    pub fn received(&self, bytes: u64) {
        self.shared.received.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes written and read so far.
    pub fn totals(&self) -> (u64, u64) {
        (
            self.shared.sent.load(Ordering::Relaxed),
            self.shared.received.load(Ordering::Relaxed),
        )
    }

    /// Stops and erases the line. Later counts are kept but not shown.
    pub fn finish(&self) {
        self.shared.done.store(true, Ordering::Relaxed);
        let monitor = match self.monitor.lock() {
            Ok(mut monitor) => monitor.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(monitor) = monitor {
            let _ = monitor.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Every bar shares one terminal area, so concurrent transfers (instances
/// of `serve`) do not draw over each other.
pub fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

fn monitor(shared: &Shared, label: String, total: Option<u64>) {
    let start = Instant::now();
    while start.elapsed() < SHOW_AFTER {
        if shared.done.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(TICK.min(SHOW_AFTER.saturating_sub(start.elapsed())));
    }
    let (bar, template) = match total {
        Some(total) => (
            ProgressBar::new(total),
            "{spinner} {prefix} [{bar:24}] {bytes}/{total_bytes} sent, {msg} \
             ({binary_bytes_per_sec}, {eta} left)",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {prefix}: {msg} ({binary_bytes_per_sec})",
        ),
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ");
    let bar = bar.with_style(style).with_prefix(label);
    let mut added = false;
    loop {
        let sent = shared.sent.load(Ordering::Relaxed);
        let received = shared.received.load(Ordering::Relaxed);
        match total {
            Some(_) => {
                bar.set_position(sent);
                bar.set_message(format!("{} received", HumanBytes(received)));
            }
            None => {
                bar.set_position(sent + received);
                bar.set_message(format!(
                    "{} sent, {} received",
                    HumanBytes(sent),
                    HumanBytes(received)
                ));
            }
        }
        if !added {
            multi().add(bar.clone());
            added = true;
        }
        bar.tick();
        if shared.done.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(TICK);
    }
    bar.finish_and_clear();
    multi().remove(&bar);
}
