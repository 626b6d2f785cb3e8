//! The peer's side of every `npipe-tokio` case, and the server of both
//! `clients1000` cases: async servers on one current-thread tokio runtime,
//! written the way a tokio program would write them (a task per
//! connection where there are several), so the process has one thread
//! however many clients it serves.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use npipe::tokio::{NamedPipeServer, PipeListener};
use npipe::{MessageRead, PipeMode, ReadMode, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Notify;

use crate::cases::{Impl, Workload};
use crate::peer::say;
use crate::server::INSTANCES;
use crate::setup::split_npipe_address;
use crate::sys::{self, Usage};

/// Runs the peer side of `workload` for `implementation` (npipe-tokio, or
/// the framed baseline of `clients1000`) on a current-thread runtime.
pub(crate) fn serve(
    workload: Workload,
    size: usize,
    implementation: Impl,
    address: &str,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match (workload, implementation) {
            (Workload::Bulk | Workload::Messages, Impl::NpipeTokio) => sink(address, size).await,
            (Workload::RoundTrip, Impl::NpipeTokio) => echo(address, size).await,
            (Workload::Connect, Impl::NpipeTokio) => accept_loop(address, size).await,
            (Workload::Instances255, Impl::NpipeTokio) => busy_instances(address, size).await,
            (Workload::Clients1000, Impl::NpipeTokio) => clients_npipe(address).await,
            (Workload::Clients1000, Impl::Framed) => clients_framed(address).await,
            (w, i) => Err(io::Error::other(format!(
                "no async server for {i} in {}",
                w.name()
            ))),
        }
    })
}

/// Message type, message read mode, in the namespace root of `address`.
fn message_options(address: &str) -> io::Result<(ServerOptions, &str)> {
    let (root, name) = split_npipe_address(address)?;
    let mut options = ServerOptions::new();
    options
        .root(root)
        .pipe_mode(PipeMode::Message)
        .read_mode(ReadMode::Message);
    Ok((options, name))
}

/// The length of one whole message, or an error for a piece of one.
fn whole(read: MessageRead) -> io::Result<usize> {
    if !read.is_complete() {
        return Err(io::Error::other(format!(
            "a message longer than the buffer ({} bytes read)",
            read.len()
        )));
    }
    Ok(read.len())
}

/// One instance: receive `size`-byte messages until the client closes.
async fn sink(address: &str, size: usize) -> io::Result<()> {
    let (options, name) = message_options(address)?;
    let server = NamedPipeServer::create(&options, name)?;
    say("ready")?;
    server.connect().await?;
    let mut buf = vec![0u8; size.max(64 * 1024)];
    let (mut bytes, mut msgs) = (0u64, 0u64);
    loop {
        match server.read_message(&mut buf).await {
            Ok(read) => {
                let n = whole(read)?;
                if n != size {
                    return Err(io::Error::other(format!(
                        "got a {n}-byte message, expected {size}"
                    )));
                }
                bytes += n as u64;
                msgs += 1;
            }
            Err(npipe::Error::BrokenPipe) => break,
            Err(e) => return Err(e.into()),
        }
    }
    say(&format!("done bytes={bytes} msgs={msgs}"))
}

/// One instance: send back every message until the client closes.
async fn echo(address: &str, size: usize) -> io::Result<()> {
    let (options, name) = message_options(address)?;
    let server = NamedPipeServer::create(&options, name)?;
    say("ready")?;
    server.connect().await?;
    let mut buf = vec![0u8; size];
    loop {
        match server.read_message(&mut buf).await {
            Ok(read) => {
                let n = whole(read)?;
                server.write_message(&buf[..n]).await?;
            }
            Err(npipe::Error::BrokenPipe) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// A [`PipeListener`] and a task per client: read one message, answer it,
/// drop the instance (the client still reads the answer; the instance
/// goes back to the listener). Runs until the driver kills the process.
async fn accept_loop(address: &str, size: usize) -> io::Result<()> {
    let (options, name) = message_options(address)?;
    let mut listener = PipeListener::bind(&options, name)?;
    say("ready")?;
    loop {
        let server = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; size];
            if let Ok(read) = server.read_message(&mut buf).await {
                let _ = server.write_message(&buf[..read.len()]).await;
            }
        });
    }
}

/// [`INSTANCES`] instances made with `NamedPipeServer::create`, connected
/// one after the other, then a task each reading messages until its
/// client closes. Reports fds, RSS and threads before the instances
/// exist, while they listen, and once they are connected and registered
/// with the reactor.
async fn busy_instances(address: &str, size: usize) -> io::Result<()> {
    let (options, name) = message_options(address)?;
    let before = sys::usage();
    let servers = (0..INSTANCES)
        .map(|_| NamedPipeServer::create(&options, name))
        .collect::<Result<Vec<_>, _>>()?;
    let idle = sys::usage();
    say(&format!(
        "ready {} {}",
        before.encode(),
        idle.encode_as("idle_")
    ))?;
    for server in &servers {
        server.connect().await?;
        // Registers the connection with the reactor now (peek never
        // waits), so the figures below include what the reads will use.
        server.peek(&mut [])?;
    }
    say(&format!("connected {}", sys::usage().encode()))?;
    let msgs = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for server in servers {
        let msgs = Arc::clone(&msgs);
        tasks.spawn(async move {
            let mut buf = vec![0u8; size];
            loop {
                match server.read_message(&mut buf).await {
                    Ok(read) if read.is_complete() && read.len() == size => {
                        msgs.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(read) => {
                        return Err(io::Error::other(format!("a {}-byte message", read.len())))
                    }
                    Err(npipe::Error::BrokenPipe) => return Ok(()),
                    Err(e) => return Err(io::Error::from(e)),
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(io::Error::other)??;
    }
    let msgs = msgs.load(Ordering::Relaxed);
    say(&format!("done bytes={} msgs={msgs}", msgs * size as u64))
}

/// What a `clients1000` server counts: connections served, connections
/// open at once (the most, and the usage sampled as it grew), round trips
/// answered, and the stop request.
#[derive(Default)]
struct Served {
    connections: AtomicU64,
    live: AtomicUsize,
    round_trips: AtomicU64,
    /// The most connections open at once, and the last usage sample with
    /// the number open when it was taken.
    peak: Mutex<(usize, Option<(usize, Usage)>)>,
    stop: Notify,
}

impl Served {
    /// A connection arrived. The usage is sampled as the number open at
    /// once grows past each multiple of 16 (and at the instance limit),
    /// so a few dozen samples cost little and the last one is near the
    /// peak.
    fn opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        let mut peak = self.peak.lock().unwrap_or_else(|p| p.into_inner());
        if live > peak.0 {
            peak.0 = live;
            if peak.1.is_none() || live.is_multiple_of(16) || live == INSTANCES {
                peak.1 = Some((live, sys::usage()));
            }
        }
    }

    fn closed(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// The `done` line: counts, and the usage at the peak and now.
    fn report(&self, before: &Usage) -> String {
        let peak = self.peak.lock().unwrap_or_else(|p| p.into_inner());
        let (sampled_live, sampled) = peak.1.unwrap_or((0, *before));
        let now = sys::usage();
        format!(
            "done msgs={} connections={} peak_live={} sampled_live={sampled_live} {} {}",
            self.round_trips.load(Ordering::Relaxed),
            self.connections.load(Ordering::Relaxed),
            peak.0,
            sampled.encode_as("peak_"),
            now.encode_as("end_"),
        )
    }
}

/// The npipe server of `clients1000`: a [`PipeListener`] (at most 255
/// instances, the pipe's limit) and a task per connection echoing 64-byte
/// messages. A zero-length message from the driver ends the run.
async fn clients_npipe(address: &str) -> io::Result<()> {
    let (options, name) = message_options(address)?;
    let before = sys::usage();
    let mut listener = PipeListener::bind(&options, name)?;
    say(&format!("ready {}", before.encode()))?;
    let served = Arc::new(Served::default());
    loop {
        let server = tokio::select! {
            biased;
            () = served.stop.notified() => break,
            accepted = listener.accept() => accepted?,
        };
        served.opened();
        let served = Arc::clone(&served);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(read) = server.read_message(&mut buf).await {
                if read.is_empty() {
                    served.stop.notify_one();
                    break;
                }
                if server.write_message(&buf[..read.len()]).await.is_err() {
                    break;
                }
                served.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            served.closed();
        });
    }
    say(&served.report(&before))
}

/// The framed baseline of `clients1000`: a tokio `UnixListener` and a task
/// per connection echoing length-prefixed frames (each answer one write).
/// A zero-length frame ends the run.
async fn clients_framed(address: &str) -> io::Result<()> {
    let before = sys::usage();
    let listener = tokio::net::UnixListener::bind(address)?;
    say(&format!("ready {}", before.encode()))?;
    let served = Arc::new(Served::default());
    loop {
        let (stream, _) = tokio::select! {
            biased;
            () = served.stop.notified() => break,
            accepted = listener.accept() => accepted?,
        };
        served.opened();
        let served = Arc::clone(&served);
        tokio::spawn(async move {
            let mut stream = BufReader::with_capacity(4096, stream);
            let mut frame = [0u8; 4 + 1024];
            loop {
                if stream.read_exact(&mut frame[..4]).await.is_err() {
                    break;
                }
                let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
                if len == 0 {
                    served.stop.notify_one();
                    break;
                }
                if len > 1024 || stream.read_exact(&mut frame[4..4 + len]).await.is_err() {
                    break;
                }
                if stream.get_mut().write_all(&frame[..4 + len]).await.is_err() {
                    break;
                }
                served.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            served.closed();
        });
    }
    say(&served.report(&before))
}
