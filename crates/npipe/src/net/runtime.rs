//! The background runtime of the client library's remote connections: one
//! thread, `npipe-remote`, running a single-threaded tokio runtime that
//! hosts every connection's pump, made the first time a remote pipe is
//! opened. Blocking callers hand it work and wait on a channel, so the
//! blocking API works from any thread, inside another runtime or not.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Handle;

use crate::{Error, Result};

static RUNTIME: OnceLock<Handle> = OnceLock::new();

/// The runtime's handle, starting it on first use.
pub(crate) fn handle() -> Result<Handle> {
    if let Some(handle) = RUNTIME.get() {
        return Ok(handle.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    if RUNTIME.set(handle.clone()).is_err() {
        // Another thread was quicker; use its runtime.
        return Ok(RUNTIME.get().expect("set by the other thread").clone());
    }
    std::thread::Builder::new()
        .name("npipe-remote".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(Error::Io)?;
    Ok(handle)
}

/// Runs `work` on the runtime and waits for its result.
pub(crate) fn run<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    handle()?.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv()
        .map_err(|_| Error::Io(std::io::Error::other("the npipe-remote runtime stopped")))?
}
