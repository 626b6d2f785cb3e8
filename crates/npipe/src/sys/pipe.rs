//! Kernel pipes: create them, size them, move bytes through them.
//!
//! Every function here is one system call (or one read of a `/proc` file),
//! named in the first line of its doc. Writes go through
//! [`super::signal::without_sigpipe`], so a write to a pipe with no reader
//! returns `EPIPE` instead of killing the process with `SIGPIPE`.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::FdFlags;
use rustix::pipe::PipeFlags;

use super::signal;

/// `pipe2(O_CLOEXEC)`: creates a pipe; returns its read end and write end.
///
/// Both ends are close-on-exec, so no child process inherits them unless
/// asked to.
///
/// # References
///  - [Linux `pipe2(2)`]
///
/// [Linux `pipe2(2)`]: https://man7.org/linux/man-pages/man2/pipe2.2.html
pub(crate) fn create() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(PipeFlags::CLOEXEC)?)
}

/// `fcntl(fd, F_GETPIPE_SZ)`: the capacity of the pipe's buffer, in bytes.
///
/// # References
///  - [Linux `fcntl(2)`, "Changing the capacity of a pipe"]
///
/// [Linux `fcntl(2)`, "Changing the capacity of a pipe"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
pub(crate) fn size(fd: impl AsFd) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_getpipe_size(fd)?)
}

/// `fcntl(fd, F_SETPIPE_SZ, bytes)`: asks for a buffer of at least `bytes`;
/// returns the capacity the kernel chose (rounded up to a power-of-two
/// number of pages).
///
/// Fails with `EPERM` when an unprivileged caller asks for more than
/// `/proc/sys/fs/pipe-max-size` or is over its `pipe-user-pages-*` limits
/// (rustix also answers `EPERM` for sizes above `i32::MAX`), `EINVAL` above
/// the kernel's 2 GiB ceiling, `ENOMEM` when the kernel cannot allocate the
/// ring, and `EBUSY` when shrinking below the bytes already queued.
///
/// # References
///  - [Linux `fcntl(2)`, "Changing the capacity of a pipe"]
///  - [Linux `pipe(7)`, "/proc files"]
///
/// [Linux `fcntl(2)`, "Changing the capacity of a pipe"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
/// [Linux `pipe(7)`, "/proc files"]: https://man7.org/linux/man-pages/man7/pipe.7.html
pub(crate) fn set_size(fd: impl AsFd, bytes: usize) -> io::Result<usize> {
    Ok(rustix::pipe::fcntl_setpipe_size(fd, bytes)?)
}

/// Reads `/proc/sys/fs/pipe-max-size`: the largest capacity an unprivileged
/// process may give a pipe with `F_SETPIPE_SZ`.
///
/// # References
///  - [Linux `pipe(7)`, "/proc files"]
///
/// [Linux `pipe(7)`, "/proc files"]: https://man7.org/linux/man-pages/man7/pipe.7.html
pub(crate) fn max_size() -> io::Result<usize> {
    let text = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")?;
    text.trim()
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// `ioctl(fd, FIONREAD)`: the number of bytes queued in the pipe, ready to
/// be read without blocking.
///
/// # References
///  - [Linux `pipe(7)`, "I/O on pipes and FIFOs"]
///  - [Linux `ioctl_tty(2)`]
///
/// [Linux `pipe(7)`, "I/O on pipes and FIFOs"]: https://man7.org/linux/man-pages/man7/pipe.7.html
/// [Linux `ioctl_tty(2)`]: https://man7.org/linux/man-pages/man2/ioctl_tty.2.html
pub(crate) fn bytes_available(fd: impl AsFd) -> io::Result<usize> {
    let n = rustix::io::ioctl_fionread(fd)?;
    // FIONREAD reports an `int`; it always fits.
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// `fcntl(fd, F_SETFD, inheritable ? 0 : FD_CLOEXEC)`: lets child processes
/// inherit the fd across `execve`, or stops them from doing so.
///
/// # References
///  - [Linux `fcntl(2)`, "File descriptor flags"]
///
/// [Linux `fcntl(2)`, "File descriptor flags"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
pub(crate) fn set_inheritable(fd: impl AsFd, inheritable: bool) -> io::Result<()> {
    let fd = fd.as_fd();
    let flags = rustix::io::fcntl_getfd(fd)?;
    let flags = if inheritable {
        flags.difference(FdFlags::CLOEXEC)
    } else {
        flags.union(FdFlags::CLOEXEC)
    };
    Ok(rustix::io::fcntl_setfd(fd, flags)?)
}

/// `fcntl(fd, F_GETFD)`: whether `FD_CLOEXEC` is clear, so that child
/// processes inherit the fd across `execve`.
///
/// # References
///  - [Linux `fcntl(2)`, "File descriptor flags"]
///
/// [Linux `fcntl(2)`, "File descriptor flags"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
pub(crate) fn is_inheritable(fd: impl AsFd) -> io::Result<bool> {
    Ok(!rustix::io::fcntl_getfd(fd)?.contains(FdFlags::CLOEXEC))
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a second fd for the same pipe end,
/// close-on-exec whatever the flags of the first.
///
/// # References
///  - [Linux `fcntl(2)`, "Duplicating a file descriptor"]
///
/// [Linux `fcntl(2)`, "Duplicating a file descriptor"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
pub(crate) fn duplicate(fd: impl AsFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// `fcntl(fd, F_SETFL)` with `O_NONBLOCK` set or cleared: whether reads and
/// writes on the open file description fail with `EAGAIN` instead of
/// blocking. The flag belongs to the description, so every fd that shares
/// it (duplicates, a child's inherited copy) sees the change.
///
/// # References
///  - [Linux `fcntl(2)`, "File status flags"]
///
/// [Linux `fcntl(2)`, "File status flags"]: https://man7.org/linux/man-pages/man2/fcntl.2.html
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn set_nonblocking(fd: impl AsFd, nonblocking: bool) -> io::Result<()> {
    let fd = fd.as_fd();
    let flags = rustix::fs::fcntl_getfl(fd)?;
    let flags = if nonblocking {
        flags.union(rustix::fs::OFlags::NONBLOCK)
    } else {
        flags.difference(rustix::fs::OFlags::NONBLOCK)
    };
    Ok(rustix::fs::fcntl_setfl(fd, flags)?)
}

/// `read(fd, buf)`: reads up to `buf.len()` bytes, blocking while the pipe
/// is empty and a writer remains; 0 means every writer is gone.
///
/// # References
///  - [Linux `read(2)`]
///
/// [Linux `read(2)`]: https://man7.org/linux/man-pages/man2/read.2.html
pub(crate) fn read(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    Ok(rustix::io::read(fd, buf)?)
}

/// `readv(fd, bufs)`: [`read`] into several buffers.
///
/// # References
///  - [Linux `readv(2)`]
///
/// [Linux `readv(2)`]: https://man7.org/linux/man-pages/man2/readv.2.html
pub(crate) fn read_vectored(fd: impl AsFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    Ok(rustix::io::readv(fd, bufs)?)
}

/// `write(fd, buf)`, with `SIGPIPE` held off: writes up to `buf.len()`
/// bytes, blocking while the pipe is full.
///
/// When no reader is left the call fails with `EPIPE`
/// ([`io::ErrorKind::BrokenPipe`]) and the process is not signalled; see
/// [`signal::without_sigpipe`].
///
/// # References
///  - [Linux `write(2)`]
///  - [Linux `pipe(7)`, "I/O on pipes and FIFOs"]
///
/// [Linux `write(2)`]: https://man7.org/linux/man-pages/man2/write.2.html
/// [Linux `pipe(7)`, "I/O on pipes and FIFOs"]: https://man7.org/linux/man-pages/man7/pipe.7.html
pub(crate) fn write(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    signal::without_sigpipe(|| Ok(rustix::io::write(fd, buf)?))
}

/// `writev(fd, bufs)`, with `SIGPIPE` held off: [`write`] from several
/// buffers.
///
/// # References
///  - [Linux `writev(2)`]
///
/// [Linux `writev(2)`]: https://man7.org/linux/man-pages/man2/writev.2.html
pub(crate) fn write_vectored(fd: impl AsFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    signal::without_sigpipe(|| Ok(rustix::io::writev(fd, bufs)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_reports_a_power_of_two_number_of_pages() {
        let (r, w) = create().unwrap();
        let n = size(&r).unwrap();
        assert!(n.is_power_of_two(), "{n}");
        assert_eq!(size(&w).unwrap(), n, "both ends see one buffer");
        assert!(set_size(&w, n + 1).unwrap() > n, "rounded up");
    }

    #[test]
    fn inheritable_flag_round_trips() {
        let (r, _w) = create().unwrap();
        assert!(!is_inheritable(&r).unwrap());
        set_inheritable(&r, true).unwrap();
        assert!(is_inheritable(&r).unwrap());
        set_inheritable(&r, false).unwrap();
        assert!(!is_inheritable(&r).unwrap());
        set_inheritable(&r, true).unwrap();
        assert!(!is_inheritable(duplicate(&r).unwrap()).unwrap());
    }

    #[test]
    fn max_size_is_readable() {
        assert!(max_size().unwrap() >= 4096);
    }
}
