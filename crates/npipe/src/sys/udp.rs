//! UDP sockets for mailslot datagrams: multicast receivers that share one
//! port, and senders. Set up with `socket2`, read with `rustix`.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::net::RecvFlags;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The receive buffer asked for on a receiving socket: room for about a
/// thousand full datagrams while the reader is busy.
const RECV_BUFFER: usize = 2 << 20;

/// A UDP socket, non-blocking and close-on-exec.
#[derive(Debug)]
pub(crate) struct Udp {
    sock: Socket,
}

impl Udp {
    /// A socket bound to `0.0.0.0:port` that receives the datagrams sent
    /// to `groups` on `interface` (`0.0.0.0`: the interface the routing
    /// table picks for each group).
    ///
    /// `SO_REUSEADDR` lets every mailslot on the host bind the same port,
    /// whichever user owns it; every socket gets its own copy of each
    /// multicast datagram. `SO_REUSEPORT` is not set: it would limit the
    /// port to one user and spread unicast datagrams across the sockets.
    /// `IP_MULTICAST_ALL` is cleared so the socket sees only the groups it
    /// joined, not those other sockets on the host joined.
    ///
    /// # References
    /// - [ip(7)](https://man7.org/linux/man-pages/man7/ip.7.html):
    ///   `IP_ADD_MEMBERSHIP`, `IP_MULTICAST_ALL`
    /// - [socket(7)](https://man7.org/linux/man-pages/man7/socket.7.html):
    ///   `SO_REUSEADDR`, `SO_RCVBUF`
    pub(crate) fn receiver(port: u16, groups: &[Ipv4Addr], interface: Ipv4Addr) -> io::Result<Udp> {
        let sock = new_socket()?;
        sock.set_reuse_address(true)?;
        sock.set_multicast_all_v4(false)?;
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = sock.set_recv_buffer_size(RECV_BUFFER);
        sock.bind(&SockAddr::from(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            port,
        )))?;
        for group in groups {
            sock.join_multicast_v4(group, &interface)?;
        }
        Ok(Udp { sock })
    }

    /// A socket for sending: bound to an ephemeral port, multicast with
    /// `ttl` hops (`IP_MULTICAST_TTL`) looped back to this host's own
    /// members (`IP_MULTICAST_LOOP`), out of `interface` if it is not
    /// `0.0.0.0` (`IP_MULTICAST_IF`).
    ///
    /// # References
    /// - [ip(7)](https://man7.org/linux/man-pages/man7/ip.7.html)
    pub(crate) fn sender(interface: Ipv4Addr, ttl: u32) -> io::Result<Udp> {
        let sock = new_socket()?;
        sock.set_multicast_ttl_v4(ttl)?;
        sock.set_multicast_loop_v4(true)?;
        if !interface.is_unspecified() {
            sock.set_multicast_if_v4(&interface)?;
        }
        Ok(Udp { sock })
    }

    /// `sendto(fd, buf, 0, to)`: one datagram. A full send buffer is
    /// reported as `WouldBlock`.
    ///
    /// # References
    /// - [sendto(2)](https://man7.org/linux/man-pages/man2/sendto.2.html)
    pub(crate) fn send_to(&self, buf: &[u8], to: SocketAddrV4) -> io::Result<()> {
        let sent = self.sock.send_to(buf, &SockAddr::from(to))?;
        if sent != buf.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
        }
        Ok(())
    }

    /// `recv(fd, buf, MSG_DONTWAIT | MSG_TRUNC)`: the next datagram's full
    /// length (more than `buf.len()` if it was cut), or `None` if none is
    /// queued.
    ///
    /// # References
    /// - [udp(7)](https://man7.org/linux/man-pages/man7/udp.7.html)
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            return match rustix::net::recv(
                &self.sock,
                &mut *buf,
                RecvFlags::DONTWAIT | RecvFlags::TRUNC,
            ) {
                Ok((_, full)) => Ok(Some(full)),
                Err(rustix::io::Errno::AGAIN) => Ok(None),
                Err(rustix::io::Errno::INTR) => continue,
                // An ICMP error for an earlier send; nothing to read.
                Err(rustix::io::Errno::CONNREFUSED) => continue,
                Err(e) => Err(e.into()),
            };
        }
    }
}

impl AsFd for Udp {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// This computer's name: `/proc/sys/kernel/hostname` (what `uname -n`
/// prints), or `localhost` if it cannot be read.
///
/// # References
/// - [uname(2)](https://man7.org/linux/man-pages/man2/uname.2.html)
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP)`.
fn new_socket() -> io::Result<Socket> {
    let sock = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_nonblocking(true)?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_unicast_round_trip_reports_full_length() {
        let rx = Udp::receiver(0, &[], Ipv4Addr::UNSPECIFIED).unwrap();
        let port = rx
            .sock
            .local_addr()
            .unwrap()
            .as_socket_ipv4()
            .unwrap()
            .port();
        let tx = Udp::sender(Ipv4Addr::UNSPECIFIED, 1).unwrap();
        tx.send_to(b"hello", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .unwrap();
        let mut buf = [0u8; 3];
        let mut got = None;
        for _ in 0..200 {
            got = rx.recv(&mut buf).unwrap();
            if got.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got, Some(5));
        assert_eq!(&buf, b"hel");
        assert_eq!(rx.recv(&mut buf).unwrap(), None);
    }
}
