//! Unix domain sockets: the data path of every connected pipe instance.
//!
//! # Safety
//!
//! Two calls need `unsafe`: the `SIOCOUTQ` ioctl, which rustix offers only
//! through its generic `ioctl` interface, and `getsockopt(SO_PEERGROUPS)`,
//! which rustix does not wrap. The opcodes and their output layouts are
//! fixed by the Linux ABI; see [`unread_outgoing`] and [`peer_groups`].
#![allow(unsafe_code)]

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{epoll, poll, PollFd, PollFlags, Timespec};
use rustix::net::{
    self, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, Shutdown, SocketAddrUnix, SocketFlags, SocketType,
};

/// The process and user on the other end of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerCred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The address of `name` inside the directory `dir`, reached through
/// `/proc/self/fd` so that the path stays short whatever the directory's own
/// path length (Unix socket paths are limited to 108 bytes).
pub(crate) fn addr_in(dir: BorrowedFd<'_>, name: &str) -> io::Result<SocketAddrUnix> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), name);
    Ok(SocketAddrUnix::new(path.as_str())?)
}

/// `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK)`, `bind` to
/// `dir/name` and `listen`: a non-blocking listening socket at a path in an
/// open directory.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
/// - [listen(2)](https://man7.org/linux/man-pages/man2/listen.2.html)
pub(crate) fn listen_at(dir: BorrowedFd<'_>, name: &str, backlog: i32) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::bind(&fd, &addr_in(dir, name)?)?;
    net::listen(&fd, backlog)?;
    Ok(fd)
}

/// `socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)` and `connect` to `dir/name`.
///
/// # References
/// - [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html)
pub(crate) fn connect_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::connect(&fd, &addr_in(dir, name)?)?;
    Ok(fd)
}

/// `accept4(listener, SOCK_CLOEXEC)`: the next connection, if one is queued
/// (the listener is non-blocking, so `WouldBlock` means none).
///
/// # References
/// - [accept4(2)](https://man7.org/linux/man-pages/man2/accept4.2.html)
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(net::accept_with(listener, SocketFlags::CLOEXEC)?)
}

/// `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: a second descriptor for the same
/// socket, so a caller can wait on it (register it with a reactor) while
/// the owner keeps and may close the original.
///
/// # References
/// - [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html), "Duplicating a file descriptor"
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn duplicate(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, 0)?)
}

/// `socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)`: the control channel
/// of a connection.
///
/// # References
/// - [socketpair(2)](https://man7.org/linux/man-pages/man2/socketpair.2.html)
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// `socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)`: a connected stream
/// pair, for tests and for the remote client's local end.
#[cfg(any(test, feature = "remote"))]
pub(crate) fn stream_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// `getsockopt(SO_PEERCRED)`: who is on the other end — for a connected
/// client, the process that called `listen`; for an accepted socket, the
/// process that called `connect`.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
#[doc(alias = "SO_PEERCRED")]
pub(crate) fn peer_credentials(fd: BorrowedFd<'_>) -> io::Result<PeerCred> {
    let cred = net::sockopt::socket_peercred(fd)?;
    Ok(PeerCred {
        pid: cred.pid.as_raw_nonzero().get() as u32,
        uid: cred.uid.as_raw(),
        gid: cred.gid.as_raw(),
    })
}

/// `getsockopt(SO_PEERGROUPS)`: the supplementary groups of the process on
/// the other end, as they were when it connected. Empty on kernels older
/// than 4.13, which lack the option.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
/// - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html)
#[doc(alias = "SO_PEERGROUPS")]
pub(crate) fn peer_groups(fd: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    use std::os::fd::AsRawFd;
    #[cfg(target_arch = "sparc64")]
    const SO_PEERGROUPS: libc::c_int = 0x3d;
    #[cfg(not(target_arch = "sparc64"))]
    const SO_PEERGROUPS: libc::c_int = 59;
    const GID: usize = std::mem::size_of::<libc::gid_t>();
    let mut groups: Vec<libc::gid_t> = vec![0; 32];
    loop {
        let mut len = (groups.len() * GID) as libc::socklen_t;
        // SAFETY: `groups` is writable for `len` bytes and `len` is a valid
        // socklen_t; the kernel writes at most `len` bytes of gid_t values
        // and stores the size it wrote (or needs) in `len`.
        let rc = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc == 0 {
            groups.truncate(len as usize / GID);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ERANGE) if len as usize > groups.len() * GID => {
                groups.resize(len as usize / GID, 0);
            }
            Some(libc::ENOPROTOOPT) => return Ok(Vec::new()),
            _ => return Err(err),
        }
    }
}

/// `send(fd, buf, MSG_NOSIGNAL)`, or with `MSG_DONTWAIT` when `nonblocking`.
/// Never raises SIGPIPE.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], nonblocking: bool) -> io::Result<usize> {
    Ok(net::send(fd, buf, send_flags(nonblocking))?)
}

/// `sendmsg(fd, iov, MSG_NOSIGNAL)`: a gathered write (frame header and
/// payload in one call).
pub(crate) fn send_vectored(
    fd: BorrowedFd<'_>,
    iov: &[IoSlice<'_>],
    nonblocking: bool,
) -> io::Result<usize> {
    let mut control = SendAncillaryBuffer::default();
    Ok(net::sendmsg(
        fd,
        iov,
        &mut control,
        send_flags(nonblocking),
    )?)
}

/// `sendmsg` of `buf` with one file descriptor attached (`SCM_RIGHTS`).
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html), "Ancillary messages"
pub(crate) fn send_with_fd(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    attach: BorrowedFd<'_>,
) -> io::Result<()> {
    let fds = [attach];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    let sent = net::sendmsg(fd, &[IoSlice::new(buf)], &mut control, SendFlags::NOSIGNAL)?;
    if sent != buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short handshake write",
        ));
    }
    Ok(())
}

/// `recvmsg` of exactly `buf.len()` bytes, waiting for them at most
/// `timeout` in all, taking at most one attached file descriptor. Returns
/// the descriptor if one came; `TimedOut` if the bytes did not.
pub(crate) fn recv_exact_with_fd(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    timeout: Duration,
) -> io::Result<Option<OwnedFd>> {
    let deadline = std::time::Instant::now() + timeout;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut received = None;
    let mut filled = 0;
    while filled < buf.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if !wait_readable(fd, Some(left))? {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let mut iov = [IoSliceMut::new(&mut buf[filled..])];
        let msg = match net::recvmsg(
            fd,
            &mut iov,
            &mut control,
            RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
        ) {
            Ok(msg) => msg,
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                for fd in fds {
                    // Keep the first, close any extra a hostile peer sent.
                    received.get_or_insert(fd);
                }
            }
        }
        if msg.bytes == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += msg.bytes;
    }
    Ok(received)
}

/// `recv(fd, buf)`, with `MSG_DONTWAIT` when `nonblocking`.
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], nonblocking: bool) -> io::Result<usize> {
    let flags = if nonblocking {
        RecvFlags::DONTWAIT
    } else {
        RecvFlags::empty()
    };
    Ok(net::recv(fd, buf, flags)?.0)
}

/// `recv(fd, buf, MSG_PEEK | MSG_DONTWAIT)`: copies queued bytes without
/// consuming them.
pub(crate) fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    Ok(net::recv(fd, buf, RecvFlags::PEEK | RecvFlags::DONTWAIT)?.0)
}

/// `shutdown(fd, SHUT_RDWR)`: wakes every thread blocked on the socket and
/// tells the peer the connection is over.
pub(crate) fn shutdown(fd: BorrowedFd<'_>) -> io::Result<()> {
    match net::shutdown(fd, Shutdown::Both) {
        Ok(()) => Ok(()),
        // Already disconnected by the peer: nothing left to shut down.
        Err(rustix::io::Errno::NOTCONN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `shutdown(fd, SHUT_WR)`: the peer reads the end of the stream after
/// what was sent; this end can still receive.
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> io::Result<()> {
    match net::shutdown(fd, Shutdown::Write) {
        Ok(()) | Err(rustix::io::Errno::NOTCONN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `ioctl(fd, FIONREAD)`: bytes queued for reading.
pub(crate) fn bytes_readable(fd: BorrowedFd<'_>) -> io::Result<usize> {
    Ok(rustix::io::ioctl_fionread(fd)? as usize)
}

/// `ioctl(fd, SIOCOUTQ)`: bytes this socket sent that the peer has not read
/// yet. On a Unix stream socket this falls to zero exactly when the peer has
/// consumed everything.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html), "Ioctls"
pub(crate) fn unread_outgoing(fd: BorrowedFd<'_>) -> io::Result<usize> {
    const SIOCOUTQ: rustix::ioctl::Opcode = 0x5411;
    // SAFETY: SIOCOUTQ takes a pointer to a c_int and writes one c_int, which
    // is what `Getter<_, c_int>` provides.
    let queued = unsafe {
        rustix::ioctl::ioctl(
            fd,
            rustix::ioctl::Getter::<SIOCOUTQ, std::ffi::c_int>::new(),
        )?
    };
    Ok(queued.max(0) as usize)
}

/// `setsockopt(SO_SNDBUF)`: on a Unix stream socket the sender's buffer is
/// the pipe's buffer in that direction.
pub(crate) fn set_send_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    Ok(net::sockopt::set_socket_send_buffer_size(fd, bytes)?)
}

/// `poll` one descriptor for reading (or hang-up), up to `timeout`
/// (`None` waits forever). Returns false on timeout.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    wait_for(fd, PollFlags::IN, timeout)
}

/// `poll(fd, 0)` for `POLLHUP`: whether the peer closed its end entirely
/// (a peer that only shut down its writing shows `POLLRDHUP`, not this).
/// Tells a closed handle from a half-closed one after reading the end of
/// the stream.
#[cfg(feature = "remote")]
pub(crate) fn hung_up(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::empty())];
    loop {
        match poll(
            &mut fds,
            Some(&Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }),
        ) {
            Ok(_) => return Ok(fds[0].revents().contains(PollFlags::HUP)),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// `poll` one descriptor for writing (or hang-up).
pub(crate) fn wait_writable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    wait_for(fd, PollFlags::OUT, timeout)
}

fn wait_for(fd: BorrowedFd<'_>, flags: PollFlags, timeout: Option<Duration>) -> io::Result<bool> {
    let timespec = timeout.map(|t| Timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    let mut fds = [PollFd::from_borrowed_fd(fd, flags)];
    loop {
        match poll(&mut fds, timespec.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Waits until the peer has read everything this socket sent
/// (`SIOCOUTQ` reaches zero), without polling in a loop: an edge-triggered
/// `epoll` registration for `EPOLLOUT` is woken each time the peer frees
/// buffer space by reading.
///
/// One race needs care: the kernel wakes writers from `sock_wfree` while it
/// still holds one unit of the count it reports, and drops that unit just
/// after. A thread woken by the last free can therefore read 1 and then
/// never be woken again. So after every wake-up that still finds bytes
/// outstanding, the next wait is bounded by [`DRAIN_RECHECK`]; a wait
/// without a wake-up before it has no bound.
///
/// # References
/// - [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html), "Edge-triggered"
pub(crate) fn wait_drained(fd: BorrowedFd<'_>) -> io::Result<()> {
    if unread_outgoing(fd)? == 0 {
        return Ok(());
    }
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    epoll::add(
        &ep,
        fd,
        epoll::EventData::new_u64(0),
        epoll::EventFlags::OUT | epoll::EventFlags::ET | epoll::EventFlags::HUP,
    )?;
    let mut events = Vec::with_capacity(1);
    let recheck = Timespec {
        tv_sec: 0,
        tv_nsec: DRAIN_RECHECK.as_nanos() as _,
    };
    let mut timeout = None;
    loop {
        // The registration came first, so a wake-up between this check and
        // the wait is queued, not lost.
        if unread_outgoing(fd)? == 0 {
            return Ok(());
        }
        events.clear();
        match epoll::wait(
            &ep,
            rustix::buffer::spare_capacity(&mut events),
            timeout.as_ref(),
        ) {
            Ok(0) => timeout = None,
            Ok(_) => {
                if events.iter().any(|e| {
                    let flags = e.flags;
                    flags.contains(epoll::EventFlags::HUP)
                }) {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                timeout = Some(recheck);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// How soon a flush looks again after a wake-up that still found bytes
/// outstanding (see [`wait_drained`]).
pub(crate) const DRAIN_RECHECK: Duration = Duration::from_millis(2);

fn send_flags(nonblocking: bool) -> SendFlags {
    if nonblocking {
        SendFlags::NOSIGNAL | SendFlags::DONTWAIT
    } else {
        SendFlags::NOSIGNAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn unread_outgoing_falls_to_zero_when_the_peer_reads() {
        let (a, b) = stream_pair().unwrap();
        assert_eq!(unread_outgoing(a.as_fd()).unwrap(), 0);
        send(a.as_fd(), b"hello", false).unwrap();
        assert!(unread_outgoing(a.as_fd()).unwrap() > 0);
        let mut buf = [0; 5];
        assert_eq!(recv(b.as_fd(), &mut buf, false).unwrap(), 5);
        assert_eq!(unread_outgoing(a.as_fd()).unwrap(), 0);
        wait_drained(a.as_fd()).unwrap();
    }

    #[test]
    fn wait_drained_wakes_when_the_peer_reads() {
        let (a, b) = stream_pair().unwrap();
        send(a.as_fd(), &[7; 1000], false).unwrap();
        let reader = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut buf = [0; 1000];
            let mut got = 0;
            while got < 1000 {
                got += recv(b.as_fd(), &mut buf[got..], false).unwrap();
            }
            b
        });
        wait_drained(a.as_fd()).unwrap();
        assert_eq!(unread_outgoing(a.as_fd()).unwrap(), 0);
        drop(reader.join().unwrap());
    }

    #[test]
    fn fd_passing_round_trip() {
        let (a, b) = stream_pair().unwrap();
        let (x, y) = seqpacket_pair().unwrap();
        send_with_fd(a.as_fd(), b"abcd", x.as_fd()).unwrap();
        let mut buf = [0; 4];
        let got = recv_exact_with_fd(b.as_fd(), &mut buf, Duration::from_secs(5))
            .unwrap()
            .expect("an fd");
        assert_eq!(&buf, b"abcd");
        net::send(&got, b"!", SendFlags::empty()).unwrap();
        let mut one = [0; 1];
        assert_eq!(recv(y.as_fd(), &mut one, false).unwrap(), 1);
    }
}
