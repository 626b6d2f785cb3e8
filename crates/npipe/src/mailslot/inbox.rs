//! The reader's side of a mailslot: its sockets and its queue of whole
//! messages.
//!
//! Messages wait in the kernel (one `SOCK_SEQPACKET` connection per local
//! writer, one UDP socket for the network) until the reader calls any
//! method; then [`Inbox::pump`] moves everything that has arrived into an
//! in-process queue without waiting. Counting and sizing the queue is then
//! exact, and no background thread is needed.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use super::MAX_LOCAL_MESSAGE;
use crate::namespace::AllowList;
use crate::proto::datagram::{decode_local, Policy, Verdict};
use crate::sys::seqpacket::{self, Record};
use crate::sys::socket;
use crate::sys::udp::Udp;

/// The most records one pump takes, so writers that never pause cannot
/// keep a reader in `pump` for ever.
const PUMP_LIMIT: usize = 1 << 16;

/// A descriptor a waiting reader polls.
pub(crate) type Waitable = Arc<dyn AsFd + Send + Sync>;

#[derive(Debug)]
pub(crate) struct Inbox {
    listener: Arc<OwnedFd>,
    conns: Vec<Arc<OwnedFd>>,
    net: Option<(Arc<Udp>, Policy)>,
    queue: VecDeque<Vec<u8>>,
    dropped: u64,
    owner_uid: u32,
    allow: AllowList,
    max_message_size: usize,
    scratch: Vec<u8>,
}

impl Inbox {
    pub(crate) fn new(
        listener: OwnedFd,
        net: Option<(Udp, Policy)>,
        owner_uid: u32,
        allow: AllowList,
        max_message_size: usize,
    ) -> Inbox {
        Inbox {
            listener: Arc::new(listener),
            conns: Vec::new(),
            net: net.map(|(udp, policy)| (Arc::new(udp), policy)),
            queue: VecDeque::new(),
            dropped: 0,
            owner_uid,
            allow,
            max_message_size,
            scratch: vec![0; MAX_LOCAL_MESSAGE + 2],
        }
    }

    /// The messages waiting, oldest first.
    pub(crate) fn queue(&mut self) -> &mut VecDeque<Vec<u8>> {
        &mut self.queue
    }

    /// Datagrams and records dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Everything a waiting reader must poll: the listener, every writer's
    /// connection and the UDP socket.
    pub(crate) fn waitables(&self) -> Vec<Waitable> {
        let mut out: Vec<Waitable> = vec![self.listener.clone()];
        out.extend(self.conns.iter().map(|c| c.clone() as Waitable));
        if let Some((udp, _)) = &self.net {
            out.push(udp.clone());
        }
        out
    }

    /// Moves every message that has arrived into the queue, without
    /// waiting. Returns how many were added.
    pub(crate) fn pump(&mut self) -> io::Result<usize> {
        let before = self.queue.len();
        self.accept_writers()?;
        let mut budget = PUMP_LIMIT;
        // One record per writer per pass, so a busy writer cannot starve
        // the others.
        while budget > 0 {
            let mut progress = false;
            let mut i = 0;
            while i < self.conns.len() {
                match seqpacket::recv_record(self.conns[i].as_fd(), &mut self.scratch)? {
                    Record::Read(len) => {
                        progress = true;
                        budget = budget.saturating_sub(1);
                        self.take_record(len);
                        i += 1;
                    }
                    Record::Empty => i += 1,
                    Record::Closed => {
                        self.conns.swap_remove(i);
                    }
                }
            }
            if !progress {
                break;
            }
        }
        while budget > 0 {
            let Some((udp, _)) = &self.net else { break };
            let Some(len) = udp.recv(&mut self.scratch)? else {
                break;
            };
            budget -= 1;
            self.take_datagram(len);
        }
        Ok(self.queue.len() - before)
    }

    /// Accepts queued writers, keeping those allowed to write. A writer
    /// refused here was let through by the file permissions (a file system
    /// without ACLs): its connection is closed and its messages never read.
    fn accept_writers(&mut self) -> io::Result<()> {
        loop {
            let conn = match socket::accept(self.listener.as_fd()) {
                Ok(conn) => conn,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The writer gave up between connect and accept.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e),
            };
            let Ok(peer) = socket::peer_credentials(conn.as_fd()) else {
                continue;
            };
            if self.allow.permits(self.owner_uid, peer.uid, peer.gid, &[]) {
                self.conns.push(Arc::new(conn));
            }
        }
    }

    fn take_record(&mut self, len: usize) {
        let message = match self.scratch.get(..len).and_then(decode_local) {
            Some(m) if self.max_message_size == 0 || m.len() <= self.max_message_size => m,
            // Larger than any writer through npipe sends, or untagged.
            _ => {
                self.dropped += 1;
                return;
            }
        };
        self.queue.push_back(message.to_vec());
    }

    fn take_datagram(&mut self, len: usize) {
        let Some((_, policy)) = &self.net else { return };
        let Some(bytes) = self.scratch.get(..len) else {
            self.dropped += 1;
            return;
        };
        match policy.judge(bytes) {
            Verdict::Deliver(payload) => self.queue.push_back(payload.to_vec()),
            Verdict::NotForUs => {}
            Verdict::Drop(_) => self.dropped += 1,
        }
    }
}
