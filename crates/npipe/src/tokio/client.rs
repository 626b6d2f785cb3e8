//! The async client end: open (CreateFile), wait for a free instance
//! (WaitNamedPipe) and call (CallNamedPipe) with tokio.

use std::sync::Arc;
use std::time::Instant;

use crate::pipe::endpoint::Endpoint;
use crate::tokio::conn::AsyncConn;
use crate::tokio::io::{impl_async_pipe_io, IoSlot};
use crate::tokio::watch::watch_dir;
use crate::{
    ClientOptions, Credentials, Error, MessageRead, PipeInfo, ReadMode, Result, WaitTimeout,
};

/// The client end of a named pipe, for tokio.
///
/// The async counterpart of [`crate::NamedPipeClient`], and built on one:
/// [`open`](Self::open) is the blocking open (it never waits for a
/// server), and the I/O drives the same connection core. Dropping it closes
/// the connection.
#[derive(Debug)]
pub struct NamedPipeClient {
    inner: crate::NamedPipeClient,
    io: IoSlot,
}

impl_async_pipe_io!(NamedPipeClient);

impl NamedPipeClient {
    /// Connects to a free instance of the pipe `name` (`CreateFile`), with
    /// the blocking [`ClientOptions::open`]'s checks and errors. Does not
    /// wait for an instance ([`Error::PipeBusy`] when all are taken: see
    /// [`wait`](Self::wait) and [`open_wait`](Self::open_wait)); it makes
    /// a few quick file-system calls on the calling thread. A remote name
    /// (`\\host\pipe\NAME`, feature `remote`) makes its connection to
    /// `npiped` on the calling thread too (TCP, TLS, one round trip; at
    /// most the connect time-out): in a task, prefer
    /// [`open_wait`](Self::open_wait), which awaits it.
    #[doc(alias = "CreateFile")]
    pub fn open(options: &ClientOptions, name: impl AsRef<str>) -> Result<NamedPipeClient> {
        Ok(NamedPipeClient::from_blocking(options.open(name)?))
    }

    /// Drives a blocking client asynchronously from now on.
    pub fn from_blocking(client: crate::NamedPipeClient) -> NamedPipeClient {
        NamedPipeClient {
            inner: client,
            io: IoSlot::default(),
        }
    }

    /// Waits until an instance of the pipe `name` is free to connect to
    /// (`WaitNamedPipe`). The task sleeps until the pipe's directory
    /// changes (inotify, through the runtime's reactor; one watch per pipe
    /// for all the tasks of a runtime), never on a timer. As on Windows, a
    /// free instance is not reserved: [`open`](Self::open) can still find
    /// it taken; [`open_wait`](Self::open_wait) loops for you. For a
    /// remote name (feature `remote`), `npiped` on that host waits next to
    /// the pipe and this task awaits its answer.
    ///
    /// # Cancellation
    /// Cancel safe: it only waits.
    ///
    /// # Errors
    /// - [`Error::FileNotFound`]: no instance exists (at once, whatever the
    ///   time-out).
    /// - [`Error::Timeout`] (`ERROR_SEM_TIMEOUT`): none became free in time.
    #[doc(alias = "WaitNamedPipe")]
    pub async fn wait(
        options: &ClientOptions,
        name: impl AsRef<str>,
        timeout: impl Into<WaitTimeout>,
    ) -> Result<()> {
        #[cfg(feature = "remote")]
        if let Some(remote) = crate::pipe::client::remote_name(name.as_ref())? {
            return crate::net::wait_async(options, &remote, timeout.into()).await;
        }
        let target = options.wait_target(name.as_ref(), timeout.into())?;
        let watch = watch_dir(target.dir.as_fd())?;
        let mut mark = watch.mark();
        loop {
            mark.borrow_and_update();
            if target.instance_free()? {
                return Ok(());
            }
            target.remaining()?;
            // At the deadline, look once more, as the blocking wait does.
            match wait_until(target.deadline, watch.changed(&mut mark)).await {
                Err(Error::Timeout) => {}
                other => other?,
            }
        }
    }

    /// Opens the pipe `name`, waiting up to `timeout` for a free instance
    /// when all are busy: [`open`](Self::open) and [`wait`](Self::wait) in
    /// the loop Windows programs write. Tasks of one runtime waiting for
    /// the same pipe take turns, first come first served, so an instance
    /// that frees up makes one of them look, not all. A remote name
    /// (feature `remote`) is one request: `npiped` on that host opens the
    /// pipe, waiting for a free instance next to it, and this task awaits
    /// the answer.
    ///
    /// # Cancellation
    /// Cancel safe: dropped before it resolves, it has opened nothing (a
    /// remote open under way finishes on its own and is closed at once).
    ///
    /// # Errors
    /// As [`open`](Self::open) and [`wait`](Self::wait).
    pub async fn open_wait(
        options: &ClientOptions,
        name: impl AsRef<str>,
        timeout: impl Into<WaitTimeout>,
    ) -> Result<NamedPipeClient> {
        let name = name.as_ref();
        #[cfg(feature = "remote")]
        if let Some(remote) = crate::pipe::client::remote_name(name)? {
            // One request: npiped waits for a free instance next to the pipe.
            let wait = crate::net::wire_wait(timeout.into());
            let client = crate::net::open_async(options, &remote, wait).await?;
            return Ok(NamedPipeClient::from_blocking(client));
        }
        match options.open(name) {
            Err(Error::PipeBusy { .. }) => {}
            other => return Ok(NamedPipeClient::from_blocking(other?)),
        }
        let target = options.wait_target(name, timeout.into())?;
        let watch = watch_dir(target.dir.as_fd())?;
        let _turn = wait_until(target.deadline, async { Ok(watch.turn.lock().await) }).await?;
        let mut mark = watch.mark();
        loop {
            mark.borrow_and_update();
            match options.open(name) {
                Err(Error::PipeBusy { .. }) => {}
                other => return Ok(NamedPipeClient::from_blocking(other?)),
            }
            target.remaining()?;
            match wait_until(target.deadline, watch.changed(&mut mark)).await {
                Err(Error::Timeout) => {}
                other => other?,
            }
        }
    }

    /// Connects, sends one message, reads one reply and closes
    /// (`CallNamedPipe`), waiting up to `timeout` for a free instance.
    ///
    /// # Cancellation
    /// Dropping it closes the connection if it was made; the server sees
    /// the request whole or not at all.
    ///
    /// # Errors
    /// As [`open_wait`](Self::open_wait) and [`transact`](Self::transact).
    #[doc(alias = "CallNamedPipe")]
    pub async fn call(
        options: &ClientOptions,
        name: impl AsRef<str>,
        input: &[u8],
        output: &mut [u8],
        timeout: impl Into<WaitTimeout>,
    ) -> Result<MessageRead> {
        let mut options = options.clone();
        options.read_mode(ReadMode::Message).nowait(false);
        let client = NamedPipeClient::open_wait(&options, name, timeout).await?;
        client.transact(input, output).await
    }

    /// The server's kernel credentials, read when the connection was made.
    pub fn server_credentials(&self) -> Result<Credentials> {
        self.inner.server_credentials()
    }

    /// The server's process id (`GetNamedPipeServerProcessId`).
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        self.inner.server_process_id()
    }

    /// This process's id (`GetNamedPipeClientProcessId` on the client end).
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_process_id(&self) -> Result<u32> {
        self.inner.client_process_id()
    }

    /// The pipe's fixed properties and this handle's modes
    /// (`GetNamedPipeInfo`, `GetNamedPipeHandleState`).
    #[doc(alias = "GetNamedPipeInfo")]
    pub fn info(&self) -> Result<PipeInfo> {
        self.inner.info()
    }

    fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    fn io(&self) -> Result<Arc<AsyncConn>> {
        self.io.get(self.inner.connection()?)
    }
}

/// Runs `wait` until `deadline` (`None`: no limit);
/// [`Error::Timeout`] when the deadline comes first.
pub(crate) async fn wait_until<T>(
    deadline: Option<Instant>,
    wait: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match deadline {
        None => wait.await,
        Some(deadline) => ::tokio::time::timeout_at(deadline.into(), wait)
            .await
            .map_err(|_| Error::Timeout)?,
    }
}
