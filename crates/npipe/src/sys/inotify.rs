//! Directory watches: how WaitNamedPipe sleeps until an instance frees up,
//! with no polling loop.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::fs::inotify::{self, CreateFlags, WatchFlags};

/// An inotify watch on one directory, reporting any change of its entries:
/// files created, renamed in or out, removed, or closed after writing (a
/// client that dies mid-claim closes its claim file).
///
/// Closing an inotify descriptor is slow (the kernel waits for a grace
/// period: about 14 ms measured here), so a dropped watch removes its watch
/// and goes back to a small process-wide pool instead, for the next
/// `WaitNamedPipe` to reuse.
#[derive(Debug)]
pub(crate) struct DirWatch {
    fd: Option<OwnedFd>,
    wd: i32,
}

/// Idle inotify descriptors, each with no watch left on it.
static POOL: std::sync::Mutex<Vec<OwnedFd>> = std::sync::Mutex::new(Vec::new());

/// How many idle descriptors the pool keeps (each counts against the
/// per-user limit of inotify instances, 128 by default).
const POOL_SIZE: usize = 4;

impl DirWatch {
    /// `inotify_init1(IN_CLOEXEC | IN_NONBLOCK)` and `inotify_add_watch` on
    /// the directory open as `dir`.
    ///
    /// # References
    /// - [inotify(7)](https://man7.org/linux/man-pages/man7/inotify.7.html)
    pub(crate) fn new(dir: BorrowedFd<'_>) -> io::Result<DirWatch> {
        use std::os::fd::AsRawFd;
        let pooled = POOL.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let fd = match pooled {
            Some(fd) => fd,
            None => inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?,
        };
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let wd = inotify::add_watch(
            &fd,
            path.as_str(),
            WatchFlags::CREATE
                | WatchFlags::MOVED_TO
                | WatchFlags::MOVED_FROM
                | WatchFlags::DELETE
                | WatchFlags::CLOSE_WRITE
                | WatchFlags::DELETE_SELF,
        )?;
        Ok(DirWatch { fd: Some(fd), wd })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("present until drop").as_fd()
    }

    /// Waits until something changed in the directory or `timeout` passed
    /// (`None`: no limit), then drains the queued events. Returns false on
    /// timeout.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if !super::socket::wait_readable(self.fd(), timeout)? {
            return Ok(false);
        }
        self.drain()?;
        Ok(true)
    }

    /// `read(2)` of the queued events until `EAGAIN`, without blocking.
    /// Returns whether any of them can change what a waiting client or
    /// server sees: an instance's `.alive`, `.sock` or `.claim` file (or a
    /// client's claim in the making, `claim.*`), the directory itself, or a
    /// queue overflow. Events about `lock`, `meta` and the temporary files
    /// of a server are left out: every directory lock rewrites `lock`, and
    /// waking on those would only make waiters look again for nothing.
    pub(crate) fn drain(&self) -> io::Result<bool> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(self.fd(), &mut buf);
        let mut relevant = false;
        loop {
            match reader.next() {
                Ok(event) => relevant |= concerns_instances(event.file_name()),
                Err(rustix::io::Errno::AGAIN) => return Ok(relevant),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for DirWatch {
    /// `inotify_rm_watch`, drain what was queued, and keep the descriptor
    /// for reuse (or close it when the pool is full or anything failed).
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else { return };
        // The directory may be gone, which removed the watch already.
        let _ = inotify::remove_watch(&fd, self.wd);
        let reusable = DirWatch {
            fd: Some(fd),
            wd: -1,
        }
        .drain_into_pool();
        drop(reusable);
    }
}

impl DirWatch {
    /// Drains the queue, then hands the descriptor to the pool if there is
    /// room; returns it otherwise (to be closed).
    fn drain_into_pool(mut self) -> Option<OwnedFd> {
        let ok = self.drain().is_ok();
        let fd = self.fd.take()?;
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        if ok && pool.len() < POOL_SIZE {
            pool.push(fd);
            None
        } else {
            Some(fd)
        }
    }
}

impl std::os::fd::AsRawFd for DirWatch {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.fd())
    }
}

/// Whether an event about `name` (none: the directory itself, or an
/// overflow) can change an instance's state.
fn concerns_instances(name: Option<&std::ffi::CStr>) -> bool {
    let Some(name) = name.map(|n| n.to_bytes()).filter(|n| !n.is_empty()) else {
        return true;
    };
    [&b".alive"[..], b".sock", b".claim"]
        .iter()
        .any(|suffix| name.ends_with(suffix))
        || name.starts_with(b"claim.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_files_matter_and_locks_do_not() {
        let relevant = |n: &str| concerns_instances(Some(&std::ffi::CString::new(n).unwrap()));
        for name in ["003.alive", "003.sock", "003.claim", "claim.12.ab.tmp"] {
            assert!(relevant(name), "{name}");
        }
        for name in ["lock", "meta", "meta.tmp", "003.sock.tmp", "003.alive.tmp"] {
            assert!(!relevant(name), "{name}");
        }
        assert!(concerns_instances(None));
    }

    #[test]
    fn a_reused_descriptor_reports_only_its_new_directory() {
        let base = std::env::temp_dir().join(format!("npipe-inotify-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let dir_a = super::super::fs::open_dir(&a).unwrap();
        let dir_b = super::super::fs::open_dir(&b).unwrap();
        drop(DirWatch::new(dir_a.as_fd()).unwrap()); // back to the pool
        let watch = DirWatch::new(dir_b.as_fd()).unwrap();
        std::fs::write(a.join("001.sock"), b"").unwrap();
        assert!(
            !watch.wait(Some(Duration::from_millis(50))).unwrap(),
            "an event of a"
        );
        std::fs::write(b.join("001.sock"), b"").unwrap();
        assert!(
            watch.wait(Some(Duration::from_secs(5))).unwrap(),
            "no event of b"
        );
        std::fs::remove_dir_all(&base).unwrap();
    }
}
