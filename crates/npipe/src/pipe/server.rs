//! The server end: one named pipe instance (CreateNamedPipe,
//! ConnectNamedPipe, DisconnectNamedPipe).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::name::{NameKind, PipeName};
use crate::namespace::{
    alive_name, claim_name, claim_token, sock_name, Namespace, PipeDir, PipeMeta, MAX_SLOTS,
};
use crate::net::RemoteClient;
use crate::pipe::conn::{lock, Conn};
use crate::pipe::endpoint::Endpoint;
use crate::pipe::transport::UnixStreamTransport;
use crate::pipe::{Credentials, PipeEnd, PipeMode, ReadMode, ServerOptions};
use crate::proto::{Control, Hello, RemoteClaim, HELLO_LEN};
use crate::sys::fs::{self, AclEntry};
use crate::sys::socket;
use crate::{Error, Result};

/// Backlog of an instance's listening socket: room for a few dead
/// connections of clients killed mid-connect next to the one live one.
const BACKLOG: i32 = 8;

/// How long the server waits for a connected client's hello before it
/// drops the connection as dead. A client sends it right after connecting,
/// before its open returns, so only a stalled or foreign process (one that
/// may reach the socket at all) makes the server wait, and at most this.
const HELLO_TIMEOUT: Duration = Duration::from_millis(500);

/// One instance of a named pipe, server side.
///
/// Created listening: a client can connect at once, before
/// [`connect`](Self::connect) is called. After [`disconnect`](Self::disconnect)
/// the instance serves the next client once `connect` is called again.
/// Dropping it closes the instance (`CloseHandle`): a connected client gets
/// [`Error::BrokenPipe`].
///
/// All methods take `&self`; the instance is `Send + Sync`, so one thread
/// can block in a read while another writes, peeks, flushes or disconnects.
///
/// ```
/// use std::io::Write;
/// # let root = npipe::doc_support::TempRoot::new()?;
/// let name = r"\\.\pipe\doc-server";
/// let server = npipe::ServerOptions::new().root(root.path()).create(name)?;
/// let client = npipe::ClientOptions::new().root(root.path()).open(name)?;
/// server.connect()?; // the client came first: returns at once
/// (&server).write_all(b"hi")?;
/// let mut buf = [0; 2];
/// std::io::Read::read_exact(&mut &client, &mut buf)?;
/// assert_eq!(&buf, b"hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NamedPipeServer {
    pub(crate) endpoint: Endpoint,
    instance: Instance,
    phase: Mutex<Phase>,
    /// A client accepted by the non-blocking [`try_connect`](Self::try_connect)
    /// whose hello had not arrived yet. Kept here, not in the caller, so a
    /// caller that gives up waiting loses no client.
    arriving: Mutex<Option<Arriving>>,
    /// Uids whose processes may connect on behalf of remote clients: root,
    /// `NPIPE_RELAY_UIDS` and [`ServerOptions::trust_relay_uid`].
    trusted_relays: Vec<u32>,
}

/// An accepted connection whose hello is still to come.
#[derive(Debug)]
struct Arriving {
    data: OwnedFd,
    /// The listening socket it came from; it is dropped if that one is.
    listener: Arc<OwnedFd>,
    /// When it is given up as dead.
    until: Instant,
}

/// What a non-blocking `ConnectNamedPipe` found (see
/// [`NamedPipeServer::try_connect`]).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
#[derive(Debug)]
pub(crate) enum Connecting {
    /// A client is connected.
    Connected,
    /// No client yet: wait until `fd` is readable or `until` has passed,
    /// then call again. `fd` is a duplicate the caller owns (of the
    /// listening socket, or of a client's socket whose hello is under way),
    /// so it can register it with a reactor.
    Wait { fd: OwnedFd, until: Option<Instant> },
}

/// The files and locks of this instance in the namespace.
#[derive(Debug)]
struct Instance {
    ns: Namespace,
    dir: PipeDir,
    slot: u32,
    meta: PipeMeta,
    /// Held locked for the instance's life: it is what says "alive".
    _alive: OwnedFd,
    sock_mode: u32,
}

#[derive(Debug)]
enum Phase {
    Listening(Arc<OwnedFd>),
    Connected {
        conn: Arc<Conn>,
        token: u64,
        /// Who the client is, when it came through a trusted relay.
        remote: Option<Arc<RemoteClaim>>,
    },
    Disconnected,
}

impl ServerOptions {
    /// Creates an instance of the named pipe `name` (`\\.\pipe\NAME`) and
    /// starts listening (`CreateNamedPipe`).
    ///
    /// # Errors
    /// - [`Error::BadPathname`]: not a local pipe name.
    /// - [`Error::InvalidParameter`]: an option out of range (0 or more than
    ///   255 instances, no access direction, message read mode on a byte pipe).
    /// - [`Error::PipeBusy`]: the name's instance limit is reached.
    /// - [`Error::AccessDenied`]: `first_pipe_instance` and an instance
    ///   exists; the existing instances have another type, access or limit;
    ///   or another user owns the name.
    #[doc(alias = "CreateNamedPipe")]
    pub fn create(&self, name: impl AsRef<str>) -> Result<NamedPipeServer> {
        let name = PipeName::parse(name.as_ref())?;
        if name.kind() != NameKind::Pipe || !name.is_local() {
            return Err(Error::BadPathname {
                name: name.to_string(),
                reason: r"a server creates local pipes: \\.\pipe\NAME".into(),
            });
        }
        let access = self.access().ok_or_else(|| Error::InvalidParameter {
            reason: "a pipe needs inbound or outbound access, or both".into(),
        })?;
        if !(1..=MAX_SLOTS).contains(&self.max_instances) {
            return Err(Error::InvalidParameter {
                reason: format!(
                    "max_instances is {}; it must be 1 to 255",
                    self.max_instances
                ),
            });
        }
        let read_mode = self.effective_read_mode();
        if read_mode == ReadMode::Message && self.pipe_mode == PipeMode::Byte {
            return Err(Error::InvalidParameter {
                reason: "message read mode needs a message-type pipe".into(),
            });
        }
        let me = fs::identity();
        let trusted_relays = crate::net::trusted_relay_uids(&self.relay_uids);
        let mut allow = self.allow.clone();
        if !self.reject_remote_clients {
            // A relay that is not root must reach the socket to serve
            // remote clients: give it the file permissions a local client
            // of the allow list has. The server still checks its claims.
            allow
                .uids
                .extend(trusted_relays.iter().copied().filter(|&uid| uid != 0));
        }
        let meta = PipeMeta {
            name: name.to_string(),
            key: name.key().to_string(),
            pipe_mode: self.pipe_mode,
            access,
            max_instances: self.max_instances,
            in_buffer: self.in_buffer_size,
            out_buffer: self.out_buffer_size,
            default_timeout_ms: self.default_timeout.as_millis() as u64,
            owner_uid: me.uid,
            reject_remote: self.reject_remote_clients,
            allow,
            remote_principals: self.remote_principals.clone(),
        };
        let instance = Instance::create(self.ns(), &name, meta, self.first_pipe_instance, me.uid)?;
        let listener = instance.listen()?;
        let endpoint = Endpoint::new(
            name,
            PipeEnd::Server,
            instance.meta.clone(),
            read_mode,
            self.nowait,
        );
        Ok(NamedPipeServer {
            endpoint,
            instance,
            phase: Mutex::new(Phase::Listening(Arc::new(listener))),
            arriving: Mutex::new(None),
            trusted_relays,
        })
    }
}

impl NamedPipeServer {
    /// Waits for a client to connect (`ConnectNamedPipe`). Returns at once if
    /// a client connected since the instance began listening (Windows'
    /// `ERROR_PIPE_CONNECTED`, folded into `Ok` as tokio does). After a
    /// [`disconnect`](Self::disconnect), listens again first.
    ///
    /// # Errors
    /// - [`Error::PipeListening`]: non-blocking mode and no client yet.
    #[doc(alias = "ConnectNamedPipe")]
    pub fn connect(&self) -> Result<()> {
        loop {
            let listener = match self.listen_again_if_disconnected()? {
                Ok(_) => return Ok(()),
                Err(listener) => listener,
            };
            if self.try_accept(&listener)? {
                return Ok(());
            }
            if self.endpoint.nowait() {
                return Err(Error::PipeListening);
            }
            // Wait without holding the phase lock, so other threads can
            // disconnect or query the instance meanwhile; a disconnect shuts
            // the listener down, which ends this wait.
            socket::wait_readable(listener.as_fd(), None)?;
            if !self.is_listening_on(&listener) {
                return match &*lock(&self.phase) {
                    Phase::Connected { .. } => Ok(()),
                    _ => Err(Error::PipeNotConnected),
                };
            }
        }
    }

    fn is_listening_on(&self, listener: &Arc<OwnedFd>) -> bool {
        matches!(&*lock(&self.phase), Phase::Listening(current) if Arc::ptr_eq(current, listener))
    }

    /// Ends the connection with the current client (`DisconnectNamedPipe`).
    /// Unread data in both directions is discarded, and the client's next
    /// operation fails with [`Error::PipeNotConnected`] (a read already
    /// under way in the client may still return data written before). Call
    /// [`connect`](Self::connect) to serve the next client. Flush first to
    /// make sure the client has read everything.
    ///
    /// Disconnecting an instance that has no client stops it listening.
    #[doc(alias = "DisconnectNamedPipe")]
    pub fn disconnect(&self) -> Result<()> {
        let mut phase = lock(&self.phase);
        match std::mem::replace(&mut *phase, Phase::Disconnected) {
            Phase::Connected { conn, token, .. } => {
                conn.disconnect();
                self.instance.clear_claim(Some(token))?;
            }
            Phase::Listening(listener) => {
                // A client may be queued without having been accepted: tell
                // it too, so it sees "not connected" rather than a reset.
                let arrived = lock(&self.arriving).take().map(|a| a.data);
                let queued = std::iter::from_fn(|| socket::accept(listener.as_fd()).ok());
                for data in arrived.into_iter().chain(queued) {
                    if let Some((_, ctl, _)) = read_hello(&data, HELLO_TIMEOUT) {
                        Conn::new(
                            Box::new(UnixStreamTransport::new(data)),
                            ctl,
                            false,
                            PipeEnd::Server,
                            zero_cred(),
                        )
                        .disconnect();
                    }
                }
                // Wake a connect() waiting on this listener in another thread.
                let _ = socket::shutdown(listener.as_fd());
                self.instance.stop_listening()?;
                self.instance.clear_claim(None)?;
            }
            Phase::Disconnected => {}
        }
        Ok(())
    }

    /// Closes the connection to the current client as dropping the
    /// instance would (the client reads what is left, then gets
    /// [`Error::BrokenPipe`]), but keeps the instance, which listens again
    /// at the next [`connect`](Self::connect). For a listener that reuses
    /// its instances. The caller drops its own references to the
    /// connection first, so the socket really closes.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn close_connection(&self) -> Result<()> {
        let mut phase = lock(&self.phase);
        if let Phase::Connected { token, .. } = &*phase {
            let token = *token;
            *phase = Phase::Disconnected;
            drop(phase);
            self.instance.clear_claim(Some(token))?;
        }
        Ok(())
    }

    /// Whether a client is connected now.
    pub fn is_connected(&self) -> bool {
        self.current().is_ok()
    }

    /// The connected client's kernel credentials (`SO_PEERCRED`): the Linux
    /// counterpart of `ImpersonateNamedPipeClient`, which on Windows lets
    /// the server act as the client; here the server learns who it is.
    ///
    /// A remote client (see [`remote_client`](Self::remote_client)) has no
    /// local credentials: this gives pid 0 and uid and gid `u32::MAX`
    /// (`(uid_t)-1`, no user), never the relay's own, so a server that
    /// authorizes by uid cannot mistake a remote client for `npiped`'s user.
    #[doc(alias = "ImpersonateNamedPipeClient")]
    #[doc(alias = "GetNamedPipeClientProcessId")]
    pub fn client_credentials(&self) -> Result<Credentials> {
        Ok(to_credentials(self.current()?.peer()))
    }

    /// Who the connected client is when it came from another machine
    /// through `npiped`: the principal `npiped` authenticated, the
    /// computer name the client gave and its address. `None` for a local
    /// client.
    ///
    /// # Errors
    /// [`Error::PipeListening`] or [`Error::PipeNotConnected`] without a
    /// client.
    pub fn remote_client(&self) -> Result<Option<RemoteClient>> {
        self.current()?;
        Ok(self.connected_remote_client())
    }

    /// The remote client of the connection in place now, if any; accepts
    /// nothing (for the async front end, which accepts its own way).
    pub(crate) fn connected_remote_client(&self) -> Option<RemoteClient> {
        match &*lock(&self.phase) {
            Phase::Connected { remote, .. } => remote.as_deref().map(RemoteClient::from_claim),
            _ => None,
        }
    }

    /// The remote client's computer name (`GetNamedPipeClientComputerName`);
    /// `None` for a local client, where Windows fails with
    /// `ERROR_PIPE_LOCAL`.
    ///
    /// # Errors
    /// As [`remote_client`](Self::remote_client).
    #[doc(alias = "GetNamedPipeClientComputerName")]
    pub fn client_computer_name(&self) -> Result<Option<String>> {
        Ok(self.remote_client()?.map(|c| c.computer_name))
    }

    /// The principal `npiped` authenticated for a remote client (a client
    /// certificate's name, or a token's name); `None` for a local client.
    ///
    /// # Errors
    /// As [`remote_client`](Self::remote_client).
    pub fn remote_principal(&self) -> Result<Option<String>> {
        Ok(self.remote_client()?.map(|c| c.principal))
    }

    /// The connected client's process id (`GetNamedPipeClientProcessId`).
    pub fn client_process_id(&self) -> Result<u32> {
        Ok(self.client_credentials()?.pid)
    }

    /// This process's id (`GetNamedPipeServerProcessId` on the server end).
    #[doc(alias = "GetNamedPipeServerProcessId")]
    pub fn server_process_id(&self) -> Result<u32> {
        Ok(std::process::id())
    }

    pub(crate) fn live_instance_count(&self) -> Result<u32> {
        Ok(self.instance.dir.live_instances()?.len() as u32)
    }

    /// The connection to the current client, accepting a queued one first.
    pub(crate) fn current(&self) -> Result<Arc<Conn>> {
        let listener = {
            let phase = lock(&self.phase);
            match &*phase {
                Phase::Connected { conn, .. } => return Ok(Arc::clone(conn)),
                Phase::Disconnected => return Err(Error::PipeNotConnected),
                Phase::Listening(listener) => Arc::clone(listener),
            }
        };
        if self.try_accept(&listener)? {
            return self.current();
        }
        Err(Error::PipeListening)
    }

    /// `ConnectNamedPipe` without ever blocking, for a front end that does
    /// its own waiting: after a disconnect, listens again first (as
    /// [`connect`](Self::connect) does); takes a queued client whose hello
    /// is there; otherwise says what to wait for. A client whose hello is
    /// still on its way is kept in the instance between calls.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn try_connect(&self) -> Result<Connecting> {
        loop {
            let listener = match self.listen_again_if_disconnected()? {
                Ok(_) => return Ok(Connecting::Connected),
                Err(listener) => listener,
            };
            if let Some(wait) = self.poll_accept(&listener)? {
                return Ok(wait);
            }
        }
    }

    /// The connection to the current client for I/O, taking a queued one
    /// first, without ever blocking (the non-blocking [`current`](Self::current)):
    /// [`Error::PipeListening`] when no client has arrived,
    /// [`Error::PipeNotConnected`] after a disconnect.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn try_current(&self) -> Result<Arc<Conn>> {
        loop {
            let listener = {
                let phase = lock(&self.phase);
                match &*phase {
                    Phase::Connected { conn, .. } => return Ok(Arc::clone(conn)),
                    Phase::Disconnected => return Err(Error::PipeNotConnected),
                    Phase::Listening(listener) => Arc::clone(listener),
                }
            };
            if self.poll_accept(&listener)?.is_some() {
                return Err(Error::PipeListening);
            }
        }
    }

    /// After a disconnect, listens again. Returns the connection if a
    /// client is connected, else the listening socket.
    fn listen_again_if_disconnected(&self) -> Result<Result<Arc<Conn>, Arc<OwnedFd>>> {
        let mut phase = lock(&self.phase);
        if let Phase::Disconnected = *phase {
            // Clear the old claim before the socket appears: a client that
            // claims the new listening phase right away must keep its
            // claim, or its connection is refused as a leftover; so must a
            // client that claimed while the instance was disconnected and
            // is connecting now (its claim is locked).
            self.instance.dir.remove_unheld_claim(self.instance.slot)?;
            *phase = Phase::Listening(Arc::new(self.instance.listen()?));
        }
        Ok(match &*phase {
            Phase::Connected { conn, .. } => Ok(Arc::clone(conn)),
            Phase::Listening(listener) => Err(Arc::clone(listener)),
            Phase::Disconnected => unreachable!("set to listening above"),
        })
    }

    /// Takes the client queued on `listener`, if any, waiting for its hello
    /// as long as [`HELLO_TIMEOUT`] allows. Dead or unauthorized
    /// connections are dropped and the instance keeps listening.
    fn try_accept(&self, listener: &Arc<OwnedFd>) -> Result<bool> {
        loop {
            let Some((data, until)) = self.next_arrival(listener)? else {
                return Ok(false);
            };
            let wait = until.saturating_duration_since(Instant::now());
            let Some((hello, ctl, claim)) = read_hello(&data, wait) else {
                continue;
            };
            if self.admit(listener, data, hello, ctl, claim)? {
                return Ok(true);
            }
        }
    }

    /// [`try_accept`](Self::try_accept) without waiting for a hello: `None`
    /// once a client is admitted (the caller looks at the phase again),
    /// otherwise what to wait for. A client whose hello has not come yet
    /// is parked in `arriving` until it does or its time is up.
    fn poll_accept(&self, listener: &Arc<OwnedFd>) -> Result<Option<Connecting>> {
        loop {
            let Some((data, until)) = self.next_arrival(listener)? else {
                return Ok(Some(Connecting::Wait {
                    fd: socket::duplicate(listener.as_fd())?,
                    until: None,
                }));
            };
            if !socket::wait_readable(data.as_fd(), Some(Duration::ZERO))? {
                if Instant::now() >= until {
                    continue; // it never said hello: drop it
                }
                let fd = socket::duplicate(data.as_fd())?;
                *lock(&self.arriving) = Some(Arriving {
                    data,
                    listener: Arc::clone(listener),
                    until,
                });
                return Ok(Some(Connecting::Wait {
                    fd,
                    until: Some(until),
                }));
            }
            let Some((hello, ctl, claim)) = read_hello(&data, Duration::ZERO) else {
                continue;
            };
            if self.admit(listener, data, hello, ctl, claim)? {
                return Ok(None);
            }
        }
    }

    /// The client parked in `arriving` (if it came from `listener`), or the
    /// next one queued on `listener`, with the time its hello is due by.
    fn next_arrival(&self, listener: &Arc<OwnedFd>) -> Result<Option<(OwnedFd, Instant)>> {
        if let Some(arriving) = lock(&self.arriving).take() {
            if Arc::ptr_eq(&arriving.listener, listener) {
                return Ok(Some((arriving.data, arriving.until)));
            }
        }
        loop {
            match socket::accept(listener.as_fd()) {
                Ok(data) => return Ok(Some((data, Instant::now() + HELLO_TIMEOUT))),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Checks a client's hello, claim token and credentials and, if they
    /// pass, makes it the instance's client. `Ok(false)`: refused, keep
    /// listening; `Ok(true)`: connected (to this client, or another thread
    /// was quicker and this connection is dropped as a dead one).
    fn admit(
        &self,
        listener: &Arc<OwnedFd>,
        data: OwnedFd,
        hello: Hello,
        ctl: OwnedFd,
        claim: Option<RemoteClaim>,
    ) -> Result<bool> {
        // Only the client holding the current claim may connect; others
        // are leftovers of clients that died mid-connect.
        if claim_token(&self.instance.dir, self.instance.slot)? != Some(hello.token) {
            return Ok(false);
        }
        let mut peer = socket::peer_credentials(data.as_fd())?;
        let meta = &self.instance.meta;
        let allowed = match &claim {
            None => {
                let groups = socket::peer_groups(data.as_fd())?;
                meta.allow
                    .permits(meta.owner_uid, peer.uid, peer.gid, &groups)
            }
            // A claim to speak for a remote client counts only from a
            // trusted relay; any other local process could make it up.
            Some(claim) => {
                let trusted = self.trusted_relays.contains(&peer.uid);
                peer = REMOTE_PEER;
                trusted
                    && !meta.reject_remote
                    && (meta.remote_principals.is_empty()
                        || meta.remote_principals.contains(&claim.principal))
            }
        };
        let access_ok = (!hello.access.read || meta.access.server_writes())
            && (!hello.access.write || meta.access.server_reads());
        if !allowed || !access_ok {
            // Say why before dropping it: the client's next operation then
            // fails with ERROR_ACCESS_DENIED, not a broken pipe.
            let _ = socket::send(ctl.as_fd(), &Control::Denied.encode(), true);
            self.instance.clear_claim(Some(hello.token))?;
            return Ok(false);
        }
        if meta.out_buffer > 0 {
            let _ = socket::set_send_buffer(data.as_fd(), meta.out_buffer as usize);
        }
        let message = meta.pipe_mode == PipeMode::Message;
        let conn = Conn::new(
            Box::new(UnixStreamTransport::new(data)),
            ctl,
            message,
            PipeEnd::Server,
            peer,
        );
        // Past here a claim is believed: the peer is npiped's relay.
        let conn = Arc::new(if claim.is_some() {
            conn.through_relay()
        } else {
            conn
        });
        let mut phase = lock(&self.phase);
        match &*phase {
            // Another thread was quicker; this connection is a dead one.
            Phase::Connected { .. } | Phase::Disconnected => return Ok(true),
            Phase::Listening(current) if !Arc::ptr_eq(current, listener) => return Ok(true),
            Phase::Listening(_) => {}
        }
        *phase = Phase::Connected {
            conn,
            token: hello.token,
            remote: claim.map(Arc::new),
        };
        self.instance.stop_listening()?;
        Ok(true)
    }
}

/// Reads a client's hello, its control socket and, from a relay, the
/// remote claim that follows the hello, waiting up to `wait` for it to
/// start; `None` for anything else (a dead client, a stranger speaking
/// another protocol).
fn read_hello(data: &OwnedFd, wait: Duration) -> Option<(Hello, OwnedFd, Option<RemoteClaim>)> {
    if !socket::wait_readable(data.as_fd(), Some(wait)).ok()? {
        return None;
    }
    let mut bytes = [0u8; HELLO_LEN];
    let ctl = socket::recv_exact_with_fd(data.as_fd(), &mut bytes, HELLO_TIMEOUT).ok()??;
    let hello = Hello::decode(&bytes).ok()?;
    let claim = match hello.remote_len {
        0 => None,
        len => {
            let mut block = vec![0u8; len as usize];
            // Sent with the hello in one message; any descriptor is dropped.
            socket::recv_exact_with_fd(data.as_fd(), &mut block, HELLO_TIMEOUT).ok()?;
            Some(RemoteClaim::decode(&block).ok()?)
        }
    };
    Some((hello, ctl, claim))
}

/// The credentials a remote client shows: no process, no user.
const REMOTE_PEER: socket::PeerCred = socket::PeerCred {
    pid: 0,
    uid: u32::MAX,
    gid: u32::MAX,
};

fn zero_cred() -> socket::PeerCred {
    socket::PeerCred {
        pid: 0,
        uid: 0,
        gid: 0,
    }
}

pub(crate) fn to_credentials(p: socket::PeerCred) -> Credentials {
    Credentials {
        pid: p.pid,
        uid: p.uid,
        gid: p.gid,
    }
}

impl Instance {
    /// Claims a slot for a new instance of `name`, under the directory lock.
    fn create(
        ns: Namespace,
        name: &PipeName,
        mut meta: PipeMeta,
        first: bool,
        uid: u32,
    ) -> Result<Instance> {
        let (dir_mode, sock_mode, acl) = permissions(&meta);
        loop {
            let (dir, _created) = ns.create_pipe_dir(name, dir_mode)?;
            let Some(_lock) = dir.lock().map_err(|e| denied_or(e, name))? else {
                continue;
            };
            let live = dir.sweep()?;
            if live.is_empty() {
                // The first instance (perhaps after a crash left the
                // directory behind) sets who may connect.
                set_dir_permissions(&dir, dir_mode, &acl).map_err(|e| denied_or(e, name))?;
                dir.write_meta(&meta).map_err(|e| denied_or(e, name))?;
            } else {
                let existing = dir.read_meta()?.ok_or_else(|| Error::Protocol {
                    reason: format!("the meta file of {name} is unreadable"),
                })?;
                check_compatible(name, &existing, &meta, first, uid)?;
                let max = existing.max_instances;
                if max != crate::pipe::PIPE_UNLIMITED_INSTANCES && live.len() as u32 >= max {
                    return Err(Error::PipeBusy {
                        name: name.to_string(),
                    });
                }
                meta = existing;
            }
            let Some(slot) = (0..MAX_SLOTS).find(|s| !live.contains(s)) else {
                return Err(Error::PipeBusy {
                    name: name.to_string(),
                });
            };
            dir.remove_slot_files(slot)?;
            let tmp = format!("{}.tmp", alive_name(slot));
            fs::remove_at(dir.as_fd(), &tmp)?;
            let alive = fs::create_new_at(dir.as_fd(), &tmp, 0o644)?;
            fs::lock_exclusive(alive.as_fd())?;
            fs::write_all(
                alive.as_fd(),
                format!("{}\n", std::process::id()).as_bytes(),
            )?;
            fs::rename_at(dir.as_fd(), &tmp, &alive_name(slot))?;
            let acl_ok = acl.is_empty()
                || fs::set_acl_at(dir.as_fd(), &alive_name(slot), 0o644, &[]).is_ok();
            let sock_mode = if acl_ok { sock_mode } else { 0o666 };
            return Ok(Instance {
                ns,
                dir,
                slot,
                meta,
                _alive: alive,
                sock_mode,
            });
        }
    }

    /// A new listening socket at `NNN.sock`: bound under a temporary name,
    /// given its permissions, then renamed in, so clients never see a socket
    /// that refuses connections.
    fn listen(&self) -> Result<OwnedFd> {
        let tmp = format!("{}.tmp", sock_name(self.slot));
        fs::remove_at(self.dir.as_fd(), &tmp)?;
        let listener = socket::listen_at(self.dir.as_fd(), &tmp, BACKLOG)?;
        fs::chmod_at(self.dir.as_fd(), &tmp, self.sock_mode)?;
        let (_, _, acl) = permissions(&self.meta);
        if !acl.is_empty() && fs::set_acl_at(self.dir.as_fd(), &tmp, self.sock_mode, &acl).is_err()
        {
            // No ACLs on this file system: let everyone reach the socket;
            // the server still checks each client's credentials on accept.
            fs::chmod_at(self.dir.as_fd(), &tmp, 0o666)?;
        }
        fs::rename_at(self.dir.as_fd(), &tmp, &sock_name(self.slot))?;
        Ok(listener)
    }

    fn stop_listening(&self) -> Result<()> {
        Ok(fs::remove_at(self.dir.as_fd(), &sock_name(self.slot))?)
    }

    /// Frees the slot's claim for the next client: the one with `token`, or
    /// whatever claim is there.
    fn clear_claim(&self, token: Option<u64>) -> Result<()> {
        let Some(_lock) = self.dir.lock()? else {
            return Ok(());
        };
        let current = claim_token(&self.dir, self.slot)?;
        if token.is_none() || current == token {
            fs::remove_at(self.dir.as_fd(), &claim_name(self.slot))?;
        }
        Ok(())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Best effort: whatever is left is stale (our lock dies with the fd)
        // and the next user of the name removes it.
        let Ok(Some(_lock)) = self.dir.lock() else {
            return;
        };
        let _ = self.dir.remove_slot_files(self.slot);
        let others = self
            .dir
            .sweep()
            .map(|live| live.iter().any(|&s| s != self.slot));
        if let Ok(false) = others {
            if let Ok(name) = PipeName::parse(&self.meta.name) {
                let _ = self.ns.remove_pipe_dir(&name, &self.dir);
            }
        }
    }
}

/// The rules every later instance must follow (`CreateNamedPipe` fails with
/// `ERROR_ACCESS_DENIED` where Windows does).
fn check_compatible(
    name: &PipeName,
    existing: &PipeMeta,
    new: &PipeMeta,
    first: bool,
    uid: u32,
) -> Result<()> {
    let deny = |reason: String| {
        Err(Error::AccessDenied {
            name: name.to_string(),
            reason,
        })
    };
    if first {
        return deny("first_pipe_instance is set and an instance exists".into());
    }
    if existing.key != new.key {
        return deny("another name hashes to the same directory".into());
    }
    if uid != 0 && uid != existing.owner_uid {
        return deny(format!("the pipe belongs to uid {}", existing.owner_uid));
    }
    if existing.pipe_mode != new.pipe_mode {
        return deny(
            format!("existing instances are {:?}-type", existing.pipe_mode).to_lowercase(),
        );
    }
    if existing.access != new.access {
        return deny(
            format!("existing instances have {:?} access", existing.access).to_lowercase(),
        );
    }
    if existing.max_instances != new.max_instances {
        return deny(format!(
            "the first instance set max_instances to {}",
            existing.max_instances
        ));
    }
    Ok(())
}

/// Directory mode, socket mode and ACL entries for who may connect.
fn permissions(meta: &PipeMeta) -> (u32, u32, Vec<AclEntry>) {
    if meta.allow.everyone {
        return (0o777, 0o666, Vec::new());
    }
    let mut acl: Vec<AclEntry> = meta
        .allow
        .uids
        .iter()
        .map(|&u| AclEntry::User(u, 6))
        .collect();
    acl.extend(meta.allow.gids.iter().map(|&g| AclEntry::Group(g, 6)));
    (0o755, 0o600, acl)
}

/// Sets the pipe directory's mode and ACL. Allowed principals need search
/// and write permission on it to claim an instance. Without ACL support
/// the directory is opened to everyone and the server's credential check
/// on accept enforces the allow list alone.
fn set_dir_permissions(dir: &PipeDir, mode: u32, acl: &[AclEntry]) -> std::io::Result<()> {
    fs::chmod_at(dir.as_fd(), ".", mode)?;
    match fs::set_acl_at(dir.as_fd(), ".", mode, &dir_acl(acl)) {
        Ok(()) => Ok(()),
        Err(_) if acl.is_empty() => Ok(()), // nothing to grant, nothing to clear
        Err(_) => fs::chmod_at(dir.as_fd(), ".", 0o777),
    }
}

/// The directory ACL: the same principals, with search and write (to claim).
fn dir_acl(acl: &[AclEntry]) -> Vec<AclEntry> {
    acl.iter()
        .map(|e| match *e {
            AclEntry::User(u, _) => AclEntry::User(u, 7),
            AclEntry::Group(g, _) => AclEntry::Group(g, 7),
        })
        .collect()
}

fn denied_or(e: std::io::Error, name: &PipeName) -> Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        Error::AccessDenied {
            name: name.to_string(),
            reason: "another user owns this pipe name".into(),
        }
    } else {
        Error::Io(e)
    }
}
