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
#[derive(Debug)]
pub(crate) struct DirWatch {
    fd: OwnedFd,
}

impl DirWatch {
    /// `inotify_init1(IN_CLOEXEC | IN_NONBLOCK)` and `inotify_add_watch` on
    /// the directory open as `dir`.
    ///
    /// # References
    /// - [inotify(7)](https://man7.org/linux/man-pages/man7/inotify.7.html)
    pub(crate) fn new(dir: BorrowedFd<'_>) -> io::Result<DirWatch> {
        use std::os::fd::AsRawFd;
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        inotify::add_watch(
            &fd,
            path.as_str(),
            WatchFlags::CREATE
                | WatchFlags::MOVED_TO
                | WatchFlags::MOVED_FROM
                | WatchFlags::DELETE
                | WatchFlags::CLOSE_WRITE
                | WatchFlags::DELETE_SELF,
        )?;
        Ok(DirWatch { fd })
    }

    /// Waits until something changed in the directory or `timeout` passed
    /// (`None`: no limit), then drains the queued events. Returns false on
    /// timeout.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        if !super::socket::wait_readable(self.fd.as_fd(), timeout)? {
            return Ok(false);
        }
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        loop {
            match reader.next() {
                Ok(_) => {}
                Err(rustix::io::Errno::AGAIN) => return Ok(true),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The descriptor, for callers that poll it together with others.
    #[allow(dead_code)]
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
