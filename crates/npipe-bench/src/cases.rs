//! What is measured: the implementations, the workloads, and the matrix of
//! cases that pairs them.
//!
//! A case id reads `workload/size/pinning/implementation`, for example
//! `rt/64/cross/npipe-msg`; `--filter` matches substrings of it.

use std::fmt;

/// One way of moving bytes between two processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impl {
    /// Raw kernel pipe (`pipe2`), default 64 KiB buffer.
    Pipe,
    /// Raw kernel pipe grown to 1 MiB with `F_SETPIPE_SZ`.
    Pipe1M,
    /// Raw `AF_UNIX` `SOCK_STREAM` socket, plain `read`/`write`.
    UnixStream,
    /// Raw `AF_UNIX` `SOCK_SEQPACKET` socket: one `send`/`recv` per message.
    UnixSeqpacket,
    /// 4-byte length frames over a Unix stream socket: header and payload
    /// in one `writev`; the reader reads through a 64 KiB `BufReader`. In
    /// `clients1000`, the same frames between tokio tasks (a `UnixListener`
    /// and one task per connection, as a tokio server would be written).
    Framed,
    /// The same frames read naively: one `read` for the header, one for
    /// the payload.
    FramedNaive,
    /// The same frames read as npipe's message pipes read them today: peek
    /// the header, `FIONREAD`, one `recvmsg` (a diagnostic baseline).
    FramedPeek,
    /// The `interprocess` crate's local sockets (byte stream).
    Interprocess,
    /// The `ipc-channel` crate's byte channels (messages).
    IpcChannel,
    /// `npipe::anonymous` pipes.
    NpipeAnon,
    /// npipe named pipe, byte type.
    NpipeByte,
    /// npipe named pipe, message type, message read mode.
    NpipeMsg,
    /// npipe's async server (`npipe::tokio`, one current-thread runtime)
    /// against blocking npipe clients, message type and read mode; in
    /// `clients1000` the clients are async too.
    NpipeTokio,
}

/// Where an implementation stands in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Written in the harness straight on the kernel.
    Baseline,
    /// Another crate.
    Peer,
    /// npipe itself.
    Npipe,
}

impl Impl {
    /// Every implementation, in table order.
    pub const ALL: [Impl; 13] = [
        Impl::Pipe,
        Impl::Pipe1M,
        Impl::UnixStream,
        Impl::UnixSeqpacket,
        Impl::Framed,
        Impl::FramedNaive,
        Impl::FramedPeek,
        Impl::Interprocess,
        Impl::IpcChannel,
        Impl::NpipeAnon,
        Impl::NpipeByte,
        Impl::NpipeMsg,
        Impl::NpipeTokio,
    ];

    /// The short name used in case ids, tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Pipe => "pipe",
            Impl::Pipe1M => "pipe-1m",
            Impl::UnixStream => "unix-stream",
            Impl::UnixSeqpacket => "unix-seqpacket",
            Impl::Framed => "framed",
            Impl::FramedNaive => "framed-naive",
            Impl::FramedPeek => "framed-peek",
            Impl::Interprocess => "interprocess",
            Impl::IpcChannel => "ipc-channel",
            Impl::NpipeAnon => "npipe-anon",
            Impl::NpipeByte => "npipe-byte",
            Impl::NpipeMsg => "npipe-msg",
            Impl::NpipeTokio => "npipe-tokio",
        }
    }

    /// The implementation called `name`.
    pub fn from_name(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Baseline, peer or npipe.
    pub fn group(self) -> Group {
        match self {
            Impl::Interprocess | Impl::IpcChannel => Group::Peer,
            Impl::NpipeAnon | Impl::NpipeByte | Impl::NpipeMsg | Impl::NpipeTokio => Group::Npipe,
            _ => Group::Baseline,
        }
    }

    /// Whether a read returns exactly one message (rather than some bytes).
    pub fn is_message(self) -> bool {
        matches!(
            self,
            Impl::UnixSeqpacket
                | Impl::Framed
                | Impl::FramedNaive
                | Impl::FramedPeek
                | Impl::IpcChannel
                | Impl::NpipeMsg
                | Impl::NpipeTokio
        )
    }
}

impl fmt::Display for Impl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the two processes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// One-way bulk transfer in 64 KiB writes (GiB/s).
    Bulk,
    /// One-way messages of one size, one write each (messages/s, GiB/s).
    Messages,
    /// Ping-pong of one size (p50, p99, p99.9 latency).
    RoundTrip,
    /// Connect, one message and its reply, close (operations/s).
    Connect,
    /// 255 instances of one name busy at once, one thread a side
    /// (aggregate messages/s; fds and RSS per instance).
    Instances255,
    /// 1,000 async clients of one async server, each connecting, making
    /// [`SESSION_ROUND_TRIPS`](crate::SESSION_ROUND_TRIPS) round trips and
    /// closing, again and again; at most 255 connected at once (the
    /// instance limit), the others waiting (aggregate round trips/s, p99,
    /// the server's threads).
    Clients1000,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 6] = [
        Workload::Bulk,
        Workload::Messages,
        Workload::RoundTrip,
        Workload::Connect,
        Workload::Instances255,
        Workload::Clients1000,
    ];

    /// The short name used in case ids.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Bulk => "bulk",
            Workload::Messages => "msg",
            Workload::RoundTrip => "rt",
            Workload::Connect => "connect",
            Workload::Instances255 => "inst255",
            Workload::Clients1000 => "clients1000",
        }
    }

    /// The workload called `name`.
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// A title for the table.
    pub fn title(self) -> &'static str {
        match self {
            Workload::Bulk => "bulk one-way, 64 KiB writes",
            Workload::Messages => "one-way messages",
            Workload::RoundTrip => "round trip",
            Workload::Connect => "connect + one message + close",
            Workload::Instances255 => "255 instances of one name busy at once, 1 KiB messages",
            Workload::Clients1000 => {
                "1,000 clients on one async server, 64 B round trips, sessions of 32"
            }
        }
    }

    /// The payload sizes measured.
    pub fn sizes(self) -> &'static [usize] {
        match self {
            Workload::Bulk => &[64 * 1024],
            Workload::Messages => &[64, 1024, 16 * 1024, 64 * 1024],
            Workload::RoundTrip => &[64, 1024, 4096, 64 * 1024],
            Workload::Connect => &[64],
            Workload::Instances255 => &[1024],
            Workload::Clients1000 => &[64],
        }
    }

    /// The implementations that take part, in table order.
    pub fn impls(self) -> &'static [Impl] {
        use Impl::*;
        match self {
            Workload::Bulk => &[
                Pipe,
                Pipe1M,
                UnixStream,
                UnixSeqpacket,
                Interprocess,
                NpipeAnon,
                NpipeByte,
            ],
            Workload::Messages => &[
                UnixStream,
                UnixSeqpacket,
                Framed,
                FramedNaive,
                FramedPeek,
                Interprocess,
                IpcChannel,
                NpipeByte,
                NpipeMsg,
                NpipeTokio,
            ],
            Workload::RoundTrip => &[
                Pipe,
                UnixStream,
                UnixSeqpacket,
                Framed,
                FramedPeek,
                Interprocess,
                IpcChannel,
                NpipeAnon,
                NpipeByte,
                NpipeMsg,
                NpipeTokio,
            ],
            Workload::Connect => &[UnixStream, Interprocess, NpipeMsg, NpipeTokio],
            Workload::Instances255 => &[Framed, NpipeMsg, NpipeTokio],
            Workload::Clients1000 => &[Framed, NpipeTokio],
        }
    }

    /// The metric that ratios compare, and whether more is better.
    pub fn primary_metric(self) -> (&'static str, bool) {
        match self {
            Workload::Bulk => ("gib_per_s", true),
            Workload::Messages => ("msgs_per_s", true),
            Workload::RoundTrip => ("p50_us", false),
            Workload::Connect => ("ops_per_s", true),
            Workload::Instances255 => ("msgs_per_s", true),
            Workload::Clients1000 => ("msgs_per_s", true),
        }
    }

    /// What each npipe implementation is held against in this workload:
    /// its baselines first (the first one is the target's), then the peers.
    pub fn references(self, npipe: Impl) -> &'static [Impl] {
        use Impl::*;
        match (self, npipe) {
            (_, NpipeAnon) => &[Pipe],
            (Workload::Bulk, NpipeByte) => &[UnixStream, Interprocess],
            (Workload::Messages, NpipeByte) => &[UnixStream, Interprocess],
            (Workload::Messages, NpipeMsg) => &[Framed, UnixSeqpacket, IpcChannel],
            (Workload::RoundTrip, NpipeByte) => &[UnixStream, Interprocess],
            (Workload::RoundTrip, NpipeMsg) => &[UnixStream, Framed, IpcChannel],
            (Workload::Connect, NpipeMsg) => &[UnixStream, Interprocess],
            (Workload::Instances255, NpipeMsg) => &[Framed],
            (Workload::Messages, NpipeTokio) => &[Framed, NpipeMsg],
            (Workload::RoundTrip, NpipeTokio) => &[UnixStream, NpipeMsg],
            (Workload::Connect, NpipeTokio) => &[UnixStream, NpipeMsg],
            (Workload::Instances255, NpipeTokio) => &[Framed, NpipeMsg],
            (Workload::Clients1000, NpipeTokio) => &[Framed],
            _ => &[],
        }
    }
}

/// Where the two processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pinning {
    /// Both on one core: every hand-off is a context switch.
    SameCore,
    /// On two cores: every hand-off is a cross-core wake-up.
    CrossCore,
}

impl Pinning {
    /// Both pinnings, in table order.
    pub const ALL: [Pinning; 2] = [Pinning::SameCore, Pinning::CrossCore];

    /// `same` or `cross`, as in case ids.
    pub fn name(self) -> &'static str {
        match self {
            Pinning::SameCore => "same",
            Pinning::CrossCore => "cross",
        }
    }

    /// The pinning called `name`.
    pub fn from_name(name: &str) -> Option<Pinning> {
        Pinning::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One measurement: a workload at one size, pinned one way, by one
/// implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Case {
    /// What the processes do.
    pub workload: Workload,
    /// Payload bytes per write or message.
    pub size: usize,
    /// Where they run.
    pub pinning: Pinning,
    /// Who moves the bytes.
    pub implementation: Impl,
}

impl Case {
    /// `workload/size/pinning/implementation`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.workload.name(),
            self.size,
            self.pinning.name(),
            self.implementation.name()
        )
    }

    /// Why this case is not measured yet, if it is not. Every case is
    /// measured now; a case waiting on a part of npipe not written yet
    /// would say so here, and be reported as pending.
    pub fn pending_reason(&self) -> Option<&'static str> {
        None
    }
}

/// Every case of the matrix, in table order.
pub fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for workload in Workload::ALL {
        for &size in workload.sizes() {
            for pinning in Pinning::ALL {
                for &implementation in workload.impls() {
                    cases.push(Case {
                        workload,
                        size,
                        pinning,
                        implementation,
                    });
                }
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_name_their_parts() {
        let cases = all_cases();
        let mut ids: Vec<String> = cases.iter().map(Case::id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), cases.len());
        assert!(ids.contains(&"rt/64/cross/npipe-msg".to_string()));
    }

    #[test]
    fn every_reference_takes_part_in_its_workload() {
        for workload in Workload::ALL {
            for &npipe in workload.impls() {
                for reference in workload.references(npipe) {
                    assert!(
                        workload.impls().contains(reference),
                        "{workload:?} {reference}"
                    );
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for i in Impl::ALL {
            assert_eq!(Impl::from_name(i.name()), Some(i));
        }
        for w in Workload::ALL {
            assert_eq!(Workload::from_name(w.name()), Some(w));
        }
    }
}
