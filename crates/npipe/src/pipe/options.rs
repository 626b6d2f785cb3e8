//! The builders: [`ServerOptions`] (CreateNamedPipe) and [`ClientOptions`]
//! (CreateFile on a pipe name, WaitNamedPipe, CallNamedPipe).

use std::path::PathBuf;
use std::time::Duration;

use crate::namespace::{AllowList, Namespace};
use crate::pipe::{Access, PipeMode, ReadMode, DEFAULT_TIMEOUT, PIPE_UNLIMITED_INSTANCES};

/// Creates named pipe instances: one method per option of
/// [`CreateNamedPipe`], every default set in [`ServerOptions::new`].
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::{PipeMode, ServerOptions};
/// let server = ServerOptions::new()
///     .root(root.path())
///     .pipe_mode(PipeMode::Message)
///     .max_instances(4)
///     .create(r"\\.\pipe\doc-server-options")?;
/// assert_eq!(server.info()?.max_instances, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`CreateNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-createnamedpipea
#[derive(Debug, Clone)]
pub struct ServerOptions {
    // dwOpenMode
    pub(crate) access_inbound: bool,
    pub(crate) access_outbound: bool,
    pub(crate) first_pipe_instance: bool,
    // dwPipeMode
    pub(crate) pipe_mode: PipeMode,
    pub(crate) read_mode: Option<ReadMode>,
    pub(crate) nowait: bool,
    pub(crate) reject_remote_clients: bool,
    // nMaxInstances, nOutBufferSize, nInBufferSize, nDefaultTimeOut
    pub(crate) max_instances: u32,
    pub(crate) out_buffer_size: u32,
    pub(crate) in_buffer_size: u32,
    pub(crate) default_timeout: Duration,
    // lpSecurityAttributes
    pub(crate) allow: AllowList,
    pub(crate) remote_principals: Vec<String>,
    pub(crate) relay_uids: Vec<u32>,
    // where the name lives
    pub(crate) namespace: Option<Namespace>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions::new()
    }
}

impl ServerOptions {
    /// Options for a duplex byte-type pipe in blocking mode, unlimited
    /// instances, system buffer sizes, a 50 ms default time-out, remote
    /// clients rejected, and only the owner's uid (and root) allowed in.
    pub fn new() -> ServerOptions {
        ServerOptions {
            access_inbound: true,
            access_outbound: true,
            first_pipe_instance: false,
            pipe_mode: PipeMode::Byte,
            read_mode: None,
            nowait: false,
            reject_remote_clients: true,
            max_instances: PIPE_UNLIMITED_INSTANCES,
            out_buffer_size: 0,
            in_buffer_size: 0,
            default_timeout: DEFAULT_TIMEOUT,
            allow: AllowList::default(),
            remote_principals: Vec::new(),
            relay_uids: Vec::new(),
            namespace: None,
        }
    }

    /// Whether the server reads what clients write. Turning this off (with
    /// outbound on) makes an outbound pipe ([`PIPE_ACCESS_OUTBOUND`]).
    /// Default: on.
    ///
    /// # Errors
    /// [`create`](Self::create) gives [`Error::InvalidParameter`] if both
    /// directions are off, and [`Error::AccessDenied`] if an instance of the
    /// name already exists with other access.
    ///
    /// [`PIPE_ACCESS_OUTBOUND`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-createnamedpipea
    /// [`Error::InvalidParameter`]: crate::Error::InvalidParameter
    /// [`Error::AccessDenied`]: crate::Error::AccessDenied
    #[doc(alias = "PIPE_ACCESS_INBOUND")]
    pub fn access_inbound(&mut self, allowed: bool) -> &mut Self {
        self.access_inbound = allowed;
        self
    }

    /// Whether the server writes to clients. Turning this off (with inbound
    /// on) makes an inbound pipe (`PIPE_ACCESS_INBOUND`). Default: on.
    #[doc(alias = "PIPE_ACCESS_OUTBOUND")]
    pub fn access_outbound(&mut self, allowed: bool) -> &mut Self {
        self.access_outbound = allowed;
        self
    }

    /// Fails creation if any instance of this name exists already
    /// (`FILE_FLAG_FIRST_PIPE_INSTANCE`), so a server knows it owns the name.
    /// Default: off.
    ///
    /// # Errors
    /// [`Error::AccessDenied`](crate::Error::AccessDenied) if an instance
    /// exists.
    #[doc(alias = "FILE_FLAG_FIRST_PIPE_INSTANCE")]
    pub fn first_pipe_instance(&mut self, first: bool) -> &mut Self {
        self.first_pipe_instance = first;
        self
    }

    /// Byte or message type (`PIPE_TYPE_BYTE` / `PIPE_TYPE_MESSAGE`). Also
    /// sets the read mode to match unless [`read_mode`](Self::read_mode) is
    /// called. Default: byte.
    #[doc(alias = "PIPE_TYPE_MESSAGE")]
    #[doc(alias = "PIPE_TYPE_BYTE")]
    pub fn pipe_mode(&mut self, mode: PipeMode) -> &mut Self {
        self.pipe_mode = mode;
        self
    }

    /// How the server's handle reads (`PIPE_READMODE_BYTE` /
    /// `PIPE_READMODE_MESSAGE`). Default: the pipe's type.
    ///
    /// # Errors
    /// [`create`](Self::create) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for
    /// message read mode on a byte-type pipe.
    #[doc(alias = "PIPE_READMODE_MESSAGE")]
    #[doc(alias = "PIPE_READMODE_BYTE")]
    pub fn read_mode(&mut self, mode: ReadMode) -> &mut Self {
        self.read_mode = Some(mode);
        self
    }

    /// Non-blocking mode (`PIPE_NOWAIT`): `connect` returns
    /// [`Error::PipeListening`](crate::Error::PipeListening) instead of
    /// waiting, reads return
    /// [`Error::WouldBlock`](crate::Error::WouldBlock) when nothing is
    /// waiting, and byte writes write what fits. Default: off
    /// (`PIPE_WAIT`).
    #[doc(alias = "PIPE_NOWAIT")]
    #[doc(alias = "PIPE_WAIT")]
    pub fn nowait(&mut self, nowait: bool) -> &mut Self {
        self.nowait = nowait;
        self
    }

    /// Refuses clients that come through `npiped` from another machine
    /// (`PIPE_REJECT_REMOTE_CLIENTS`; off is `PIPE_ACCEPT_REMOTE_CLIENTS`).
    /// Default: on; remote clients must be allowed explicitly. The first
    /// instance fixes it for all. Turning it off also lets the trusted
    /// relay users (see [`trust_relay_uid`](Self::trust_relay_uid)) reach
    /// the pipe's socket.
    ///
    /// # Errors
    /// A remote client's open fails with
    /// [`Error::AccessDenied`](crate::Error::AccessDenied)
    /// (`ERROR_ACCESS_DENIED`).
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let _server = npipe::ServerOptions::new()
    ///     .root(root.path())
    ///     .reject_remote_clients(false)
    ///     .create(r"\\.\pipe\doc-reject-remote")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "PIPE_REJECT_REMOTE_CLIENTS")]
    #[doc(alias = "PIPE_ACCEPT_REMOTE_CLIENTS")]
    pub fn reject_remote_clients(&mut self, reject: bool) -> &mut Self {
        self.reject_remote_clients = reject;
        self
    }

    /// The most instances of this name that may exist at once, in every
    /// process: 1 to 254, or 255 (`nMaxInstances`,
    /// [`PIPE_UNLIMITED_INSTANCES`](crate::PIPE_UNLIMITED_INSTANCES)), which
    /// on Windows means "as many as resources allow" and in npipe means 255
    /// instances. The first instance fixes it for all. Default: 255.
    ///
    /// # Errors
    /// [`create`](Self::create) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for 0 or
    /// more than 255, [`Error::PipeBusy`](crate::Error::PipeBusy) once the
    /// limit is reached, and
    /// [`Error::AccessDenied`](crate::Error::AccessDenied) if the first
    /// instance set another limit.
    #[doc(alias = "nMaxInstances")]
    #[doc(alias = "PIPE_UNLIMITED_INSTANCES")]
    pub fn max_instances(&mut self, instances: u32) -> &mut Self {
        self.max_instances = instances;
        self
    }

    /// Bytes the server can write before it blocks (`nOutBufferSize`),
    /// applied as the socket's send buffer within the kernel's limits; 0
    /// keeps the system default. Default: 0.
    #[doc(alias = "nOutBufferSize")]
    pub fn out_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.out_buffer_size = bytes;
        self
    }

    /// Bytes clients can write before they block (`nInBufferSize`), applied
    /// as each client socket's send buffer; 0 keeps the system default.
    /// Default: 0.
    #[doc(alias = "nInBufferSize")]
    pub fn in_buffer_size(&mut self, bytes: u32) -> &mut Self {
        self.in_buffer_size = bytes;
        self
    }

    /// How long [`ClientOptions::wait`] waits with
    /// [`WaitTimeout::Default`](crate::WaitTimeout::Default)
    /// (`nDefaultTimeOut`); zero means 50 ms, as on Windows. Default: 50 ms.
    #[doc(alias = "nDefaultTimeOut")]
    pub fn default_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.default_timeout = if timeout.is_zero() {
            DEFAULT_TIMEOUT
        } else {
            timeout
        };
        self
    }

    /// Also lets processes running as `uid` connect. The owner and root may
    /// always connect. Enforced by file permissions (a POSIX ACL) and by the
    /// server against the peer's kernel credentials.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let _server = npipe::ServerOptions::new()
    ///     .root(root.path())
    ///     .allow_uid(1000)
    ///     .create(r"\\.\pipe\doc-allow-uid")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "lpSecurityAttributes")]
    pub fn allow_uid(&mut self, uid: u32) -> &mut Self {
        self.allow.uids.push(uid);
        self
    }

    /// Also lets processes whose group (primary or supplementary) is `gid`
    /// connect.
    pub fn allow_gid(&mut self, gid: u32) -> &mut Self {
        self.allow.gids.push(gid);
        self
    }

    /// Admits the remote principal `name` (as `npiped` authenticated it: a
    /// client certificate's name or a token's name) when remote clients
    /// are accepted. Without any call every authenticated remote principal
    /// may connect; after one, only those listed. The first instance fixes
    /// the list for all.
    ///
    /// # Errors
    /// Another remote principal's open fails with
    /// [`Error::AccessDenied`](crate::Error::AccessDenied).
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let _server = npipe::ServerOptions::new()
    ///     .root(root.path())
    ///     .reject_remote_clients(false)
    ///     .allow_remote_principal("build-bot")
    ///     .create(r"\\.\pipe\doc-allow-principal")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_remote_principal(&mut self, name: impl Into<String>) -> &mut Self {
        self.remote_principals.push(name.into());
        self
    }

    /// Believes processes running as `uid` when they connect on behalf of
    /// a remote client (the relay `npiped` runs as). Root always is, and so
    /// is every uid in the environment variable `NPIPE_RELAY_UIDS`
    /// (numbers separated by commas) of the server process. A connection
    /// claiming to be remote from any other process is refused: see
    /// `docs/REMOTE.md`, "Trusting the relay".
    pub fn trust_relay_uid(&mut self, uid: u32) -> &mut Self {
        self.relay_uids.push(uid);
        self
    }

    /// Lets every local user connect (a null DACL on Windows). Default: off.
    pub fn allow_everyone(&mut self, everyone: bool) -> &mut Self {
        self.allow.everyone = everyone;
        self
    }

    /// Uses the namespace directory `root` instead of the default
    /// ([`Namespace::from_env`]).
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.namespace = Some(Namespace::at(root));
        self
    }

    /// Uses this namespace.
    pub fn namespace(&mut self, namespace: Namespace) -> &mut Self {
        self.namespace = Some(namespace);
        self
    }

    pub(crate) fn effective_read_mode(&self) -> ReadMode {
        self.read_mode.unwrap_or(match self.pipe_mode {
            PipeMode::Byte => ReadMode::Byte,
            PipeMode::Message => ReadMode::Message,
        })
    }

    pub(crate) fn access(&self) -> Option<Access> {
        match (self.access_inbound, self.access_outbound) {
            (true, true) => Some(Access::Duplex),
            (true, false) => Some(Access::Inbound),
            (false, true) => Some(Access::Outbound),
            (false, false) => None,
        }
    }

    pub(crate) fn ns(&self) -> Namespace {
        self.namespace.clone().unwrap_or_default()
    }
}

/// Opens the client end of a named pipe: `CreateFile` on a pipe name, plus
/// [`wait`](Self::wait) (WaitNamedPipe) and [`call`](Self::call)
/// (CallNamedPipe).
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::{ClientOptions, ServerOptions};
/// let _server = ServerOptions::new().root(root.path()).create(r"\\.\pipe\doc-client-options")?;
/// let client = ClientOptions::new().root(root.path()).open(r"\\.\pipe\doc-client-options")?;
/// assert_eq!(client.server_process_id()?, std::process::id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientOptions {
    // dwDesiredAccess
    pub(crate) read: bool,
    pub(crate) write: bool,
    // SetNamedPipeHandleState
    pub(crate) read_mode: ReadMode,
    pub(crate) nowait: bool,
    // SECURITY_SQOS_PRESENT-like check of the server
    pub(crate) require_server_uid: Option<u32>,
    pub(crate) namespace: Option<Namespace>,
    /// Set by a relay: connect on behalf of this remote client.
    pub(crate) relay_for: Option<std::sync::Arc<crate::proto::RemoteClaim>>,
    /// How to reach `npiped` for `\\host\pipe\NAME`.
    #[cfg(feature = "remote")]
    pub(crate) remote: Option<crate::net::RemoteOptions>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions::new()
    }
}

impl ClientOptions {
    /// Read and write access, byte read mode, blocking mode, any server.
    pub fn new() -> ClientOptions {
        ClientOptions {
            read: true,
            write: true,
            read_mode: ReadMode::Byte,
            nowait: false,
            require_server_uid: None,
            namespace: None,
            relay_for: None,
            #[cfg(feature = "remote")]
            remote: None,
        }
    }

    /// Opens for reading (`GENERIC_READ`). Default: on.
    ///
    /// # Errors
    /// [`open`](Self::open) gives
    /// [`Error::AccessDenied`](crate::Error::AccessDenied) when asking to
    /// read an inbound pipe or to write an outbound one.
    #[doc(alias = "GENERIC_READ")]
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Opens for writing (`GENERIC_WRITE`). Default: on.
    #[doc(alias = "GENERIC_WRITE")]
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// The read mode of the new handle (`PIPE_READMODE_*` through
    /// `SetNamedPipeHandleState`). Default: byte, as on Windows.
    ///
    /// # Errors
    /// [`open`](Self::open) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for
    /// message read mode on a byte-type pipe.
    pub fn read_mode(&mut self, mode: ReadMode) -> &mut Self {
        self.read_mode = mode;
        self
    }

    /// Non-blocking mode for the new handle (`PIPE_NOWAIT`). Default: off.
    pub fn nowait(&mut self, nowait: bool) -> &mut Self {
        self.nowait = nowait;
        self
    }

    /// Connects only to a server running as `uid`; any other is refused with
    /// [`Error::AccessDenied`](crate::Error::AccessDenied), so a process that
    /// created the name first (a squatter) cannot pose as the server. The
    /// check uses the server's kernel credentials.
    pub fn require_server_uid(&mut self, uid: u32) -> &mut Self {
        self.require_server_uid = Some(uid);
        self
    }

    /// Uses the namespace directory `root` instead of the default.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.namespace = Some(Namespace::at(root));
        self
    }

    /// Uses this namespace.
    pub fn namespace(&mut self, namespace: Namespace) -> &mut Self {
        self.namespace = Some(namespace);
        self
    }

    /// How to reach `npiped` when the name is remote (`\\host\pipe\NAME`):
    /// port, CA, client certificate, token. Without it, the options come
    /// from `NPIPE_REMOTE_*` and the remote configuration file
    /// ([`RemoteOptions::from_env`](crate::net::RemoteOptions::from_env)).
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn remote(&mut self, remote: crate::net::RemoteOptions) -> &mut Self {
        self.remote = Some(remote);
        self
    }

    pub(crate) fn ns(&self) -> Namespace {
        self.namespace.clone().unwrap_or_default()
    }
}
