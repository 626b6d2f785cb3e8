//! The background runtime of the client library's remote connections: one
//! thread, `npipe-remote`, running a single-threaded tokio runtime that
//! hosts every connection's pump, made the first time a remote pipe is
//! opened. Blocking callers hand it work and wait on a channel, so the
//! blocking API works from any thread, inside another runtime or not.

use std::future::Future;
use std::sync::Mutex;

use tokio::runtime::Handle;

use crate::{Error, Result};

static RUNTIME: Mutex<Option<Handle>> = Mutex::new(None);

/// The runtime's handle, starting it on first use. Built under the lock,
/// so no second runtime is ever made (and dropped, which a caller inside
/// another runtime could not do).
pub(crate) fn handle() -> Result<Handle> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = &*slot {
        return Ok(handle.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("npipe-remote".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .map_err(Error::Io)?;
    *slot = Some(handle.clone());
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

/// Runs `work` on the runtime; the returned future, which any runtime (or
/// executor) can await, resolves with its result. Dropping it lets `work`
/// finish unobserved: what it made is dropped then.
pub(crate) async fn run_async<T: Send + 'static>(
    work: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    handle()?.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.await
        .map_err(|_| Error::Io(std::io::Error::other("the npipe-remote runtime stopped")))?
}
