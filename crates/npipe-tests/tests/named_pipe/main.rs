//! Named pipes across real processes: one module per topic, one
//! `npipe-test-peer` process (or more) per test.
//!
//! Every test has its own namespace root and pipe name ([`TestRoot`]), so
//! tests run in parallel. Every wait is bounded ([`npipe_tests::LIMIT`]),
//! and no test asserts on speed: "still blocked" checks wait for something
//! that only a wrong library would do.
//!
//! Peers are scripted on their command line; see the doc at the top of
//! `src/bin/npipe-test-peer.rs` for the actions and the lines they print.

mod access;
mod buffers;
mod concurrency;
mod flush;
mod info;
mod instances;
mod lifecycle;
mod modes;
mod nowait;
mod peek;
mod transact;
mod wait;

use npipe_tests::{Peer, TestRoot};

/// Starts `npipe-test-peer` with `script`, in the namespace of `root`.
fn peer(root: &TestRoot, script: &[&str]) -> Peer {
    Peer::spawn(env!("CARGO_BIN_EXE_npipe-test-peer"), root, script)
}
