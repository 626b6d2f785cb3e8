//! Opening one connection of each implementation between the driver (the
//! client side, which measures) and the peer process (the server side).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use interprocess::local_socket::{prelude::*, GenericFilePath, ListenerOptions};
use ipc_channel::ipc::{self, IpcBytesReceiver, IpcBytesSender, IpcOneShotServer, IpcSender};
use npipe::{ClientOptions, PipeMode, ReadMode, ServerOptions};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use crate::cases::{Case, Impl};
use crate::channel::{Channel, Framed, FramedNaive, FramedPeek, Ipc, Pipes, Seqpacket, Stream};
use crate::peer::{say, Peer, PeerCommand, PeerStdio};

/// What a run shares between its cases: where to start peers, and a
/// private directory for socket paths and the npipe namespace root.
#[derive(Debug)]
pub(crate) struct Context {
    pub command: PeerCommand,
    pub dir: PathBuf,
    pub serial: u64,
}

impl Context {
    /// A fresh socket path or pipe name suffix, never reused in a run.
    pub fn next(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    pub fn npipe_root(&self) -> PathBuf {
        self.dir.join("root")
    }
}

/// The address a peer of a named-pipe case serves: `root|name`.
pub(crate) fn npipe_address(root: &Path, name: &str) -> String {
    format!("{}|{name}", root.display())
}

pub(crate) fn split_npipe_address(address: &str) -> io::Result<(&str, &str)> {
    address
        .split_once('|')
        .ok_or_else(|| io::Error::other("bad npipe address"))
}

/// Starts the peer of `case` and connects to it. With `duplex`, data flows
/// both ways (round trips); otherwise only from the driver to the peer.
pub(crate) fn open_driver(
    ctx: &mut Context,
    case: &Case,
    cpu: usize,
    duplex: bool,
) -> io::Result<(Box<dyn Channel>, Peer)> {
    let n = ctx.next();
    let sock = ctx.dir.join(format!("c{n}.sock"));
    let sock_str = sock.to_string_lossy().into_owned();
    let spawn =
        |ctx: &Context, address: &str, stdio| Peer::spawn(&ctx.command, case, cpu, address, stdio);
    Ok(match case.implementation {
        Impl::Pipe | Impl::Pipe1M => {
            let (to_peer_r, to_peer_w) = raw_pipe(case.implementation == Impl::Pipe1M)?;
            let (back_r, back_w) = if duplex {
                let (r, w) = raw_pipe(case.implementation == Impl::Pipe1M)?;
                (Some(File::from(r)), Some(Stdio::from(w)))
            } else {
                (None, None)
            };
            let stdio = PeerStdio {
                stdin: Stdio::from(to_peer_r),
                stdout: back_w,
            };
            let peer = spawn(ctx, "-", stdio)?;
            let channel = Pipes {
                read: back_r,
                write: Some(File::from(to_peer_w)),
            };
            (Box::new(channel), peer)
        }
        Impl::NpipeAnon => {
            let (to_peer_r, to_peer_w) = npipe::anonymous::pipe()?;
            let (back_r, back_w) = if duplex {
                let (r, w) = npipe::anonymous::pipe()?;
                (Some(r), Some(Stdio::from(w)))
            } else {
                (None, None)
            };
            let stdio = PeerStdio {
                stdin: Stdio::from(to_peer_r),
                stdout: back_w,
            };
            let peer = spawn(ctx, "-", stdio)?;
            let channel = Pipes {
                read: back_r,
                write: Some(to_peer_w),
            };
            (Box::new(channel), peer)
        }
        Impl::UnixStream | Impl::Framed | Impl::FramedNaive | Impl::FramedPeek => {
            let mut peer = spawn(ctx, &sock_str, PeerStdio::control())?;
            peer.expect("ready")?;
            let stream = UnixStream::connect(&sock)?;
            let channel: Box<dyn Channel> = match case.implementation {
                Impl::Framed => Box::new(Framed::new(stream)),
                Impl::FramedNaive => Box::new(FramedNaive(stream)),
                Impl::FramedPeek => Box::new(FramedPeek(stream)),
                _ => Box::new(Stream {
                    inner: stream,
                    message: false,
                }),
            };
            (channel, peer)
        }
        Impl::UnixSeqpacket => {
            let mut peer = spawn(ctx, &sock_str, PeerStdio::control())?;
            peer.expect("ready")?;
            let fd = seqpacket_socket()?;
            rustix::net::connect(&fd, &SocketAddrUnix::new(sock.as_path())?)?;
            (Box::new(Seqpacket(fd)), peer)
        }
        Impl::Interprocess => {
            let mut peer = spawn(ctx, &sock_str, PeerStdio::control())?;
            peer.expect("ready")?;
            let stream =
                interprocess::local_socket::Stream::connect(sock.to_fs_name::<GenericFilePath>()?)?;
            let channel = Stream {
                inner: stream,
                message: false,
            };
            (Box::new(channel), peer)
        }
        Impl::IpcChannel => {
            let (server, name) = IpcOneShotServer::<(IpcBytesSender, IpcBytesReceiver)>::new()?;
            let peer = spawn(ctx, &name, PeerStdio::control())?;
            let (_, (tx, rx)) = server.accept().map_err(ipc_error)?;
            let channel = Ipc {
                tx: Some(tx),
                rx: Some(rx),
            };
            (Box::new(channel), peer)
        }
        // npipe-tokio: the peer's server is async (`async_server.rs`); the
        // driver is the same blocking client as npipe-msg's.
        Impl::NpipeByte | Impl::NpipeMsg | Impl::NpipeTokio => {
            let root = ctx.npipe_root();
            let name = format!(r"\\.\pipe\bench-{n}");
            let mut peer = spawn(ctx, &npipe_address(&root, &name), PeerStdio::control())?;
            peer.expect("ready")?;
            let message = case.implementation != Impl::NpipeByte;
            let mut options = ClientOptions::new();
            options.root(&root);
            if message {
                options.read_mode(ReadMode::Message);
            }
            let client = options.open(&name)?;
            (
                Box::new(Stream {
                    inner: client,
                    message,
                }),
                peer,
            )
        }
    })
}

/// The peer's side of [`open_driver`]: serves one connection at `address`.
pub(crate) fn open_peer(
    implementation: Impl,
    address: &str,
    duplex: bool,
) -> io::Result<Box<dyn Channel>> {
    Ok(match implementation {
        Impl::Pipe | Impl::Pipe1M => Box::new(Pipes {
            read: Some(File::from(stdin_fd()?)),
            write: if duplex {
                Some(File::from(stdout_fd()?))
            } else {
                None
            },
        }),
        Impl::NpipeAnon => Box::new(Pipes {
            read: Some(npipe::anonymous::PipeReader::from(stdin_fd()?)),
            write: if duplex {
                Some(npipe::anonymous::PipeWriter::from(stdout_fd()?))
            } else {
                None
            },
        }),
        Impl::UnixStream | Impl::Framed | Impl::FramedNaive | Impl::FramedPeek => {
            let listener = UnixListener::bind(address)?;
            say("ready")?;
            let (stream, _) = listener.accept()?;
            match implementation {
                Impl::Framed => Box::new(Framed::new(stream)),
                Impl::FramedNaive => Box::new(FramedNaive(stream)),
                Impl::FramedPeek => Box::new(FramedPeek(stream)),
                _ => Box::new(Stream {
                    inner: stream,
                    message: false,
                }),
            }
        }
        Impl::UnixSeqpacket => {
            let listener = seqpacket_socket()?;
            rustix::net::bind(&listener, &SocketAddrUnix::new(address)?)?;
            rustix::net::listen(&listener, 8)?;
            say("ready")?;
            let fd = rustix::net::accept_with(&listener, SocketFlags::CLOEXEC)?;
            Box::new(Seqpacket(fd))
        }
        Impl::Interprocess => {
            let listener = ListenerOptions::new()
                .name(address.to_fs_name::<GenericFilePath>()?)
                .create_sync()?;
            say("ready")?;
            Box::new(Stream {
                inner: listener.accept()?,
                message: false,
            })
        }
        Impl::IpcChannel => {
            let (to_peer_tx, to_peer_rx) = ipc::bytes_channel()?;
            let (back_tx, back_rx) = ipc::bytes_channel()?;
            let hello = IpcSender::<(IpcBytesSender, IpcBytesReceiver)>::connect(address.into())?;
            hello.send((to_peer_tx, back_rx)).map_err(ipc_error)?;
            Box::new(Ipc {
                tx: Some(back_tx),
                rx: Some(to_peer_rx),
            })
        }
        Impl::NpipeByte | Impl::NpipeMsg => {
            let (root, name) = split_npipe_address(address)?;
            let message = implementation == Impl::NpipeMsg;
            let mut options = ServerOptions::new();
            options.root(root);
            if message {
                options
                    .pipe_mode(PipeMode::Message)
                    .read_mode(ReadMode::Message);
            }
            let server = options.create(name)?;
            say("ready")?;
            server.connect()?;
            Box::new(Stream {
                inner: server,
                message,
            })
        }
        // Its server is a task, not a channel: see `async_server.rs`.
        Impl::NpipeTokio => {
            return Err(io::Error::other("npipe-tokio is served by async_server.rs"))
        }
    })
}

/// A raw kernel pipe, close-on-exec, optionally grown to 1 MiB.
fn raw_pipe(one_mib: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    if one_mib {
        rustix::pipe::fcntl_setpipe_size(&w, 1 << 20)?;
    }
    Ok((r, w))
}

pub(crate) fn seqpacket_socket() -> io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

fn stdin_fd() -> io::Result<OwnedFd> {
    io::stdin().as_fd().try_clone_to_owned()
}

fn stdout_fd() -> io::Result<OwnedFd> {
    io::stdout().as_fd().try_clone_to_owned()
}

pub(crate) fn ipc_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("ipc-channel: {e}"))
}
