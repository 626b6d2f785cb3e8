//! Unix `SOCK_SEQPACKET` sockets: the local data path of mailslots.
//!
//! A mailslot's reader listens on one; each writer connects once and sends
//! every message as one record. Records keep their boundaries, arrive whole
//! or not at all, and never interleave, whatever the number of writers.

use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, OwnedFd};

use rustix::net::{self, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// What a non-blocking record read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// A record of this many bytes; if more than the buffer, the buffer got
    /// its first bytes and the rest was discarded.
    Read(usize),
    /// Nothing queued now.
    Empty,
    /// The writer closed its end (a 0-byte read; npipe records are never
    /// empty).
    Closed,
}

/// `socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC)`, `bind`
/// to `dir/name` and `listen(backlog)`.
///
/// # References
/// - [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html)
/// - [listen(2)](https://man7.org/linux/man-pages/man2/listen.2.html)
pub(crate) fn listen_at(dir: BorrowedFd<'_>, name: &str, backlog: i32) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::bind(&fd, &super::socket::addr_in(dir, name)?)?;
    net::listen(&fd, backlog)?;
    Ok(fd)
}

/// `socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC)` and `connect` to
/// `dir/name`.
///
/// # References
/// - [connect(2)](https://man7.org/linux/man-pages/man2/connect.2.html)
pub(crate) fn connect_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let fd = net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::connect(&fd, &super::socket::addr_in(dir, name)?)?;
    Ok(fd)
}

/// `sendmsg(fd, parts, MSG_NOSIGNAL)`: sends `parts` as one record, waiting
/// while the socket's send buffer is full. Never raises SIGPIPE; a reader
/// that is gone gives `BrokenPipe`, a record larger than the send buffer
/// allows gives `FileTooLarge` (`EMSGSIZE`).
///
/// # References
/// - [sendmsg(2)](https://man7.org/linux/man-pages/man2/sendmsg.2.html)
pub(crate) fn send_record(fd: BorrowedFd<'_>, parts: &[IoSlice<'_>]) -> io::Result<()> {
    let mut control = net::SendAncillaryBuffer::default();
    loop {
        match net::sendmsg(fd, parts, &mut control, SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::MSGSIZE) => {
                return Err(io::Error::new(
                    io::ErrorKind::FileTooLarge,
                    "the record is larger than the socket's send buffer allows",
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// `recv(fd, buf, MSG_DONTWAIT | MSG_TRUNC)`: takes the next record off the
/// socket without waiting, reporting its full length.
///
/// # References
/// - [recv(2)](https://man7.org/linux/man-pages/man2/recv.2.html), `MSG_TRUNC`
pub(crate) fn recv_record(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Record> {
    loop {
        return match net::recv(fd, &mut *buf, RecvFlags::DONTWAIT | RecvFlags::TRUNC) {
            Ok((_, 0)) => Ok(Record::Closed),
            Ok((_, full)) => Ok(Record::Read(full)),
            Err(rustix::io::Errno::AGAIN) => Ok(Record::Empty),
            Err(rustix::io::Errno::INTR) => continue,
            // A writer killed with records queued resets nothing on a Unix
            // socket, but be safe: treat a reset as closed.
            Err(rustix::io::Errno::CONNRESET) => Ok(Record::Closed),
            Err(e) => Err(e.into()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn records_keep_their_boundaries_and_report_their_length() {
        let (a, b) = super::super::socket::seqpacket_pair().unwrap();
        send_record(a.as_fd(), &[IoSlice::new(b"M"), IoSlice::new(b"hello")]).unwrap();
        send_record(a.as_fd(), &[IoSlice::new(b"M")]).unwrap();
        let mut small = [0u8; 3];
        assert_eq!(recv_record(b.as_fd(), &mut small).unwrap(), Record::Read(6));
        assert_eq!(&small, b"Mhe");
        let mut buf = [0u8; 16];
        assert_eq!(recv_record(b.as_fd(), &mut buf).unwrap(), Record::Read(1));
        assert_eq!(recv_record(b.as_fd(), &mut buf).unwrap(), Record::Empty);
        drop(a);
        assert_eq!(recv_record(b.as_fd(), &mut buf).unwrap(), Record::Closed);
    }
}
