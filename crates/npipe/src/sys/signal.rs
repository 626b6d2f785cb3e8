//! Keeping `SIGPIPE` away from writes to pipes.
//!
//! Writing to a pipe whose readers are all gone makes the kernel send
//! `SIGPIPE` to the writing thread, and the default action of `SIGPIPE` ends
//! the process. Rust programs ignore `SIGPIPE` from start-up, so there the
//! write just fails with `EPIPE`; a C or C++ host using npipe may not. npipe
//! promises `ERROR_BROKEN_PIPE` rather than death, whatever the host did, so
//! every pipe write goes through [`without_sigpipe`]:
//!
//! - **Fast path.** When `SIGPIPE` is known to be ignored (`SIG_IGN`), the
//!   write is one plain `write(2)`: the disposition is cached in an atomic and
//!   no signal call is made.
//! - **Slow path.** Otherwise `SIGPIPE` is blocked in the calling thread with
//!   `pthread_sigmask(2)`, the write runs, and if it failed with `EPIPE` and
//!   no `SIGPIPE` was pending before, the one the write raised is taken off
//!   the thread's pending set with a zero-timeout `sigtimedwait(2)`; then the
//!   old mask comes back. A `SIGPIPE` the host had pending already is left
//!   alone. A host handler for `SIGPIPE` is not run for npipe's own writes.
//!
//! The cache is refreshed with `sigaction(2)` whenever a pipe end for writing
//! is made ([`note_sigpipe_disposition`]) and on every slow-path write. A host
//! that switches `SIGPIPE` from `SIG_IGN` back to `SIG_DFL` after making its
//! pipe writers must make one more writer (or clone one) afterwards, so npipe
//! sees the change.
//!
//! # Safety
//!
//! rustix has no stable wrapper for the signal-mask calls, so this file calls
//! libc directly. Every call gets pointers to local `sigset_t`, `sigaction`
//! and `timespec` values that outlive the call; `sigset_t`s are initialised
//! with `sigemptyset` before use, and out-parameters are only read after the
//! call reported success. The thread's signal mask is restored before
//! [`without_sigpipe`] returns.
#![allow(unsafe_code)]

use std::io;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether `SIGPIPE` was `SIG_IGN` when last looked at.
static SIGPIPE_IGNORED: AtomicBool = AtomicBool::new(false);

/// Runs `write`, a write to a pipe, so that it cannot raise `SIGPIPE`: a
/// write with no reader left returns `EPIPE` and the process lives on.
///
/// See the module docs for the fast path (`SIGPIPE` ignored: `write` runs as
/// it is) and the slow path (`pthread_sigmask`, `write`, `sigtimedwait`,
/// `pthread_sigmask`).
pub(crate) fn without_sigpipe<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if SIGPIPE_IGNORED.load(Ordering::Relaxed) || note_sigpipe_disposition() {
        return write();
    }
    with_sigpipe_blocked(write)
}

/// `sigaction(SIGPIPE, NULL, &old)`: looks up whether `SIGPIPE` is ignored,
/// remembers the answer for [`without_sigpipe`] and returns it.
///
/// # References
///  - [Linux `sigaction(2)`]
///
/// [Linux `sigaction(2)`]: https://man7.org/linux/man-pages/man2/sigaction.2.html
pub(crate) fn note_sigpipe_disposition() -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null `act` only queries; `old` is a valid, writable
    // `sigaction` that lives across the call.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, ptr::null(), old.as_mut_ptr()) };
    // SAFETY: `old` was zero-initialised, and filled in when `rc == 0`.
    let ignored = rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN;
    SIGPIPE_IGNORED.store(ignored, Ordering::Relaxed);
    ignored
}

/// The slow path of [`without_sigpipe`]: `pthread_sigmask(SIG_BLOCK,
/// {SIGPIPE})`, `sigpending`, the write, `sigtimedwait({SIGPIPE}, 0)` after
/// an `EPIPE`, `pthread_sigmask(SIG_SETMASK, old)`.
///
/// # References
///  - [Linux `pthread_sigmask(3)`]
///  - [Linux `sigpending(2)`]
///  - [Linux `sigtimedwait(2)`]
///  - [Linux `pipe(7)`, "I/O on pipes and FIFOs"]
///
/// [Linux `pthread_sigmask(3)`]: https://man7.org/linux/man-pages/man3/pthread_sigmask.3.html
/// [Linux `sigpending(2)`]: https://man7.org/linux/man-pages/man2/sigpending.2.html
/// [Linux `sigtimedwait(2)`]: https://man7.org/linux/man-pages/man2/sigtimedwait.2.html
/// [Linux `pipe(7)`, "I/O on pipes and FIFOs"]: https://man7.org/linux/man-pages/man7/pipe.7.html
fn with_sigpipe_blocked<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let sigpipe = SigSet::of(libc::SIGPIPE);
    let old_mask = sigpipe.block()?;
    let was_pending = SigSet::pending().contains(libc::SIGPIPE);
    let result = write();
    if !was_pending && matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE)) {
        sigpipe.take_pending();
    }
    old_mask.set_mask();
    result
}

/// A `sigset_t`, always initialised.
struct SigSet(libc::sigset_t);

impl SigSet {
    /// `sigemptyset`: the empty set.
    fn empty() -> SigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is writable storage for a `sigset_t`; `sigemptyset`
        // initialises it and cannot fail for a valid pointer.
        unsafe { libc::sigemptyset(set.as_mut_ptr()) };
        // SAFETY: initialised by `sigemptyset` just above.
        SigSet(unsafe { set.assume_init() })
    }

    /// `sigemptyset` then `sigaddset(signal)`.
    fn of(signal: libc::c_int) -> SigSet {
        let mut set = SigSet::empty();
        // SAFETY: `set.0` is an initialised `sigset_t`; callers pass real
        // signal numbers, so this cannot fail.
        unsafe { libc::sigaddset(&mut set.0, signal) };
        set
    }

    /// `sigpending(&set)`: the signals pending for this thread or process.
    /// An empty set if the call fails (it cannot for a valid pointer).
    fn pending() -> SigSet {
        let mut set = SigSet::empty();
        // SAFETY: `set.0` is an initialised, writable `sigset_t`.
        if unsafe { libc::sigpending(&mut set.0) } != 0 {
            return SigSet::empty();
        }
        set
    }

    /// `sigismember(set, signal)`.
    fn contains(&self, signal: libc::c_int) -> bool {
        // SAFETY: `self.0` is an initialised `sigset_t`.
        unsafe { libc::sigismember(&self.0, signal) == 1 }
    }

    /// `pthread_sigmask(SIG_BLOCK, set, &old)`: blocks the signals in `self`
    /// in the calling thread; returns the mask to restore.
    fn block(&self) -> io::Result<SigSet> {
        let mut old = SigSet::empty();
        // SAFETY: both sets are initialised `sigset_t`s living across the call.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &self.0, &mut old.0) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(old)
    }

    /// `pthread_sigmask(SIG_SETMASK, set, NULL)`: makes `self` the calling
    /// thread's mask again.
    fn set_mask(&self) {
        // SAFETY: `self.0` is an initialised `sigset_t`; a null `oldset` is
        // allowed. `SIG_SETMASK` with a valid set cannot fail.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, ptr::null_mut()) };
    }

    /// `sigtimedwait(set, NULL, {0, 0})`: takes one pending signal of `self`
    /// off the pending set without waiting, if there is one.
    fn take_pending(&self) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: `self.0` and `zero` are initialised and outlive the
            // call; a null `info` is allowed.
            let rc = unsafe { libc::sigtimedwait(&self.0, ptr::null_mut(), &zero) };
            if rc >= 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::pipe;

    /// The thread's current signal mask.
    fn current_mask() -> SigSet {
        let mut set = SigSet::empty();
        // SAFETY: a null `set` only queries; `set.0` is writable.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut set.0) };
        assert_eq!(rc, 0);
        set
    }

    /// Rust test binaries ignore SIGPIPE, so this only checks the slow
    /// path's bookkeeping: the error comes through and the mask is restored.
    /// The slow path with `SIG_DFL` runs in `npipe-anon-child`.
    #[test]
    fn slow_path_returns_epipe_and_restores_the_mask() {
        assert!(!current_mask().contains(libc::SIGPIPE));
        let (r, w) = pipe::create().unwrap();
        drop(r);
        let err = with_sigpipe_blocked(|| Ok(rustix::io::write(&w, b"x")?)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
        assert!(!current_mask().contains(libc::SIGPIPE));
        assert!(!SigSet::pending().contains(libc::SIGPIPE));
    }

    #[test]
    fn slow_path_passes_data_through() {
        let (r, w) = pipe::create().unwrap();
        assert_eq!(with_sigpipe_blocked(|| pipe::write(&w, b"abc")).unwrap(), 3);
        let mut buf = [0; 3];
        assert_eq!(pipe::read(&r, &mut buf).unwrap(), 3);
        assert_eq!(&buf, b"abc");
    }

    #[test]
    fn rust_test_binaries_ignore_sigpipe() {
        assert!(note_sigpipe_disposition());
    }
}
