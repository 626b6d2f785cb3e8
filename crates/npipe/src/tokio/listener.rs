//! Serving many clients of one pipe name: a listener that keeps a free
//! instance listening while the others are busy.

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
/// creates the next instance, and hands over the connected one. When the
/// pipe's instance limit (`max_instances`, counted across every process)
/// is reached, the next instance is created as soon as one is closed; the
/// clients meanwhile get `ERROR_PIPE_BUSY` and wait as on Windows
/// ([`NamedPipeClient::wait`](super::NamedPipeClient::wait)).
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
        let first = NamedPipeServer::create(options, &name)?;
        Ok(PipeListener {
            options: options.clone(),
            name,
            next: Some(first),
        })
    }

    /// The pipe's name, as given to [`bind`](Self::bind).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits for the next client and returns its connected instance,
    /// having created the next listening instance first (if the instance
    /// limit allows; otherwise it is created by the next `accept` as soon
    /// as an instance closes).
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
            self.next = Some(self.create_when_allowed().await?);
        }
        let listening = self.next.as_ref().expect("an instance was made above");
        listening.connect().await?;
        let connected = self.next.take().expect("still there after connect");
        // Keep an instance listening while this one is busy. At the limit,
        // or on any other error, the next accept tries again (and reports).
        self.next = NamedPipeServer::create(&self.options, &self.name).ok();
        Ok(connected)
    }

    /// Creates an instance, waiting for one of the pipe's instances to
    /// close while the limit is reached.
    async fn create_when_allowed(&self) -> Result<NamedPipeServer> {
        loop {
            let pipe = PipeName::parse(&self.name)?;
            let dir = match self.options.ns().open_pipe_dir(&pipe) {
                Ok(dir) => dir,
                // No instance left anywhere: nothing to wait for.
                Err(Error::FileNotFound { .. }) => {
                    return NamedPipeServer::create(&self.options, &self.name)
                }
                Err(e) => return Err(e),
            };
            // Watch first, so an instance closing after the attempt wakes
            // the wait below. The directory is opened afresh each round: it
            // goes away with the pipe's last instance.
            let watch = watch_dir(dir.as_fd())?;
            let mut mark = watch.mark();
            match NamedPipeServer::create(&self.options, &self.name) {
                Err(Error::PipeBusy { .. }) => {}
                other => return other,
            }
            watch.changed(&mut mark).await?;
        }
    }
}
