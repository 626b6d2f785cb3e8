//! The peer process's side of every workload: the server that receives,
//! echoes, accepts, or holds 255 instances.

use std::io;
use std::os::unix::net::UnixListener;

use interprocess::local_socket::{prelude::*, GenericFilePath, ListenerOptions};
use npipe::{PipeMode, ReadMode, ServerOptions};

use crate::cases::{Impl, Workload};
use crate::channel::{Channel, Framed, Stream};
use crate::peer::say;
use crate::setup::{open_peer, split_npipe_address};
use crate::sys;

/// How many instances the busy-instances workload opens.
pub(crate) const INSTANCES: usize = 255;

/// Runs the peer side of `workload` for `implementation`, meeting the
/// driver at `address`.
pub(crate) fn serve(
    workload: Workload,
    size: usize,
    implementation: Impl,
    address: &str,
) -> io::Result<()> {
    if implementation == Impl::NpipeTokio || workload == Workload::Clients1000 {
        return crate::async_server::serve(workload, size, implementation, address);
    }
    match workload {
        Workload::Bulk | Workload::Messages => {
            let mut channel = open_peer(implementation, address, false)?;
            let (bytes, msgs) = sink(&mut *channel, size)?;
            say(&format!("done bytes={bytes} msgs={msgs}"))
        }
        Workload::RoundTrip => {
            let mut channel = open_peer(implementation, address, true)?;
            echo(&mut *channel, size)
        }
        Workload::Connect => accept_loop(implementation, address, size),
        Workload::Instances255 => busy_instances(implementation, address, size),
        Workload::Clients1000 => unreachable!("served above"),
    }
}

/// Receives until the driver closes; returns bytes and messages received.
/// Message channels must deliver messages of exactly `size` bytes.
fn sink(channel: &mut dyn Channel, size: usize) -> io::Result<(u64, u64)> {
    let mut buf = vec![0u8; size.max(64 * 1024)];
    let (mut bytes, mut msgs) = (0u64, 0u64);
    loop {
        let n = channel.recv(&mut buf)?;
        if n == 0 {
            break;
        }
        if channel.is_message() && n != size {
            return Err(io::Error::other(format!(
                "got a {n}-byte message, expected {size}"
            )));
        }
        bytes += n as u64;
        msgs += 1;
    }
    if !channel.is_message() {
        msgs = bytes / size as u64;
    }
    Ok((bytes, msgs))
}

/// Sends back every `size`-byte message until the driver closes.
fn echo(channel: &mut dyn Channel, size: usize) -> io::Result<()> {
    let mut buf = vec![0u8; size];
    while channel.recv_exact(&mut buf)? {
        channel.send(&buf)?;
    }
    Ok(())
}

/// Serves connections one after another: read one message, answer it,
/// close. Runs until the driver kills the process.
fn accept_loop(implementation: Impl, address: &str, size: usize) -> io::Result<()> {
    let mut buf = vec![0u8; size];
    let mut answer = |channel: &mut dyn Channel| -> io::Result<()> {
        if channel.recv_exact(&mut buf)? {
            channel.send(&buf)?;
        }
        Ok(())
    };
    match implementation {
        Impl::UnixStream => {
            let listener = UnixListener::bind(address)?;
            say("ready")?;
            loop {
                let (stream, _) = listener.accept()?;
                answer(&mut Stream {
                    inner: stream,
                    message: false,
                })?;
            }
        }
        Impl::Interprocess => {
            let listener = ListenerOptions::new()
                .name(address.to_fs_name::<GenericFilePath>()?)
                .create_sync()?;
            say("ready")?;
            loop {
                answer(&mut Stream {
                    inner: listener.accept()?,
                    message: false,
                })?;
            }
        }
        Impl::NpipeMsg => {
            // The Win32 sample server: one instance, ConnectNamedPipe, one
            // message in, one out, FlushFileBuffers (so the client has read
            // the answer before the disconnect discards what it has not),
            // DisconnectNamedPipe, and again.
            let (root, name) = split_npipe_address(address)?;
            let server = ServerOptions::new()
                .root(root)
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message)
                .create(name)?;
            say("ready")?;
            loop {
                server.connect()?;
                if let Ok(read) = server.read_message(&mut buf) {
                    if server.write_message(&buf[..read.len()]).is_ok() {
                        let _ = server.flush_buffers();
                    }
                }
                server.disconnect()?;
            }
        }
        other => Err(io::Error::other(format!("no accept loop for {other}"))),
    }
}

/// Holds [`INSTANCES`] connections at once and reads one message from
/// each in turn, in one thread, until the driver closes them. Reports fds
/// and RSS before the instances exist, while they listen, and once they
/// are connected.
fn busy_instances(implementation: Impl, address: &str, size: usize) -> io::Result<()> {
    let before = sys::usage();
    let mut channels: Vec<Box<dyn Channel>> = Vec::with_capacity(INSTANCES);
    match implementation {
        Impl::Framed => {
            // The baseline: one listening socket, one accepted socket per
            // client, each read through its own buffered reader.
            let listener = UnixListener::bind(address)?;
            let idle = sys::usage();
            say(&format!(
                "ready {} {}",
                before.encode(),
                idle.encode_as("idle_")
            ))?;
            for _ in 0..INSTANCES {
                let (stream, _) = listener.accept()?;
                channels.push(Box::new(Framed::new(stream)));
            }
        }
        Impl::NpipeMsg => {
            let (root, name) = split_npipe_address(address)?;
            let mut options = ServerOptions::new();
            options
                .root(root)
                .pipe_mode(PipeMode::Message)
                .read_mode(ReadMode::Message);
            let servers = (0..INSTANCES)
                .map(|_| options.create(name))
                .collect::<Result<Vec<_>, _>>()?;
            let idle = sys::usage();
            say(&format!(
                "ready {} {}",
                before.encode(),
                idle.encode_as("idle_")
            ))?;
            for server in servers {
                server.connect()?;
                channels.push(Box::new(Stream {
                    inner: server,
                    message: true,
                }));
            }
        }
        other => return Err(io::Error::other(format!("no busy instances for {other}"))),
    }
    say(&format!("connected {}", sys::usage().encode()))?;
    let mut buf = vec![0u8; size];
    let mut msgs = 0u64;
    'rounds: loop {
        for channel in channels.iter_mut() {
            match channel.recv(&mut buf)? {
                0 => break 'rounds,
                n if n == size => msgs += 1,
                n => return Err(io::Error::other(format!("a {n}-byte message"))),
            }
        }
    }
    say(&format!("done bytes={} msgs={msgs}", msgs * size as u64))
}
