//! Robustness of named pipes across real processes: SIGKILL at the worst
//! moments, other users, full instance counts, and concurrent use.
//!
//! Each test has its own namespace root, passed to the helper processes
//! (`npipe-stress-peer`) through `NPIPE_ROOT`. The security tests need root:
//! they drop to other users in the helper.

mod crash;
mod scale;
mod security;
mod stress;
mod support;
