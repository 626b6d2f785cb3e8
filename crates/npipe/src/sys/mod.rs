//! The system layer: every system call npipe makes, and nothing else.
//!
//! The rest of the crate calls npipe-shaped functions from here
//! (`sys::socket::connect_at`, `sys::fs::try_lock_shared`, ...) and never imports
//! `rustix` or `libc` itself, so a Windows backend can supply the same
//! functions later. No type from this module appears in a public signature.
//!
//! Unsafe code is allowed only in the files that say
//! `#![allow(unsafe_code)]`, each with a `# Safety` paragraph.

pub(crate) mod fs;
pub(crate) mod inotify;
pub(crate) mod pipe;
pub(crate) mod poll;
#[cfg(feature = "tokio")]
pub(crate) mod reactor;
pub(crate) mod seqpacket;
pub(crate) mod signal;
pub(crate) mod socket;
pub(crate) mod udp;
