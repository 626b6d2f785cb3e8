//! Waiting for a pipe's directory to change, shared by every task of a
//! runtime that waits on the same pipe.
//!
//! A process may have only a few inotify instances (128 by default), and
//! a server with hundreds of waiting clients must not need one each. So
//! the watches live in a process-wide table keyed by runtime and
//! directory: the first waiter makes one, the last one to leave closes
//! it. Any waiter that finds the inotify descriptor readable drains it and
//! bumps a counter in a `tokio::sync::watch` channel, which wakes all the
//! others; each waiter marks the counter before it looks at the directory,
//! so no change between its look and its wait is missed.
//!
//! `turn` lets tasks that want to *open* the pipe take turns, so a freed
//! instance makes one task look at the directory, not hundreds.

use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, Weak};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::sync::watch;

use crate::pipe::conn::lock;
use crate::sys::fs;
use crate::sys::inotify::DirWatch;
use crate::tokio::conn::register_with;
use crate::Result;

/// A directory watch shared by the waiters of one runtime.
#[derive(Debug)]
pub(crate) struct SharedWatch {
    fd: AsyncFd<DirWatch>,
    changes: watch::Sender<u64>,
    /// Held by the one task at a time that tries to open the pipe.
    pub turn: ::tokio::sync::Mutex<()>,
}

/// Runtime id, device and inode of a watched directory.
type Key = (::tokio::runtime::Id, u64, u64);

static WATCHES: Mutex<Vec<(Key, Weak<SharedWatch>)>> = Mutex::new(Vec::new());

/// The watch of the directory open as `dir`, made if this runtime has none.
pub(crate) fn watch_dir(dir: BorrowedFd<'_>) -> Result<Arc<SharedWatch>> {
    let info = fs::stat_fd(dir)?;
    let runtime = ::tokio::runtime::Handle::try_current()
        .map_err(|_| std::io::Error::other("npipe::tokio needs a tokio runtime"))?
        .id();
    let key = (runtime, info.dev, info.ino);
    let mut watches = lock(&WATCHES);
    watches.retain(|(_, w)| w.strong_count() > 0);
    if let Some(shared) = watches
        .iter()
        .find(|(k, _)| *k == key)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(shared);
    }
    let shared = Arc::new(SharedWatch {
        fd: register_with(DirWatch::new(dir)?, Interest::READABLE)?,
        changes: watch::Sender::new(0),
        turn: ::tokio::sync::Mutex::new(()),
    });
    watches.push((key, Arc::downgrade(&shared)));
    Ok(shared)
}

/// A waiter's view of the changes: take it, then look, then wait on it.
pub(crate) type Mark = watch::Receiver<u64>;

impl SharedWatch {
    /// A new mark; call [`Mark::borrow_and_update`] before each look.
    pub fn mark(&self) -> Mark {
        self.changes.subscribe()
    }

    /// Waits for a change of the directory's instances after `mark` was
    /// last updated.
    ///
    /// Cancel safe: it only waits; events it drained were counted first.
    pub async fn changed(&self, mark: &mut Mark) -> Result<()> {
        loop {
            ::tokio::select! {
                // The sender lives in `self`, so this never fails.
                _ = mark.changed() => return Ok(()),
                guard = self.fd.readable() => {
                    let mut guard = guard?;
                    let relevant = guard.get_inner().drain()?;
                    guard.clear_ready();
                    if relevant {
                        self.changes.send_modify(|n| *n = n.wrapping_add(1));
                        // This task saw the change itself.
                        mark.borrow_and_update();
                        return Ok(());
                    }
                }
            }
        }
    }
}
