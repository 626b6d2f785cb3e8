//! The listener and each connection's life: TLS, hellos, authentication,
//! one request (open or wait), then the library's relay. Graceful
//! shutdown: stop accepting, cancel waits, let relays finish within the
//! grace period, then end them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use npipe::net::relay::{self, RelayPipe};
use npipe::net::RemoteClient;
use npipe::proto::remote::{
    check_limits, Frame, FrameDecoder, Link, LinkConfig, Role, ServerHello, HANDSHAKE_FRAME_LIMIT,
    REMOTE_VERSION,
};
use npipe::{ClientOptions, Error};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::config::{Config, Token};
use crate::limits::OpenRate;
use crate::tls;

/// Win32 `ERROR_REQ_NOT_ACCEP` (71): "no more connections can be made to
/// this remote computer at this time" — npiped's answer to a client over
/// its rate of opens.
pub const ERROR_REQ_NOT_ACCEP: u32 = 71;

/// A bound npiped, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    acceptor: tokio_rustls::TlsAcceptor,
    options: ClientOptions,
    rate: OpenRate,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What can stop npiped from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl Server {
    /// Loads the certificates and listens on the configured address.
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let tls = tls::server_config(&config)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let mut options = ClientOptions::new();
        if let Some(root) = &config.root {
            options.root(root);
        }
        let rate = OpenRate::new(config.limits.opens_per_second, config.limits.open_burst);
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                config,
                acceptor: tokio_rustls::TlsAcceptor::from(tls),
                options,
                rate,
            }),
        })
    }

    /// The address listened on (with the port, if 0 was configured).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets open
    /// connections finish within the grace period, ends the rest and
    /// returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let limits = &self.shared.config.limits;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let (drain_tx, drain_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        info!(addr = %self.local_addr().map(|a| a.to_string()).unwrap_or_default(), "npiped listening");
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Out of descriptors, most likely: back off a little.
                            warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                        warn!(%peer, max = limits.max_connections, "connection limit reached; closing");
                        continue;
                    };
                    let shared = Arc::clone(&self.shared);
                    let (drain, stop) = (drain_rx.clone(), stop_rx.clone());
                    tasks.spawn(async move {
                        serve(shared, tcp, peer, drain, stop).await;
                        drop(slot);
                    });
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = done {
                        if e.is_panic() {
                            warn!("a connection's task panicked; the others go on");
                        }
                    }
                }
            }
        }
        drop(self.listener);
        info!(open = tasks.len(), grace = ?limits.shutdown_grace, "shutting down: no new connections");
        let _ = drain_tx.send(true);
        let drained = tokio::time::timeout(limits.shutdown_grace, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            info!(
                open = tasks.len(),
                "grace period over; ending the open connections"
            );
            let _ = stop_tx.send(true);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while tasks.join_next().await.is_some() {}
            })
            .await;
            tasks.abort_all();
        }
        info!("npiped stopped");
    }
}

/// Why a connection ended before relaying.
enum Refusal {
    /// Logged at debug: ordinary network trouble.
    Quiet(String),
    /// Logged as a warning: the client failed to authenticate or broke the
    /// protocol.
    Loud(String),
}

async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut drain: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let limits = &shared.config.limits;
    let deadline = Instant::now() + limits.handshake_timeout;
    let setup = tokio::select! {
        r = tokio::time::timeout_at(deadline.into(), setup(&shared, tcp, peer)) => match r {
            Ok(r) => r,
            Err(_) => Err(Refusal::Loud("handshake or request took too long".into())),
        },
        _ = drain.wait_for(|d| *d) => return,
    };
    let (mut tls, decoder, client, request, hello) = match setup {
        Ok(parts) => parts,
        Err(Refusal::Quiet(why)) => return debug!(%peer, %why, "connection closed"),
        Err(Refusal::Loud(why)) => return warn!(%peer, %why, "connection refused"),
    };
    let principal = client.principal.clone();
    if !shared.rate.allow(peer.ip(), Instant::now()) {
        warn!(%peer, %principal, "too many opens from this address; refused");
        let _ = send(
            &mut tls,
            &Frame::Error {
                code: ERROR_REQ_NOT_ACCEP,
                message: "too many opens from this address; try again later".into(),
            },
        )
        .await;
        return;
    }
    match request {
        Frame::Wait { wait, path } => {
            let waited = tokio::select! {
                r = relay::wait(&shared.options, &path, wait, limits.max_wait) => r,
                _ = drain.wait_for(|d| *d) => Err(Error::PipeNotConnected),
            };
            let reply = match &waited {
                Ok(()) => Frame::WaitDone,
                Err(e) => wire_error(e),
            };
            debug!(%peer, %principal, %path, ok = waited.is_ok(), "wait");
            let _ = send(&mut tls, &reply).await;
            let _ = tls.shutdown().await;
        }
        Frame::Open(open) => {
            let opened = tokio::select! {
                r = RelayPipe::open_wait(
                    &shared.options, &open.path, open.read, open.write, &client, open.wait, limits.max_wait,
                ) => r,
                _ = drain.wait_for(|d| *d) => Err(Error::PipeNotConnected),
            };
            let pipe = match opened {
                Ok(pipe) => pipe,
                Err(e) => {
                    info!(%peer, %principal, path = %open.path, error = %e, "open refused");
                    let _ = send(&mut tls, &wire_error(&e)).await;
                    let _ = tls.shutdown().await;
                    return;
                }
            };
            if send(&mut tls, &Frame::Opened(pipe.opened())).await.is_err() {
                return;
            }
            info!(%peer, %principal, path = %open.path, "opened");
            let link = Link::new(
                LinkConfig {
                    role: Role::Server,
                    max_send_frame: hello.max_frame as usize,
                    recv_window: limits.window,
                    send_window: hello.window,
                    idle_timeout: limits.idle_timeout,
                    ping_interval: None,
                },
                decoder,
                Instant::now(),
            );
            let mut stop = stop;
            let end = pipe
                .relay(tls, link, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            match end {
                relay::RelayEnd::ClientMisbehaved(_) | relay::RelayEnd::Failed(_) => {
                    warn!(%peer, %principal, path = %open.path, %end, "relay ended")
                }
                _ => info!(%peer, %principal, path = %open.path, %end, "relay ended"),
            }
        }
        _ => unreachable!("setup returns only open and wait requests"),
    }
}

type Tls = tokio_rustls::server::TlsStream<TcpStream>;

/// TLS, the hellos, authentication and the request.
async fn setup(
    shared: &Shared,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<
    (
        Tls,
        FrameDecoder,
        RemoteClient,
        Frame,
        npipe::proto::remote::ClientHello,
    ),
    Refusal,
> {
    let config = &shared.config;
    let mut tls = shared
        .acceptor
        .accept(tcp)
        .await
        .map_err(|e| Refusal::Loud(format!("TLS handshake failed: {e}")))?;
    let (_, conn) = tls.get_ref();
    if conn.alpn_protocol() != Some(npipe::net::ALPN) {
        return Err(Refusal::Loud(
            "the client did not ask for ALPN npipe/1".into(),
        ));
    }
    let cert_principal = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| tls::principal_of(cert, &config.pinned));
    let decoder = FrameDecoder::new(HANDSHAKE_FRAME_LIMIT);
    let (frame, decoder) = read_frame(&mut tls, decoder).await?;
    let Frame::ClientHello(hello) = frame else {
        return Err(Refusal::Loud(format!(
            "expected a client hello, got {:?}",
            frame.frame_type()
        )));
    };
    let principal = authenticate(config, cert_principal, &hello.token);
    let Some(principal) = principal else {
        // One answer whatever was asked: nothing about pipes leaks.
        let _ = send(
            &mut tls,
            &Frame::Error {
                code: npipe::win32::ERROR_ACCESS_DENIED,
                message: "authentication failed".into(),
            },
        )
        .await;
        return Err(Refusal::Loud("authentication failed".into()));
    };
    if hello.version != REMOTE_VERSION {
        let _ = send(
            &mut tls,
            &Frame::Error {
                code: npipe::win32::ERROR_NOT_SUPPORTED,
                message: format!("this npiped speaks protocol version {REMOTE_VERSION}"),
            },
        )
        .await;
        return Err(Refusal::Loud(format!(
            "unsupported protocol version {}",
            hello.version
        )));
    }
    check_limits(hello.max_frame, hello.window).map_err(|e| Refusal::Loud(e.to_string()))?;
    let server_hello = Frame::ServerHello(ServerHello {
        version: REMOTE_VERSION,
        max_frame: config.limits.max_frame,
        window: config.limits.window,
        idle_timeout_ms: config.limits.idle_timeout.as_millis().min(u32::MAX as u128) as u32,
    });
    send(&mut tls, &server_hello)
        .await
        .map_err(|e| Refusal::Quiet(e.to_string()))?;
    let (request, mut decoder) = read_frame(&mut tls, decoder).await?;
    if !matches!(request, Frame::Open(_) | Frame::Wait { .. }) {
        return Err(Refusal::Loud(format!(
            "expected open or wait, got {:?}",
            request.frame_type()
        )));
    }
    decoder.set_max_payload(config.limits.max_frame as usize);
    let computer_name: String = hello
        .computer_name
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let client = RemoteClient::new(principal, computer_name, peer.to_string());
    Ok((tls, decoder, client, request, hello))
}

/// The principal of an authenticated client, or `None`.
///
/// A certificate (already verified by TLS) stands for its principal; a
/// token, when given, must match a configured one whatever the certificate
/// says. With neither, the client is refused.
fn authenticate(config: &Config, cert: Option<String>, token: &str) -> Option<String> {
    let by_token = if token.is_empty() {
        None
    } else {
        match token_name(&config.tokens, token) {
            Some(name) => Some(name),
            None => return None,
        }
    };
    cert.or(by_token)
}

/// The name of the configured token equal to `given`, compared in
/// constant time: SHA-256 of both, then every byte of every token.
fn token_name(tokens: &[Token], given: &str) -> Option<String> {
    let given = Sha256::digest(given.as_bytes());
    let mut found = None;
    for token in tokens {
        let expected = Sha256::digest(token.secret.as_bytes());
        let diff = expected
            .iter()
            .zip(given.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if std::hint::black_box(diff) == 0 && found.is_none() {
            found = Some(token.name.clone());
        }
    }
    found
}

/// The error frame for a refused request: the Win32 code and the reason.
fn wire_error(e: &Error) -> Frame {
    let message = match e {
        Error::AccessDenied { reason, .. }
        | Error::BadPathname { reason, .. }
        | Error::InvalidParameter { reason }
        | Error::BadPipe { reason } => reason.clone(),
        other => other.to_string(),
    };
    Frame::Error {
        code: e.win32_code(),
        message,
    }
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, frame: &Frame) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    frame.encode(&mut bytes);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut decoder: FrameDecoder,
) -> Result<(Frame, FrameDecoder), Refusal> {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => return Ok((frame, decoder)),
            Ok(None) => {}
            Err(e) => return Err(Refusal::Loud(format!("bad frame: {e}"))),
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| Refusal::Quiet(e.to_string()))?;
        if n == 0 {
            return Err(Refusal::Quiet("the client hung up".into()));
        }
        decoder.push(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with(tokens: Vec<Token>) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            root: None,
            cert: "c".into(),
            key: "k".into(),
            client_ca: None,
            pinned: vec![],
            tokens,
            limits: crate::config::Limits::default(),
            log_level: "info".into(),
        }
    }

    #[test]
    fn authentication_needs_a_certificate_or_a_good_token() {
        let c = config_with(vec![Token {
            name: "ci".into(),
            secret: "0123456789abcdef".into(),
        }]);
        assert_eq!(
            authenticate(&c, None, "0123456789abcdef"),
            Some("ci".into())
        );
        assert_eq!(authenticate(&c, None, "0123456789abcdeX"), None);
        assert_eq!(authenticate(&c, None, ""), None);
        assert_eq!(
            authenticate(&c, Some("alice".into()), ""),
            Some("alice".into())
        );
        // A wrong token is refused even with a certificate.
        assert_eq!(
            authenticate(&c, Some("alice".into()), "wrong-token-0000"),
            None
        );
    }
}
