//! Opening and waiting for a remote pipe: connect to `npiped`, TLS 1.3,
//! the hellos, one request, then hand the connection to a pump.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::name::{Host, PipeName};
use crate::namespace::{AllowList, PipeMeta};
use crate::net::options::Prepared;
use crate::net::pump::{self, CLIENT_MAX_FRAME, CLIENT_WINDOW};
use crate::net::transport::RemoteTransport;
use crate::net::{runtime, RemoteOptions};
use crate::pipe::conn::Conn;
use crate::pipe::endpoint::Endpoint;
use crate::pipe::{Access, PipeEnd, PipeMode, ReadMode, WaitTimeout};
use crate::proto::remote::{
    check_limits, ClientHello, Frame, FrameDecoder, Link, LinkConfig, OpenRequest, OpenedPipe,
    RemoteError, Role, ServerHello, WireWait, HANDSHAKE_FRAME_LIMIT, REMOTE_VERSION,
};
use crate::sys::socket::{self, PeerCred};
use crate::{win32, ClientOptions, Error, NamedPipeClient, Result};

pub(crate) use crate::net::pump::RemoteHandle;

/// A wait time-out as it travels.
pub(crate) fn wire_wait(timeout: WaitTimeout) -> WireWait {
    match timeout {
        WaitTimeout::Default => WireWait::Default,
        WaitTimeout::Forever => WireWait::Forever,
        WaitTimeout::Duration(d) => WireWait::Millis(d.as_millis().min(u32::MAX as u128) as u32),
    }
}

/// `CreateFile` on `\\host\pipe\NAME`, waiting for a free instance as
/// `wait` says.
pub(crate) fn open(
    options: &ClientOptions,
    name: &PipeName,
    wait: WireWait,
) -> Result<NamedPipeClient> {
    let connected = runtime::run(connect(options, name, wait)?)?;
    finish_open(options, name, connected)
}

/// [`open`] for a task: the connection is made on the `npipe-remote`
/// runtime, which this awaits from any runtime.
pub(crate) async fn open_async(
    options: &ClientOptions,
    name: &PipeName,
    wait: WireWait,
) -> Result<NamedPipeClient> {
    let connected = runtime::run_async(connect(options, name, wait)?).await?;
    finish_open(options, name, connected)
}

/// A remote pipe opened and its pump started, before the handle is made.
struct Connected {
    opened: OpenedPipe,
    data: std::os::fd::OwnedFd,
    ctl: std::os::fd::OwnedFd,
    remote: RemoteHandle,
    linger: Duration,
}

/// Checks the request and returns the work of opening it: connect, TLS,
/// the hellos, the open request, and the pump.
fn connect(
    options: &ClientOptions,
    name: &PipeName,
    wait: WireWait,
) -> Result<impl std::future::Future<Output = Result<Connected>> + Send + 'static> {
    if !options.read && !options.write {
        return Err(Error::InvalidParameter {
            reason: "open for reading, writing or both".into(),
        });
    }
    let prepared = prepare(options, name)?;
    let linger = prepared.linger;
    let request = Frame::Open(OpenRequest {
        read: options.read,
        write: options.write,
        wait,
        path: name.path().to_owned(),
    });
    let label = name.to_string();
    Ok(async move {
        let (mut tls, decoder, hello) = handshake(&prepared, &label).await?;
        write_frame(&mut tls, &request).await?;
        let (frame, decoder) = read_frame(&mut tls, decoder, None, &label).await?;
        let opened = match frame {
            Frame::Opened(opened) => opened,
            Frame::Error { code, message } => return Err(from_wire(code, message, &label)),
            other => {
                return Err(protocol(
                    &label,
                    RemoteError::UnexpectedFrame(other.frame_type()),
                ))
            }
        };
        let (data, data_pump) = socket::stream_pair()?;
        let (ctl, ctl_pump) = socket::seqpacket_pair()?;
        let link = Link::new(link_config(&hello), decoder, Instant::now());
        let remote = pump::spawn(tls, link, data_pump, ctl_pump)?;
        Ok(Connected {
            opened,
            data,
            ctl,
            remote,
            linger,
        })
    })
}

/// The client handle over a connected remote pipe, after the checks the
/// answer makes possible (dropping `connected` closes it).
fn finish_open(
    options: &ClientOptions,
    name: &PipeName,
    connected: Connected,
) -> Result<NamedPipeClient> {
    let Connected {
        opened,
        data,
        ctl,
        remote,
        linger,
    } = connected;
    let message = opened.message;
    if options.read_mode == ReadMode::Message && !message {
        return Err(Error::InvalidParameter {
            reason: "message read mode needs a message-type pipe".into(),
        });
    }
    if let Some(uid) = options.require_server_uid {
        if opened.server_uid != uid {
            return Err(Error::AccessDenied {
                name: name.to_string(),
                reason: format!(
                    "the server runs as uid {} on its host, not {uid}",
                    opened.server_uid
                ),
            });
        }
    }
    let meta = meta_of(name, &opened);
    let conn = Conn::new(
        Box::new(RemoteTransport::new(data, remote.clone(), linger)),
        ctl,
        message,
        PipeEnd::Client,
        PeerCred {
            pid: opened.server_pid,
            uid: opened.server_uid,
            gid: u32::MAX,
        },
    );
    let endpoint = Endpoint::new(
        name.clone(),
        PipeEnd::Client,
        meta,
        options.read_mode,
        options.nowait,
    )
    .with_access(options.read, options.write);
    Ok(NamedPipeClient::from_remote(endpoint, conn, remote))
}

/// `WaitNamedPipe` on `\\host\pipe\NAME`: `npiped` waits next to the pipe.
pub(crate) fn wait(options: &ClientOptions, name: &PipeName, timeout: WaitTimeout) -> Result<()> {
    runtime::run(wait_work(options, name, timeout)?)
}

/// [`wait`] for a task.
pub(crate) async fn wait_async(
    options: &ClientOptions,
    name: &PipeName,
    timeout: WaitTimeout,
) -> Result<()> {
    runtime::run_async(wait_work(options, name, timeout)?).await
}

fn wait_work(
    options: &ClientOptions,
    name: &PipeName,
    timeout: WaitTimeout,
) -> Result<impl std::future::Future<Output = Result<()>> + Send + 'static> {
    let prepared = prepare(options, name)?;
    let label = name.to_string();
    let request = Frame::Wait {
        wait: wire_wait(timeout),
        path: name.path().to_owned(),
    };
    Ok(async move {
        let (mut tls, decoder, _) = handshake(&prepared, &label).await?;
        write_frame(&mut tls, &request).await?;
        let (frame, _) = read_frame(&mut tls, decoder, None, &label).await?;
        match frame {
            Frame::WaitDone => Ok(()),
            Frame::Error { code, message } => Err(from_wire(code, message, &label)),
            other => Err(protocol(
                &label,
                RemoteError::UnexpectedFrame(other.frame_type()),
            )),
        }
    })
}

fn prepare(options: &ClientOptions, name: &PipeName) -> Result<Prepared> {
    let Host::Server(host) = name.host() else {
        return Err(Error::BadPathname {
            name: name.to_string(),
            reason: "not a remote pipe name".into(),
        });
    };
    match &options.remote {
        Some(remote) => remote.prepare(host),
        None => RemoteOptions::from_env()?.prepare(host),
    }
}

fn link_config(hello: &ServerHello) -> LinkConfig {
    let idle = Duration::from_millis(u64::from(hello.idle_timeout_ms.max(1000)));
    LinkConfig {
        role: Role::Client,
        max_send_frame: hello.max_frame as usize,
        recv_window: CLIENT_WINDOW,
        send_window: hello.window,
        idle_timeout: idle,
        ping_interval: Some(idle / 3),
    }
}

/// What a client handle's [`PipeMeta`] says about a remote pipe.
fn meta_of(name: &PipeName, opened: &OpenedPipe) -> PipeMeta {
    PipeMeta {
        name: name.to_string(),
        key: name.key().to_string(),
        pipe_mode: if opened.message {
            PipeMode::Message
        } else {
            PipeMode::Byte
        },
        access: match opened.access {
            1 => Access::Inbound,
            2 => Access::Outbound,
            _ => Access::Duplex,
        },
        max_instances: opened.max_instances,
        in_buffer: opened.in_buffer,
        out_buffer: opened.out_buffer,
        default_timeout_ms: u64::from(opened.default_timeout_ms),
        owner_uid: opened.server_uid,
        reject_remote: false,
        allow: AllowList::default(),
        remote_principals: Vec::new(),
    }
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

/// Connects, does the TLS handshake and the hellos.
async fn handshake(p: &Prepared, label: &str) -> Result<(Tls, FrameDecoder, ServerHello)> {
    let unreachable = |e: std::io::Error| Error::BadNetpath {
        host: p.address.to_string(),
        reason: format!("cannot reach npiped for {label}: {e}"),
    };
    let deadline = Instant::now() + p.connect_timeout;
    let timed_out = || unreachable(std::io::ErrorKind::TimedOut.into());
    let tcp = tokio::time::timeout_at(deadline.into(), TcpStream::connect(&p.address))
        .await
        .map_err(|_| timed_out())?
        .map_err(unreachable)?;
    let _ = tcp.set_nodelay(true);
    let connector = tokio_rustls::TlsConnector::from(p.tls.clone());
    let mut tls = tokio::time::timeout_at(
        deadline.into(),
        connector.connect(p.server_name.clone(), tcp),
    )
    .await
    .map_err(|_| timed_out())?
    .map_err(|e| tls_error(e, label, &p.address))?;
    let hello = Frame::ClientHello(ClientHello {
        version: REMOTE_VERSION,
        max_frame: CLIENT_MAX_FRAME,
        window: CLIENT_WINDOW,
        token: p.token.clone(),
        computer_name: p.computer_name.clone(),
    });
    write_frame(&mut tls, &hello)
        .await
        .map_err(|e| tls_error_of(e, label, &p.address))?;
    let decoder = FrameDecoder::new(HANDSHAKE_FRAME_LIMIT);
    let (frame, mut decoder) = read_frame(&mut tls, decoder, Some(deadline), label)
        .await
        .map_err(|e| tls_error_of(e, label, &p.address))?;
    let hello = match frame {
        Frame::ServerHello(hello) => hello,
        Frame::Error { code, message } => return Err(from_wire(code, message, label)),
        other => {
            return Err(protocol(
                label,
                RemoteError::UnexpectedFrame(other.frame_type()),
            ))
        }
    };
    if hello.version != REMOTE_VERSION {
        return Err(protocol(
            label,
            RemoteError::UnsupportedVersion(hello.version),
        ));
    }
    check_limits(hello.max_frame, hello.window).map_err(|e| protocol(label, e))?;
    decoder.set_max_payload(CLIENT_MAX_FRAME as usize);
    Ok((tls, decoder, hello))
}

async fn write_frame<S: AsyncWrite + Unpin>(stream: &mut S, frame: &Frame) -> Result<()> {
    let mut bytes = Vec::new();
    frame.encode(&mut bytes);
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    Ok(())
}

/// Reads until one whole frame has arrived (by `deadline`, if any).
async fn read_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut decoder: FrameDecoder,
    deadline: Option<Instant>,
    label: &str,
) -> Result<(Frame, FrameDecoder)> {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        if let Some(frame) = decoder.next_frame().map_err(|e| protocol(label, e))? {
            return Ok((frame, decoder));
        }
        let read = stream.read(&mut buf);
        let n = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), read)
                .await
                .map_err(|_| Error::Io(std::io::ErrorKind::TimedOut.into()))??,
            None => read.await?,
        };
        if n == 0 {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                format!("npiped closed the connection for {label} before answering"),
            )));
        }
        decoder.push(&buf[..n]);
    }
}

fn protocol(label: &str, e: RemoteError) -> Error {
    Error::Protocol {
        reason: format!("npiped's answer for {label}: {e}"),
    }
}

/// A Win32 error code and message from `npiped`, as the local error.
pub(crate) fn from_wire(code: u32, message: String, name: &str) -> Error {
    let name = name.to_owned();
    match code {
        win32::ERROR_FILE_NOT_FOUND => Error::FileNotFound { name },
        win32::ERROR_PIPE_BUSY => Error::PipeBusy { name },
        win32::ERROR_ACCESS_DENIED => Error::AccessDenied {
            name,
            reason: message,
        },
        win32::ERROR_BAD_PATHNAME => Error::BadPathname {
            name,
            reason: message,
        },
        win32::ERROR_INVALID_PARAMETER => Error::InvalidParameter { reason: message },
        win32::ERROR_SEM_TIMEOUT => Error::Timeout,
        win32::ERROR_PIPE_NOT_CONNECTED => Error::PipeNotConnected,
        win32::ERROR_BROKEN_PIPE => Error::BrokenPipe,
        win32::ERROR_NO_DATA => Error::NoData,
        win32::ERROR_BAD_PIPE => Error::BadPipe { reason: message },
        win32::ERROR_INVALID_DATA => Error::Protocol { reason: message },
        other => Error::Remote {
            name,
            code: crate::Win32Code(other),
            message: format!("npiped refused it: {message}"),
        },
    }
}

fn tls_error_of(e: Error, label: &str, address: &str) -> Error {
    match e {
        Error::Io(io) => tls_error(io, label, address),
        other => other,
    }
}

/// Names the TLS failures a user can act on: the server refused this
/// client's credentials, or this client does not trust the server's.
fn tls_error(e: std::io::Error, label: &str, address: &str) -> Error {
    use rustls::AlertDescription as A;
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::AlertReceived(
            alert @ (A::CertificateRequired
            | A::BadCertificate
            | A::UnknownCA
            | A::AccessDenied
            | A::CertificateUnknown
            | A::DecryptError
            | A::HandshakeFailure),
        )) => Error::AccessDenied {
            name: label.to_owned(),
            reason: format!("npiped at {address} refused this client's credentials ({alert:?})"),
        },
        Some(rustls::Error::InvalidCertificate(why)) => Error::AccessDenied {
            name: label.to_owned(),
            reason: format!(
                "npiped at {address} showed a certificate this client does not trust: {why}"
            ),
        },
        _ => Error::Io(std::io::Error::new(
            e.kind(),
            format!("TLS with npiped at {address} for {label} failed: {e}"),
        )),
    }
}
