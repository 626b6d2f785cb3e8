//! Registering descriptors with tokio's reactor (its `epoll`), for the
//! async front end.
//!
//! # Safety
//!
//! tokio's [`AsyncFd::register_with_interest`] is `unsafe`: the descriptor
//! must stay open, and be the same one, for as long as it is registered.
//! [`StableFd`] says a type keeps that promise; it is implemented here, and
//! only here (the crate denies unsafe code elsewhere), for types that own
//! one descriptor for their whole life and always return it from
//! `as_raw_fd`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::inotify::DirWatch;

/// A type whose `as_raw_fd` is one open descriptor for its whole life.
///
/// # Safety
/// Implementors must own the descriptor (it stays open until they are
/// dropped) and return the same one from every `as_raw_fd` call.
pub(crate) unsafe trait StableFd: AsRawFd {}

// SAFETY: an `OwnedFd` owns its descriptor until dropped and never changes it.
unsafe impl StableFd for OwnedFd {}

// SAFETY: a `DirWatch` owns its inotify descriptor (a private `OwnedFd`
// that is never replaced) for its whole life.
unsafe impl StableFd for DirWatch {}

/// `epoll_ctl(EPOLL_CTL_ADD)` on the current tokio runtime's reactor,
/// edge-triggered, for `interest`: tokio's [`AsyncFd`]. Returns an error
/// rather than panicking outside a runtime.
///
/// # References
/// - [epoll(7)](https://man7.org/linux/man-pages/man7/epoll.7.html)
pub(crate) fn register<T: StableFd>(fd: T, interest: Interest) -> io::Result<AsyncFd<T>> {
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other(
            "npipe::tokio needs a tokio runtime (with I/O and time enabled)",
        ));
    }
    // SAFETY: `T: StableFd`: the descriptor stays open and the same while
    // the `AsyncFd` owns `fd`.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}
