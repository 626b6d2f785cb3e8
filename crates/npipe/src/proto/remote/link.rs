//! [`Link`]: the data phase of one network connection, after the hellos
//! and the open, as a sans-IO state machine both the client library and
//! `npiped` drive.
//!
//! It frames outgoing data within the peer's credit, checks incoming
//! frames against what the peer's role may send and against the credit
//! this side granted, answers pings, sends credit back as the local side
//! takes data, pings a quiet peer and declares it dead after the idle
//! time-out.
//!
//! # Calling order
//!
//! - Bytes from the network: [`Link::handle_input`], then
//!   [`Link::poll_event`] until it returns `Ok(None)`. An `Err` means the
//!   peer broke the protocol: log it, send nothing more, close.
//! - Local data to send: [`Link::send_data`] takes what the credit allows.
//! - Data handed to the local side: [`Link::consumed`], which grants the
//!   peer new credit when enough has been taken.
//! - Control frames: [`Link::send`].
//! - After any of these: [`Link::poll_transmit`] until it returns false,
//!   and write the bytes.
//! - Timers: sleep until [`Link::poll_timeout`], then call
//!   [`Link::handle_timeout`]; an `Err` is the idle time-out.

use std::time::{Duration, Instant};

use super::frame::{Frame, FrameDecoder};
use super::RemoteError;

/// Which end of the connection this link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The remote client (the library).
    Client,
    /// The server (`npiped`).
    Server,
}

/// What the hellos settled.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// This end's role.
    pub role: Role,
    /// The largest payload the peer accepts.
    pub max_send_frame: usize,
    /// `Data` bytes this end granted the peer in its hello.
    pub recv_window: u32,
    /// `Data` bytes the peer granted this end in its hello.
    pub send_window: u32,
    /// The connection is dead after this long without a frame from the peer.
    pub idle_timeout: Duration,
    /// Ping the peer after this long without a frame from it (`None`: never).
    pub ping_interval: Option<Duration>,
}

/// What the peer said, in the data phase.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Bytes of the pipe's stream. Call [`Link::consumed`] once they are
    /// handed on.
    Data(Vec<u8>),
    /// The peer's side of the stream ended; it still reads.
    Eof,
    /// The peer closed its handle; no frame follows.
    Close,
    /// The server disconnected the client (client role only).
    Disconnected,
    /// Answer once everything received so far is read: the client's
    /// `FlushFileBuffers`, or the pipe server's (either role).
    Flush(u32),
    /// The answer to a flush: 0 or a Win32 code (either role).
    Flushed {
        /// The request id.
        id: u32,
        /// 0, or a Win32 error code.
        status: u32,
    },
    /// Send what is available, then answer (server role only).
    Sync(u32),
    /// The answer to a sync, after its data (client role only).
    Synced(u32),
    /// Tell how many instances exist (server role only).
    Info(u32),
    /// The answer to an info request (client role only).
    InfoReply {
        /// The request id.
        id: u32,
        /// Instances that exist now.
        instances: u32,
    },
    /// The client's handle closed having read this many bytes in all,
    /// everything it received (server role only; `Close` follows).
    AllRead(u64),
    /// The server ends the connection with an error (client role only).
    Error {
        /// The Win32 code.
        code: u32,
        /// Why.
        message: String,
    },
}

/// The data phase of one connection. See the module docs for the calling
/// order.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// `Data` bytes this end may still send.
    send_credit: u64,
    /// `Data` bytes the peer may still send.
    recv_allowance: u64,
    /// Bytes consumed locally and not yet granted back.
    to_grant: u64,
    last_recv: Instant,
    last_ping: Instant,
    peer_eof: bool,
    peer_closed: bool,
}

impl Link {
    /// A link whose hellos were exchanged at `now`. `decoder` holds any
    /// bytes received after the last handshake frame; its limit is what
    /// this end announced.
    pub fn new(config: LinkConfig, decoder: FrameDecoder, now: Instant) -> Link {
        Link {
            config,
            decoder,
            out: Vec::new(),
            send_credit: u64::from(config.send_window),
            recv_allowance: u64::from(config.recv_window),
            to_grant: 0,
            last_recv: now,
            last_ping: now,
            peer_eof: false,
            peer_closed: false,
        }
    }

    /// Bytes received from the network.
    pub fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        if !bytes.is_empty() {
            self.last_recv = now;
        }
        self.decoder.push(bytes);
    }

    /// The next event from the peer, if a whole frame has arrived.
    ///
    /// # Errors
    /// The peer broke the protocol: a malformed or oversized frame, a frame
    /// its role may not send, data beyond the credit or after its end.
    pub fn poll_event(&mut self) -> Result<Option<Event>, RemoteError> {
        loop {
            let Some(frame) = self.decoder.next_frame()? else {
                return Ok(None);
            };
            if self.peer_closed {
                return Err(RemoteError::UnexpectedFrame(frame.frame_type()));
            }
            let client = self.config.role == Role::Client;
            let event = match frame {
                Frame::Data(bytes) => {
                    if self.peer_eof {
                        return Err(RemoteError::UnexpectedFrame(frame_type_data()));
                    }
                    let len = bytes.len() as u64;
                    if len > self.recv_allowance {
                        return Err(RemoteError::CreditExceeded);
                    }
                    self.recv_allowance -= len;
                    Event::Data(bytes)
                }
                Frame::Credit(n) => {
                    self.send_credit = self.send_credit.saturating_add(u64::from(n));
                    continue;
                }
                Frame::Ping => {
                    Frame::Pong.encode(&mut self.out);
                    continue;
                }
                Frame::Pong => continue,
                Frame::Eof if !self.peer_eof => {
                    self.peer_eof = true;
                    Event::Eof
                }
                Frame::Close => {
                    self.peer_closed = true;
                    Event::Close
                }
                Frame::Disconnected if client => {
                    self.peer_closed = true;
                    Event::Disconnected
                }
                Frame::Error { code, message } if client => {
                    self.peer_closed = true;
                    Event::Error { code, message }
                }
                // Flushes go both ways: the client's reach the pipe server,
                // the pipe server's reach the client.
                Frame::Flushed { id, status } => Event::Flushed { id, status },
                Frame::Flush(id) => Event::Flush(id),
                Frame::Synced(id) if client => Event::Synced(id),
                Frame::InfoReply { id, instances } if client => Event::InfoReply { id, instances },
                Frame::Sync(id) if !client => Event::Sync(id),
                Frame::Info(id) if !client => Event::Info(id),
                Frame::AllRead(bytes) if !client => Event::AllRead(bytes),
                other => return Err(RemoteError::UnexpectedFrame(other.frame_type())),
            };
            return Ok(Some(event));
        }
    }

    /// `Data` bytes this end may send now.
    pub fn send_credit(&self) -> usize {
        self.send_credit.min(usize::MAX as u64) as usize
    }

    /// The largest payload the peer accepts.
    pub fn max_send_frame(&self) -> usize {
        self.config.max_send_frame
    }

    /// Frames as much of `data` as the credit allows; returns how much.
    pub fn send_data(&mut self, data: &[u8]) -> usize {
        let take = data.len().min(self.send_credit());
        for chunk in data[..take].chunks(self.config.max_send_frame.max(1)) {
            let len = chunk.len() as u32;
            self.out.push(super::frame::FrameType::Data as u8);
            self.out.extend_from_slice(&len.to_le_bytes());
            self.out.extend_from_slice(chunk);
        }
        self.send_credit -= take as u64;
        take
    }

    /// Queues a control frame (not `Data`: use [`send_data`](Self::send_data)).
    pub fn send(&mut self, frame: &Frame) {
        debug_assert!(!matches!(frame, Frame::Data(_)));
        frame.encode(&mut self.out);
    }

    /// The local side took `n` bytes of received data: once a quarter of
    /// the window is taken, grant it back to the peer.
    pub fn consumed(&mut self, n: usize) {
        self.to_grant += n as u64;
        let threshold = (u64::from(self.config.recv_window) / 4).max(1);
        if self.to_grant >= threshold {
            let grant = self.to_grant.min(u64::from(u32::MAX));
            self.to_grant -= grant;
            self.recv_allowance += grant;
            Frame::Credit(grant as u32).encode(&mut self.out);
        }
    }

    /// Moves the bytes to send into `out`; false if there were none.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.out.is_empty() {
            return false;
        }
        if out.is_empty() {
            std::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
        }
        true
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next.
    pub fn poll_timeout(&self) -> Instant {
        let idle = self.last_recv + self.config.idle_timeout;
        match self.config.ping_interval {
            Some(every) => idle.min(self.last_recv.max(self.last_ping) + every),
            None => idle,
        }
    }

    /// Pings a quiet peer, or declares it dead.
    ///
    /// # Errors
    /// [`RemoteError::IdleTimeout`] once nothing has come for the idle
    /// time-out.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), RemoteError> {
        if now >= self.last_recv + self.config.idle_timeout {
            return Err(RemoteError::IdleTimeout(self.config.idle_timeout));
        }
        if let Some(every) = self.config.ping_interval {
            if now >= self.last_recv.max(self.last_ping) + every {
                self.last_ping = now;
                Frame::Ping.encode(&mut self.out);
            }
        }
        Ok(())
    }

    /// Whether the peer sent `Eof` or closed.
    pub fn peer_finished_sending(&self) -> bool {
        self.peer_eof || self.peer_closed
    }
}

fn frame_type_data() -> super::frame::FrameType {
    super::frame::FrameType::Data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(role: Role, window: u32) -> LinkConfig {
        LinkConfig {
            role,
            max_send_frame: 8,
            recv_window: window,
            send_window: window,
            idle_timeout: Duration::from_secs(3),
            ping_interval: (role == Role::Client).then(|| Duration::from_secs(1)),
        }
    }

    /// A client and a server link wired through byte vectors.
    struct Pair {
        client: Link,
        server: Link,
        now: Instant,
    }

    impl Pair {
        fn new(window: u32) -> Pair {
            let now = Instant::now();
            Pair {
                client: Link::new(config(Role::Client, window), FrameDecoder::new(8), now),
                server: Link::new(config(Role::Server, window), FrameDecoder::new(8), now),
                now,
            }
        }

        /// Moves bytes both ways until quiet (bounded); returns the events
        /// each side saw.
        fn drive(&mut self) -> (Vec<Event>, Vec<Event>) {
            let (mut to_client, mut to_server) = (Vec::new(), Vec::new());
            for _ in 0..100 {
                let mut wire = Vec::new();
                let c = self.client.poll_transmit(&mut wire);
                self.server.handle_input(&wire, self.now);
                while let Some(e) = self.server.poll_event().unwrap() {
                    to_server.push(e);
                }
                wire.clear();
                let s = self.server.poll_transmit(&mut wire);
                self.client.handle_input(&wire, self.now);
                while let Some(e) = self.client.poll_event().unwrap() {
                    to_client.push(e);
                }
                if !c && !s {
                    return (to_client, to_server);
                }
            }
            panic!("links never went quiet");
        }
    }

    #[test]
    fn data_is_cut_to_the_frame_limit_and_stops_at_the_credit() {
        let mut p = Pair::new(20);
        assert_eq!(p.client.send_data(&[7; 30]), 20);
        let (_, got) = p.drive();
        let lens: Vec<usize> = got
            .iter()
            .map(|e| match e {
                Event::Data(d) => d.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lens, [8, 8, 4]);
        assert_eq!(p.client.send_credit(), 0);
        // The server's side takes the bytes: credit flows back.
        p.server.consumed(20);
        p.drive();
        assert_eq!(p.client.send_credit(), 20);
    }

    #[test]
    fn data_beyond_the_credit_is_a_protocol_error() {
        let now = Instant::now();
        let mut server = Link::new(config(Role::Server, 4), FrameDecoder::new(64), now);
        let mut wire = Vec::new();
        Frame::Data(vec![0; 5]).encode(&mut wire);
        server.handle_input(&wire, now);
        assert_eq!(server.poll_event(), Err(RemoteError::CreditExceeded));
    }

    #[test]
    fn each_role_may_send_only_its_frames() {
        let now = Instant::now();
        for (role, frame) in [
            (Role::Server, Frame::Disconnected),
            (Role::Server, Frame::Synced(1)),
            (
                Role::Server,
                Frame::Error {
                    code: 1,
                    message: String::new(),
                },
            ),
            (Role::Client, Frame::Info(1)),
            (Role::Client, Frame::AllRead(1)),
            (Role::Client, Frame::Sync(1)),
            (
                Role::Client,
                Frame::Open(super::super::frame::OpenRequest {
                    read: true,
                    write: true,
                    wait: super::super::frame::WireWait::No,
                    path: "x".into(),
                }),
            ),
        ] {
            let mut link = Link::new(config(role, 4), FrameDecoder::new(64), now);
            let mut wire = Vec::new();
            frame.encode(&mut wire);
            link.handle_input(&wire, now);
            assert!(
                matches!(link.poll_event(), Err(RemoteError::UnexpectedFrame(_))),
                "{role:?} accepted {frame:?}"
            );
        }
    }

    #[test]
    fn nothing_may_follow_a_close_and_no_data_an_eof() {
        let now = Instant::now();
        let mut server = Link::new(config(Role::Server, 64), FrameDecoder::new(64), now);
        let mut wire = Vec::new();
        Frame::Eof.encode(&mut wire);
        Frame::Data(vec![1]).encode(&mut wire);
        server.handle_input(&wire, now);
        assert_eq!(server.poll_event(), Ok(Some(Event::Eof)));
        assert!(server.poll_event().is_err());

        let mut server = Link::new(config(Role::Server, 64), FrameDecoder::new(64), now);
        let mut wire = Vec::new();
        Frame::Close.encode(&mut wire);
        Frame::Ping.encode(&mut wire);
        server.handle_input(&wire, now);
        assert_eq!(server.poll_event(), Ok(Some(Event::Close)));
        assert!(server.poll_event().is_err());
    }

    #[test]
    fn a_quiet_peer_is_pinged_then_declared_dead() {
        let mut p = Pair::new(64);
        let start = p.now;
        assert_eq!(p.client.poll_timeout(), start + Duration::from_secs(1));
        p.now = start + Duration::from_secs(1);
        p.client.handle_timeout(p.now).unwrap();
        p.drive(); // ping out, pong back
        assert_eq!(p.client.poll_timeout(), p.now + Duration::from_secs(1));
        assert_eq!(p.server.poll_timeout(), p.now + Duration::from_secs(3));
        // The network goes silent: the server gives up after 3 s.
        let later = p.now + Duration::from_secs(3);
        assert_eq!(
            p.server.handle_timeout(later),
            Err(RemoteError::IdleTimeout(Duration::from_secs(3)))
        );
    }

    #[test]
    fn requests_and_answers_pass_in_order_with_data() {
        let mut p = Pair::new(64);
        p.client.send_data(b"abc");
        p.client.send(&Frame::Flush(7));
        let (_, at_server) = p.drive();
        assert_eq!(at_server, [Event::Data(b"abc".to_vec()), Event::Flush(7)]);
        p.server.send(&Frame::Flushed { id: 7, status: 0 });
        p.server.send(&Frame::Disconnected);
        let (at_client, _) = p.drive();
        assert_eq!(
            at_client,
            [Event::Flushed { id: 7, status: 0 }, Event::Disconnected]
        );
    }

    #[test]
    fn the_pipe_servers_flush_goes_to_the_client_after_its_data() {
        let mut p = Pair::new(64);
        p.server.send_data(b"xyz");
        p.server.send(&Frame::Flush(3));
        let (at_client, _) = p.drive();
        assert_eq!(at_client, [Event::Data(b"xyz".to_vec()), Event::Flush(3)]);
        p.client.send(&Frame::Flushed { id: 3, status: 0 });
        let (_, at_server) = p.drive();
        assert_eq!(at_server, [Event::Flushed { id: 3, status: 0 }]);
    }
}
