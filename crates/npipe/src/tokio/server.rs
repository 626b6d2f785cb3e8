//! The async server end: one named pipe instance (CreateNamedPipe,
//! ConnectNamedPipe, DisconnectNamedPipe) driven by tokio.

use std::sync::Arc;

use ::tokio::io::Interest;
use ::tokio::sync::mpsc;

use crate::pipe::endpoint::Endpoint;
use crate::pipe::{to_credentials, Connecting};
use crate::tokio::conn::{register_with, AsyncConn};
use crate::tokio::io::{impl_async_pipe_io, IoSlot};
use crate::{Credentials, Error, PipeInfo, Result, ServerOptions};

/// One instance of a named pipe, server side, for tokio.
///
/// The async counterpart of [`crate::NamedPipeServer`], and built on one:
/// the same instance in the namespace, the same checks of each client, the
/// same connection core. Created listening; [`connect`](Self::connect)
/// waits for a client, [`disconnect`](Self::disconnect) ends the
/// connection, and `connect` again serves the next client. Dropping it
/// closes the instance.
///
/// To serve many clients of one name, use a
/// [`PipeListener`](super::PipeListener), which keeps an instance listening
/// while the others are busy.
///
/// ```
/// use npipe::{ClientOptions, PipeMode, ServerOptions};
/// use npipe::tokio::{NamedPipeClient, NamedPipeServer};
/// # let root = npipe::doc_support::TempRoot::new()?;
/// # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// # rt.block_on(async {
/// let name = r"\\.\pipe\doc-async-server";
/// let server = NamedPipeServer::create(
///     ServerOptions::new().root(root.path()).pipe_mode(PipeMode::Message),
///     name,
/// )?;
/// let client = NamedPipeClient::open(ClientOptions::new().root(root.path()), name)?;
/// server.connect().await?;
/// client.write_message(b"hello").await?;
/// let mut buf = [0; 16];
/// let got = server.read_message(&mut buf).await?;
/// assert_eq!(&buf[..got.len()], b"hello");
/// # Ok::<(), npipe::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NamedPipeServer {
    inner: Arc<crate::NamedPipeServer>,
    io: IoSlot,
    /// The listener this instance goes back to when dropped, to serve its
    /// next client; `None` for an instance made with `create`.
    home: Option<mpsc::UnboundedSender<Arc<crate::NamedPipeServer>>>,
}

/// An instance a [`PipeListener`](super::PipeListener) handed out goes
/// back to it: the connection closes as with any drop (the client sees
/// `ERROR_BROKEN_PIPE` once it has read everything), and the instance
/// listens again for the listener's next client.
impl Drop for NamedPipeServer {
    fn drop(&mut self) {
        let Some(home) = self.home.take() else {
            return;
        };
        self.io.clear();
        if self.inner.close_connection().is_ok() {
            // If the listener is gone, the instance closes here.
            let _ = home.send(Arc::clone(&self.inner));
        }
    }
}

impl_async_pipe_io!(NamedPipeServer);

impl NamedPipeServer {
    /// Creates an instance of the named pipe `name` and starts listening
    /// (`CreateNamedPipe`), with the blocking [`ServerOptions::create`]'s
    /// options, checks and errors. Does not wait, and needs no runtime
    /// until the first I/O.
    #[doc(alias = "CreateNamedPipe")]
    pub fn create(options: &ServerOptions, name: impl AsRef<str>) -> Result<NamedPipeServer> {
        Ok(NamedPipeServer::from_blocking(options.create(name)?))
    }

    /// Drives a blocking instance asynchronously from now on.
    pub fn from_blocking(server: crate::NamedPipeServer) -> NamedPipeServer {
        NamedPipeServer {
            inner: Arc::new(server),
            io: IoSlot::default(),
            home: None,
        }
    }

    /// An instance of a listener, which gets it back when it is dropped.
    pub(crate) fn with_home(
        inner: Arc<crate::NamedPipeServer>,
        home: mpsc::UnboundedSender<Arc<crate::NamedPipeServer>>,
    ) -> NamedPipeServer {
        NamedPipeServer {
            inner,
            io: IoSlot::default(),
            home: Some(home),
        }
    }

    /// Waits for a client to connect (`ConnectNamedPipe`). Resolves at once
    /// if one connected since the instance began listening (Windows'
    /// `ERROR_PIPE_CONNECTED`, folded into `Ok`). After a
    /// [`disconnect`](Self::disconnect), listens again first. Waits on the
    /// listening socket's readiness, not a timer.
    ///
    /// # Cancellation
    /// Cancel safe. A client that arrives while the future waits is not
    /// lost: the instance keeps it, and the next `connect` (or read or
    /// write) takes it.
    ///
    /// # Errors
    /// - [`Error::PipeListening`]: non-blocking mode and no client yet.
    #[doc(alias = "ConnectNamedPipe")]
    pub async fn connect(&self) -> Result<()> {
        loop {
            let (fd, until) = match self.inner.try_connect()? {
                Connecting::Connected => return Ok(()),
                Connecting::Wait { fd, until } => (fd, until),
            };
            if self.inner.endpoint.nowait() {
                return Err(Error::PipeListening);
            }
            let fd = register_with(fd, Interest::READABLE)?;
            match until {
                None => drop(fd.readable().await?),
                // A client whose hello is under way: wait for it, but not
                // past the time it is given.
                Some(until) => {
                    let _ = ::tokio::time::timeout_at(until.into(), fd.readable()).await;
                }
            }
        }
    }

    /// Listens again after a disconnect, without waiting for a client
    /// (the first step of [`connect`](Self::connect)).
    pub(crate) fn listen(&self) {
        let _ = self.inner.try_connect();
    }

    /// Ends the connection with the current client
    /// (`DisconnectNamedPipe`), as the blocking
    /// [`disconnect`](crate::NamedPipeServer::disconnect): unread data is
    /// discarded and the client's next operation fails with
    /// [`Error::PipeNotConnected`]. [`flush`](Self::flush) first to be sure
    /// the client has read everything. Does not wait.
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        self.io.clear();
        self.inner.disconnect()
    }

    /// Whether a client is connected now (taking one that is waiting).
    pub fn is_connected(&self) -> bool {
        self.inner.try_current().is_ok()
    }

    /// The connected client's kernel credentials (`SO_PEERCRED`), the
    /// Linux counterpart of `ImpersonateNamedPipeClient`.
    #[doc(alias = "ImpersonateNamedPipeClient")]
    pub fn client_credentials(&self) -> Result<Credentials> {
        Ok(to_credentials(self.inner.try_current()?.peer()))
    }

    /// Who the connected client is when it came from another machine
    /// through `npiped` (principal, computer name, address); `None` for a
    /// local client. As the blocking
    /// [`remote_client`](crate::NamedPipeServer::remote_client).
    ///
    /// # Errors
    /// [`Error::PipeListening`](crate::Error::PipeListening) or
    /// [`Error::PipeNotConnected`](crate::Error::PipeNotConnected) without
    /// a client.
    pub fn remote_client(&self) -> Result<Option<crate::net::RemoteClient>> {
        self.inner.try_current()?;
        Ok(self.inner.connected_remote_client())
    }

    /// The remote client's computer name (`GetNamedPipeClientComputerName`);
    /// `None` for a local client.
    #[doc(alias = "GetNamedPipeClientComputerName")]
    pub fn client_computer_name(&self) -> Result<Option<String>> {
        Ok(self.remote_client()?.map(|c| c.computer_name))
    }

    /// The principal `npiped` authenticated for a remote client; `None` for
    /// a local client.
    pub fn remote_principal(&self) -> Result<Option<String>> {
        Ok(self.remote_client()?.map(|c| c.principal))
    }

    /// The connected client's process id (`GetNamedPipeClientProcessId`).
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_process_id(&self) -> Result<u32> {
        Ok(self.client_credentials()?.pid)
    }

    /// This process's id (`GetNamedPipeServerProcessId` on the server end).
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        Ok(std::process::id())
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

    /// The current connection, taking a waiting client without blocking.
    fn io(&self) -> Result<Arc<AsyncConn>> {
        self.io.get(self.inner.try_current()?)
    }
}
