//! The client end: opening a pipe by name (CreateFile), waiting for a free
//! instance (WaitNamedPipe), and one-shot calls (CallNamedPipe).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::name::{NameKind, PipeName};
use crate::namespace::{sock_name, Claim, ClaimState, PipeDir, PipeMeta};
use crate::pipe::conn::Conn;
use crate::pipe::endpoint::{impl_pipe_io, Endpoint};
use crate::pipe::server::to_credentials;
use crate::pipe::transport::UnixStreamTransport;
use crate::pipe::{
    ClientOptions, Credentials, MessageRead, PipeEnd, PipeMode, ReadMode, WaitTimeout,
};
use crate::proto::{ClientAccess, Hello};
use crate::sys::fs;
use crate::sys::inotify::DirWatch;
use crate::sys::socket::{self, PeerCred};
use crate::{Error, Result};

/// The client end of a named pipe, connected to one server instance.
///
/// All methods take `&self`, and the handle is `Send + Sync`: one thread can
/// block in a read while another writes, peeks or flushes. Dropping it
/// closes the connection (`CloseHandle`): the server reads what was written,
/// then gets [`Error::BrokenPipe`].
#[derive(Debug)]
pub struct NamedPipeClient {
    pub(crate) endpoint: Endpoint,
    conn: Arc<Conn>,
    origin: Origin,
}

/// Where the pipe is.
#[derive(Debug)]
enum Origin {
    /// On this machine: its directory, to count instances.
    Local(PipeDir),
    /// Behind `npiped` on another machine.
    #[cfg(feature = "remote")]
    Remote(crate::net::RemoteHandle),
}

/// A connection made to a local instance, before it becomes a client
/// handle (or, for a relay, is handed over as it is).
#[derive(Debug)]
pub(crate) struct RawConnection {
    pub name: PipeName,
    pub meta: PipeMeta,
    pub dir: PipeDir,
    pub data: OwnedFd,
    pub ctl: OwnedFd,
    pub peer: PeerCred,
}

impl_pipe_io!(NamedPipeClient);
impl_pipe_io!(crate::NamedPipeServer);

impl NamedPipeClient {
    /// The server's kernel credentials, read when the connection was made.
    pub fn server_credentials(&self) -> Result<Credentials> {
        Ok(to_credentials(self.conn.peer()))
    }

    /// The server's process id (`GetNamedPipeServerProcessId`).
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        Ok(self.conn.peer().pid)
    }

    /// This process's id (`GetNamedPipeClientProcessId` on the client end).
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_process_id(&self) -> Result<u32> {
        Ok(std::process::id())
    }

    pub(crate) fn connection(&self) -> Result<Arc<Conn>> {
        Ok(Arc::clone(&self.conn))
    }

    pub(crate) fn current_instances(&self) -> Result<u32> {
        match &self.origin {
            Origin::Local(dir) => Ok(dir.live_instances()?.len() as u32),
            #[cfg(feature = "remote")]
            Origin::Remote(remote) => remote.instances(),
        }
    }

    /// A client handle over a connection to `npiped`.
    #[cfg(feature = "remote")]
    pub(crate) fn from_remote(
        endpoint: Endpoint,
        conn: Conn,
        remote: crate::net::RemoteHandle,
    ) -> NamedPipeClient {
        NamedPipeClient {
            endpoint,
            conn: Arc::new(conn),
            origin: Origin::Remote(remote),
        }
    }
}

impl crate::NamedPipeServer {
    pub(crate) fn connection(&self) -> Result<Arc<Conn>> {
        self.current()
    }

    pub(crate) fn current_instances(&self) -> Result<u32> {
        self.live_instance_count()
    }
}

impl ClientOptions {
    /// Connects to a free instance of the pipe `name` (`CreateFile` on
    /// `\\.\pipe\NAME`). Does not wait: see [`wait`](Self::wait).
    ///
    /// # Errors
    /// - [`Error::FileNotFound`]: no instance of the name exists.
    /// - [`Error::PipeBusy`]: every instance is connected to a client.
    /// - [`Error::AccessDenied`]: this user may not connect, the access
    ///   asked for does not fit the pipe's direction, or the server is not
    ///   the required user.
    /// - [`Error::InvalidParameter`]: message read mode on a byte-type pipe.
    /// - [`Error::BadPathname`]: not a pipe name, or a remote one
    ///   (`\\host\pipe\NAME`) in a build without the `remote` feature. With
    ///   it, a remote name is opened through `npiped` on that host (see
    ///   [`crate::net`]), with the same errors.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let err = npipe::ClientOptions::new().root(root.path()).open(r"\\.\pipe\doc-nobody").unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_FILE_NOT_FOUND);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "CreateFile")]
    pub fn open(&self, name: impl AsRef<str>) -> Result<NamedPipeClient> {
        #[cfg(feature = "remote")]
        if let Some(name) = remote_name(name.as_ref())? {
            return crate::net::open(self, &name, crate::proto::remote::WireWait::No);
        }
        let raw = self.connect_raw(name.as_ref())?;
        if let Some(uid) = self.require_server_uid {
            if raw.peer.uid != uid {
                return Err(self.denied(
                    &raw.name,
                    &format!("the server runs as uid {}, not {uid}", raw.peer.uid),
                ));
            }
        }
        if raw.meta.in_buffer > 0 {
            let _ = socket::set_send_buffer(raw.data.as_fd(), raw.meta.in_buffer as usize);
        }
        let message = raw.meta.pipe_mode == PipeMode::Message;
        let conn = Arc::new(Conn::new(
            Box::new(UnixStreamTransport::new(raw.data)),
            raw.ctl,
            message,
            PipeEnd::Client,
            raw.peer,
        ));
        let endpoint = Endpoint::new(
            raw.name,
            PipeEnd::Client,
            raw.meta,
            self.read_mode,
            self.nowait,
        )
        .with_access(self.read, self.write);
        Ok(NamedPipeClient {
            endpoint,
            conn,
            origin: Origin::Local(raw.dir),
        })
    }

    /// The rendezvous of [`open`](Self::open): claims a free instance of
    /// the local pipe `name`, connects and sends the hello (with the remote
    /// claim a relay sets, see `net::relay`).
    pub(crate) fn connect_raw(&self, name: &str) -> Result<RawConnection> {
        let name = parse_local(name)?;
        let (dir, meta) = self.find(&name)?;
        self.check_allowed(&name, &meta)?;
        let claimable = dir.claimable()?;
        if !claimable.any_alive {
            return Err(Error::FileNotFound {
                name: name.to_string(),
            });
        }
        let me = fs::identity();
        for instance in &claimable.free {
            if instance.claim == ClaimState::Stale {
                dir.remove_stale_claim(instance.slot)?;
            }
            let claim = match Claim::try_take(&dir, instance.slot, me.pid) {
                Ok(Some(claim)) => claim,
                Ok(None) => continue,
                // The last instance closed and removed the name's directory
                // since we listed it: the name is gone.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::FileNotFound {
                        name: name.to_string(),
                    })
                }
                Err(e) => return Err(e.into()),
            };
            let data = match socket::connect_at(dir.as_fd(), &sock_name(instance.slot)) {
                Ok(data) => data,
                Err(e) => {
                    // The instance stopped listening (closed, or its server
                    // died): give the claim back and try the next one.
                    claim.release(&dir, instance.slot)?;
                    if e.kind() == std::io::ErrorKind::PermissionDenied {
                        return Err(self.denied(&name, "the pipe's permissions exclude you"));
                    }
                    continue;
                }
            };
            let (ctl_mine, ctl_theirs) = socket::seqpacket_pair()?;
            let mut hello = Hello::new(
                ClientAccess {
                    read: self.read,
                    write: self.write,
                },
                claim.token,
            );
            // A relay's claim follows the hello in the same message, so
            // the server reads both or neither.
            let block = self
                .relay_for
                .as_ref()
                .map(|c| c.encode())
                .unwrap_or_default();
            hello.remote_len = block.len() as u16;
            let mut bytes = hello.encode().to_vec();
            bytes.extend_from_slice(&block);
            if socket::send_with_fd(data.as_fd(), &bytes, ctl_theirs.as_fd()).is_err() {
                claim.release(&dir, instance.slot)?;
                continue;
            }
            claim.mark_connected()?;
            let peer = socket::peer_credentials(data.as_fd())?;
            return Ok(RawConnection {
                name,
                meta,
                dir,
                data,
                ctl: ctl_mine,
                peer,
            });
        }
        Err(Error::PipeBusy {
            name: name.to_string(),
        })
    }

    /// Waits until an instance of the pipe `name` is free to connect to
    /// (`WaitNamedPipe`), sleeping on directory notifications (inotify), not
    /// polling. A free instance is not reserved: another client may take it
    /// first, so [`open`](Self::open) can still give
    /// [`Error::PipeBusy`]; loop on both.
    ///
    /// # Errors
    /// - [`Error::FileNotFound`]: no instance exists (returned at once,
    ///   whatever the time-out, as on Windows).
    /// - [`Error::Timeout`] (`ERROR_SEM_TIMEOUT`): none became free in time.
    #[doc(alias = "WaitNamedPipe")]
    pub fn wait(&self, name: impl AsRef<str>, timeout: impl Into<WaitTimeout>) -> Result<()> {
        #[cfg(feature = "remote")]
        if let Some(name) = remote_name(name.as_ref())? {
            return crate::net::wait(self, &name, timeout.into());
        }
        let target = self.wait_target(name.as_ref(), timeout.into())?;
        let watch = DirWatch::new(target.dir.as_fd())?;
        loop {
            // The watch was set before this look, so a change after it wakes
            // the wait below.
            if target.instance_free()? {
                return Ok(());
            }
            watch.wait(target.remaining()?)?;
        }
    }

    /// What `WaitNamedPipe` watches: the pipe's directory and the deadline.
    /// The blocking [`wait`](Self::wait) and the async one both loop over
    /// [`WaitTarget::instance_free`] and [`WaitTarget::remaining`].
    pub(crate) fn wait_target(&self, name: &str, timeout: WaitTimeout) -> Result<WaitTarget> {
        let name = parse_local(name)?;
        let (dir, meta) = self.find(&name)?;
        let limit = match timeout {
            WaitTimeout::Forever => None,
            WaitTimeout::Default => Some(Duration::from_millis(meta.default_timeout_ms)),
            WaitTimeout::Duration(d) => Some(d),
        };
        Ok(WaitTarget {
            deadline: limit.map(|d| Instant::now() + d),
            name,
            dir,
        })
    }

    /// Connects, sends one message, reads one reply and closes
    /// (`CallNamedPipe`). Waits up to `timeout` for a free instance
    /// ([`open_timeout`](Self::open_timeout)).
    ///
    /// # Errors
    /// As [`open`](Self::open), [`wait`](Self::wait) and
    /// [`NamedPipeClient::transact`].
    #[doc(alias = "CallNamedPipe")]
    pub fn call(
        &self,
        name: impl AsRef<str>,
        input: &[u8],
        output: &mut [u8],
        timeout: impl Into<WaitTimeout>,
    ) -> Result<MessageRead> {
        let mut options = self.clone();
        options.read_mode(ReadMode::Message).nowait(false);
        let client = options.open_timeout(name, timeout)?;
        client.transact(input, output)
    }

    /// Opens the pipe `name`, waiting up to `timeout` in all for a free
    /// instance when every one is busy: [`open`](Self::open) and
    /// [`wait`](Self::wait) in the loop Microsoft recommends for clients.
    ///
    /// # Errors
    /// As [`open`](Self::open); [`Error::Timeout`] when no instance became
    /// free in time.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// use std::time::Duration;
    /// let name = r"\\.\pipe\doc-open-timeout";
    /// let _server = npipe::ServerOptions::new().root(root.path()).max_instances(1).create(name)?;
    /// let options = npipe::ClientOptions::new().root(root.path()).clone();
    /// let _first = options.open(name)?;
    /// let err = options.open_timeout(name, Duration::from_millis(50)).unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_SEM_TIMEOUT);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_timeout(
        &self,
        name: impl AsRef<str>,
        timeout: impl Into<WaitTimeout>,
    ) -> Result<NamedPipeClient> {
        let name = name.as_ref();
        let timeout = timeout.into();
        #[cfg(feature = "remote")]
        if let Some(name) = remote_name(name)? {
            // One request: npiped waits for a free instance next to the pipe.
            return crate::net::open(self, &name, crate::net::wire_wait(timeout));
        }
        let mut deadline = match timeout {
            WaitTimeout::Duration(d) => Some(Instant::now() + d),
            _ => None,
        };
        loop {
            match self.open(name) {
                Err(Error::PipeBusy { .. }) => {}
                other => return other,
            }
            if timeout == WaitTimeout::Default && deadline.is_none() {
                let (_, meta) = self.find(&parse_local(name)?)?;
                deadline = Some(Instant::now() + Duration::from_millis(meta.default_timeout_ms));
            }
            let left = match deadline {
                Some(deadline) => {
                    WaitTimeout::Duration(deadline.saturating_duration_since(Instant::now()))
                }
                None => WaitTimeout::Forever,
            };
            self.wait(name, left)?;
        }
    }

    fn find(&self, name: &PipeName) -> Result<(PipeDir, PipeMeta)> {
        let dir = self.ns().open_pipe_dir(name)?;
        let meta = dir
            .read_meta()?
            .filter(|meta| meta.key == name.key())
            .ok_or_else(|| Error::FileNotFound {
                name: name.to_string(),
            })?;
        Ok((dir, meta))
    }

    /// The checks a client can make before connecting, so it gets a clear
    /// error; the kernel (file permissions) and the server (peer
    /// credentials) enforce them again.
    fn check_allowed(&self, name: &PipeName, meta: &PipeMeta) -> Result<()> {
        if self.read && !meta.access.server_writes() {
            return Err(self.denied(name, "the pipe is inbound: clients may only write"));
        }
        if self.write && !meta.access.server_reads() {
            return Err(self.denied(name, "the pipe is outbound: clients may only read"));
        }
        if !self.read && !self.write {
            return Err(Error::InvalidParameter {
                reason: "open for reading, writing or both".into(),
            });
        }
        if let Some(claim) = &self.relay_for {
            // A relay opens for a remote client: the pipe's remote rules
            // apply, not the relay's own uid (the server checks again).
            if meta.reject_remote {
                return Err(self.denied(name, "the pipe rejects remote clients"));
            }
            if !meta.remote_principals.is_empty()
                && !meta.remote_principals.contains(&claim.principal)
            {
                return Err(self.denied(
                    name,
                    &format!("remote principal {:?} is not allowed", claim.principal),
                ));
            }
            return Ok(());
        }
        if self.read_mode == ReadMode::Message && meta.pipe_mode == PipeMode::Byte {
            return Err(Error::InvalidParameter {
                reason: "message read mode needs a message-type pipe".into(),
            });
        }
        let me = fs::identity();
        if !meta.allow.permits_identity(meta.owner_uid, &me) {
            return Err(self.denied(name, &format!("uid {} is not allowed to connect", me.uid)));
        }
        if let Some(uid) = self.require_server_uid {
            if meta.owner_uid != uid {
                return Err(self.denied(
                    name,
                    &format!("the pipe belongs to uid {}, not {uid}", meta.owner_uid),
                ));
            }
        }
        Ok(())
    }

    fn denied(&self, name: &PipeName, reason: &str) -> Error {
        Error::AccessDenied {
            name: name.to_string(),
            reason: reason.into(),
        }
    }
}

/// A pipe name being waited for (see [`ClientOptions::wait_target`]).
#[derive(Debug)]
pub(crate) struct WaitTarget {
    name: PipeName,
    /// The pipe's directory: watch it for changes.
    pub dir: PipeDir,
    /// When the wait gives up; `None`: never.
    pub deadline: Option<Instant>,
}

impl WaitTarget {
    /// Whether an instance is listening with no client on its way now.
    ///
    /// # Errors
    /// [`Error::FileNotFound`] when no instance exists any more.
    pub fn instance_free(&self) -> Result<bool> {
        let claimable = self.dir.claimable()?;
        if !claimable.any_alive {
            return Err(Error::FileNotFound {
                name: self.name.to_string(),
            });
        }
        Ok(!claimable.free.is_empty())
    }

    /// The time left (`None`: no limit).
    ///
    /// # Errors
    /// [`Error::Timeout`] once the deadline has passed.
    pub fn remaining(&self) -> Result<Option<Duration>> {
        match self.deadline {
            None => Ok(None),
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(Error::Timeout),
            },
        }
    }
}

/// The parsed name if it is a remote pipe name (`\\host\pipe\NAME`).
#[cfg(feature = "remote")]
pub(crate) fn remote_name(name: &str) -> Result<Option<PipeName>> {
    let parsed = PipeName::parse(name)?;
    Ok((parsed.kind() == NameKind::Pipe && !parsed.is_local()).then_some(parsed))
}

fn parse_local(name: &str) -> Result<PipeName> {
    let name = PipeName::parse(name)?;
    if name.kind() != NameKind::Pipe {
        return Err(Error::BadPathname {
            name: name.to_string(),
            reason: "not a pipe name".into(),
        });
    }
    if !name.is_local() {
        return Err(Error::BadPathname {
            name: name.to_string(),
            reason: if cfg!(feature = "remote") {
                r"a local pipe is needed here; remote pipes (\\host\pipe\NAME) are reached through npiped".into()
            } else {
                r"remote pipes (\\host\pipe\NAME) need npipe's `remote` feature".into()
            },
        });
    }
    Ok(name)
}

/// Without the `remote` feature a remote name is refused, whatever the
/// call. (With it, the remote tests of `npiped` cover these names.)
#[cfg(all(test, not(feature = "remote")))]
mod tests {
    use std::time::Duration;

    use crate::doc_support::TempRoot;
    use crate::win32::ERROR_BAD_PATHNAME;
    use crate::{ClientOptions, Error, ServerOptions, WaitTimeout};

    fn bad_pathname<T: std::fmt::Debug>(what: &str, result: crate::Result<T>) {
        match result {
            Err(e @ Error::BadPathname { .. }) => assert_eq!(e.win32_code(), ERROR_BAD_PATHNAME),
            other => panic!("{what}: expected ERROR_BAD_PATHNAME, got {other:?}"),
        }
    }

    #[test]
    fn remote_names_are_bad_pathname_without_the_remote_feature() {
        let root = TempRoot::new().unwrap();
        // A local pipe of the same name, free to connect to: a client that
        // dropped the host would find it and succeed.
        let _server = ServerOptions::new()
            .root(root.path())
            .create(r"\\.\pipe\x")
            .unwrap();
        let mut options = ClientOptions::new();
        options.root(root.path());

        for name in [r"\\host\pipe\x", r"\\localhost\pipe\x"] {
            bad_pathname("open", options.open(name));
            bad_pathname("open_timeout", options.open_timeout(name, Duration::ZERO));
            bad_pathname("wait", options.wait(name, WaitTimeout::Forever));
            let mut out = [0; 8];
            bad_pathname(
                "call",
                options.call(name, b"ping", &mut out, Duration::ZERO),
            );
        }
    }
}
