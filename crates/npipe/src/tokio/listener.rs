//! Serving many clients of one pipe name: a listener that keeps a free
//! instance listening while the others are busy.

use std::sync::Arc;

use ::tokio::sync::mpsc;

use crate::name::PipeName;
use crate::tokio::watch::watch_dir;
use crate::tokio::NamedPipeServer;
use crate::{Error, Result, ServerOptions};

/// Accepts clients of one pipe name, one connected instance each, the way
/// a `TcpListener` accepts connections.
///
/// Windows servers keep one instance listening at all times and create the
/// next one as soon as a client takes it; `PipeListener` does that for you.
/// [`accept`](Self::accept) waits for a client on the listening instance,
/// makes sure another one listens, and hands over the connected one.
///
/// An instance it handed out comes back to it when dropped: the client's
/// connection closes as with any drop, and the instance serves a later
/// client (`DisconnectNamedPipe` and `ConnectNamedPipe` again, as Windows
/// servers reuse instances), so a busy pipe does not create and remove
/// instances all the time, and never has none between two clients. New
/// instances are created within the pipe's instance limit
/// (`max_instances`, counted across every process); at the limit, clients
/// get `ERROR_PIPE_BUSY` and wait as on Windows
/// ([`NamedPipeClient::wait`](super::NamedPipeClient::wait)) until an
/// instance is back.
///
/// ```no_run
/// use npipe::{PipeMode, ServerOptions};
/// use npipe::tokio::PipeListener;
///
/// #[tokio::main]
/// async fn main() -> npipe::Result<()> {
/// let mut options = ServerOptions::new();
/// options.pipe_mode(PipeMode::Message);
/// let mut listener = PipeListener::bind(&options, r"\\.\pipe\echo")?;
/// loop {
///     let server = listener.accept().await?;
///     tokio::spawn(async move {
///         let mut buf = vec![0; 64 * 1024];
///         while let Ok(got) = server.read_message(&mut buf).await {
///             if server.write_message(&buf[..got.len()]).await.is_err() {
///                 break;
///             }
///         }
///     });
/// }
/// }
/// ```
#[derive(Debug)]
pub struct PipeListener {
    options: ServerOptions,
    name: String,
    /// The instance listening for the next client, if the limit allowed one.
    next: Option<NamedPipeServer>,
    /// Instances handed out come back here when dropped.
    home: mpsc::UnboundedSender<Arc<crate::NamedPipeServer>>,
    returned: mpsc::UnboundedReceiver<Arc<crate::NamedPipeServer>>,
}

impl PipeListener {
    /// Creates the first instance of `name` and starts listening
    /// (`CreateNamedPipe` with `options`).
    ///
    /// # Errors
    /// As [`ServerOptions::create`].
    #[doc(alias = "CreateNamedPipe")]
    pub fn bind(options: &ServerOptions, name: impl AsRef<str>) -> Result<PipeListener> {
        let name = name.as_ref().to_string();
        let (home, returned) = mpsc::unbounded_channel();
        let first = NamedPipeServer::with_home(Arc::new(options.create(&name)?), home.clone());
        Ok(PipeListener {
            options: options.clone(),
            name,
            next: Some(first),
            home,
            returned,
        })
    }

    /// The pipe's name, as given to [`bind`](Self::bind).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the next client and returns its connected instance,
    /// having made another instance listen first: one that came back, or
    /// a new one if the instance limit allows (otherwise the next `accept`
    /// waits for an instance to come back or for room to create one).
    ///
    /// # Cancellation
    /// Cancel safe. The listening instance stays in the listener; a client
    /// that connected to it meanwhile is returned by the next `accept`.
    ///
    /// # Errors
    /// As [`ServerOptions::create`] and [`NamedPipeServer::connect`].
    #[doc(alias = "ConnectNamedPipe")]
    pub async fn accept(&mut self) -> Result<NamedPipeServer> {
        if self.next.is_none() {
            let instance = ::tokio::select! {
                biased;
                Some(instance) = self.returned.recv() => instance,
                created = create_when_allowed(&self.options, &self.name) => created?,
            };
            self.next = Some(NamedPipeServer::with_home(instance, self.home.clone()));
        }
        let listening = self.next.as_ref().expect("an instance was made above");
        listening.connect().await?;
        let connected = self.next.take().expect("still there after connect");
        // Keep an instance listening while this one is busy. At the limit,
        // or on any other error, the next accept tries again (and reports).
        let instance = match self.returned.try_recv() {
            Ok(instance) => Some(instance),
            Err(_) => self.options.create(&self.name).ok().map(Arc::new),
        };
        self.next = instance.map(|i| NamedPipeServer::with_home(i, self.home.clone()));
        if let Some(next) = &self.next {
            // Listen now (an instance that came back listens again only
            // once told to), without waiting for a client.
            next.listen();
        }
        Ok(connected)
    }
}

/// Creates an instance, waiting for one of the pipe's instances to
/// close while the limit is reached.
async fn create_when_allowed(
    options: &ServerOptions,
    name: &str,
) -> Result<Arc<crate::NamedPipeServer>> {
    loop {
        let pipe = PipeName::parse(name)?;
        let dir = match options.ns().open_pipe_dir(&pipe) {
            Ok(dir) => dir,
            // No instance left anywhere: nothing to wait for.
            Err(Error::FileNotFound { .. }) => return options.create(name).map(Arc::new),
            Err(e) => return Err(e),
        };
        // Watch first, so an instance closing after the attempt wakes
        // the wait below. The directory is opened afresh each round: it
        // goes away with the pipe's last instance.
        let watch = watch_dir(dir.as_fd())?;
        let mut mark = watch.mark();
        match options.create(name) {
            Err(Error::PipeBusy { .. }) => {}
            other => return other.map(Arc::new),
        }
        watch.changed(&mut mark).await?;
    }
}
