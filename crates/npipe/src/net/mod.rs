//! Named pipes across the network: `\\host\pipe\NAME` through `npiped`.
//!
//! With the `remote` feature, [`ClientOptions::open`](crate::ClientOptions::open),
//! [`wait`](crate::ClientOptions::wait), [`call`](crate::ClientOptions::call)
//! and [`open_timeout`](crate::ClientOptions::open_timeout) accept a remote
//! name: they connect to `npiped` on that host over TLS 1.3 ([`RemoteOptions`]
//! says where and with which credentials), `npiped` opens the local pipe on
//! the client's behalf and relays. The handle is an ordinary
//! [`NamedPipeClient`](crate::NamedPipeClient): reads, writes, message
//! boundaries, `ERROR_MORE_DATA`, peek, transact, flush and the errors are
//! the local ones, from the same core.
//!
//! Without the feature this module holds only what a *server* needs to see
//! remote clients: [`RemoteClient`], from
//! [`NamedPipeServer::remote_client`](crate::NamedPipeServer::remote_client).
//!
//! `docs/PROTOCOL.md` specifies the wire protocol and `docs/REMOTE.md` the
//! security model, in particular why a server believes a relay's claim
//! about a remote client only from root or a uid it trusts.

#[cfg(feature = "remote")]
mod client;
#[cfg(feature = "remote")]
mod options;
#[cfg(feature = "remote")]
mod pump;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod relay;
#[cfg(feature = "remote")]
mod runtime;
#[cfg(feature = "remote")]
mod transport;
#[cfg(feature = "remote")]
mod wire;

#[cfg(feature = "remote")]
pub(crate) use client::{open, open_async, wait, wait_async, wire_wait, RemoteHandle};
#[cfg(feature = "remote")]
pub use options::{RemoteOptions, ALPN, DEFAULT_PORT};

use crate::proto::RemoteClaim;

/// A client that reached the pipe from another machine through `npiped`,
/// as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RemoteClient {
    /// Who `npiped` authenticated: the client certificate's name, the name
    /// of its pinned fingerprint, or the name of its token.
    pub principal: String,
    /// The computer name the client gave (`GetNamedPipeClientComputerName`).
    /// The client chose it; only `principal` is authenticated.
    pub computer_name: String,
    /// The client's network address as `npiped` saw it (`ip:port`).
    pub address: String,
}

impl RemoteClient {
    /// A remote client as a relay describes it.
    pub fn new(
        principal: impl Into<String>,
        computer_name: impl Into<String>,
        address: impl Into<String>,
    ) -> RemoteClient {
        RemoteClient {
            principal: principal.into(),
            computer_name: computer_name.into(),
            address: address.into(),
        }
    }

    pub(crate) fn from_claim(claim: &RemoteClaim) -> RemoteClient {
        RemoteClient {
            principal: claim.principal.clone(),
            computer_name: claim.computer_name.clone(),
            address: claim.address.clone(),
        }
    }
}

/// The uids whose processes a server believes when they connect on behalf
/// of a remote client: root, the uids in `NPIPE_RELAY_UIDS` (numbers
/// separated by commas; anything else is ignored) and `extra`.
pub(crate) fn trusted_relay_uids(extra: &[u32]) -> Vec<u32> {
    let mut uids = vec![0];
    if let Ok(list) = std::env::var("NPIPE_RELAY_UIDS") {
        uids.extend(list.split(',').filter_map(|s| s.trim().parse::<u32>().ok()));
    }
    uids.extend_from_slice(extra);
    uids.sort_unstable();
    uids.dedup();
    uids
}
