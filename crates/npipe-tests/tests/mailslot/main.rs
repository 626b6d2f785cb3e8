//! Mailslots across real processes: `npipe-mailslot-peer` children write,
//! hold and serve mailslots; the test process is usually the reader.
//!
//! - `delivery`: many writers, whole messages, exact counts, sizes, buffers
//!   and time-outs.
//! - `lifetime`: ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND, and a reader
//!   killed with SIGKILL freeing its name.
//! - `security`: another uid is refused unless allowed.
//! - `network`: readers on hosts made of network namespaces, reached by
//!   host, by domain and by `*`, with signed and unsigned datagrams.
//!
//! Every wait is bounded; every child is killed and reaped on drop.

mod delivery;
mod lifetime;
mod netns;
mod network;
mod security;
mod support;
