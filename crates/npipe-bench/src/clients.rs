//! The driver of `clients1000`: [`CLIENTS`] async clients on one
//! current-thread tokio runtime, each connecting, making
//! [`SESSION_ROUND_TRIPS`] round trips of 64 bytes and closing, again and
//! again until the time is up (and at least once each).
//!
//! An npipe pipe has at most 255 instances, so at most 255 clients are
//! connected at once; the others wait in `NamedPipeClient::open_wait`
//! (WaitNamedPipe's inotify watch, taking turns), not on a timer and not
//! in a thread. The framed baseline has no such limit: all its clients
//! connect at once.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use npipe::tokio::NamedPipeClient;
use npipe::{ClientOptions, ReadMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cases::{Case, Impl};
use crate::driver::{latency_metrics, GIB};
use crate::peer::{field, Peer, PeerStdio};
use crate::report::Metrics;
use crate::setup::{npipe_address, Context};

/// How many clients.
pub const CLIENTS: usize = 1000;

/// Round trips per connection.
pub const SESSION_ROUND_TRIPS: usize = 32;

/// How long one client may wait for an instance before the case fails:
/// as long as the peer may live (its watchdog ends a case that hangs), so
/// a slow debug build on a loaded machine waits rather than fails.
const OPEN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one client saw.
#[derive(Default)]
struct Seen {
    round_trips: Vec<Duration>,
    /// From asking to connect to being connected.
    waits: Vec<Duration>,
}

/// Where the clients meet the server.
#[derive(Clone)]
enum Target {
    Npipe {
        options: Arc<ClientOptions>,
        name: Arc<str>,
    },
    Framed(Arc<std::path::Path>),
}

/// One connection of either kind.
enum Conn {
    Npipe(Box<NamedPipeClient>),
    Framed(tokio::net::UnixStream),
}

impl Target {
    async fn connect(&self) -> io::Result<Conn> {
        Ok(match self {
            Target::Npipe { options, name } => Conn::Npipe(Box::new(
                NamedPipeClient::open_wait(options, &**name, OPEN_TIMEOUT).await?,
            )),
            Target::Framed(path) => Conn::Framed(tokio::net::UnixStream::connect(&**path).await?),
        })
    }
}

impl Conn {
    /// Sends `msg` and reads its echo into `buf` (room for a 4-byte header
    /// and `msg`).
    async fn round_trip(&mut self, msg: &[u8], buf: &mut [u8]) -> io::Result<()> {
        let got = match self {
            Conn::Npipe(client) => {
                client.write_message(msg).await?;
                let read = client.read_message(buf).await?;
                if read.is_complete() {
                    read.len()
                } else {
                    0
                }
            }
            Conn::Framed(stream) => {
                // The frame, header and payload, in one write.
                buf[..4].copy_from_slice(&(msg.len() as u32).to_le_bytes());
                buf[4..4 + msg.len()].copy_from_slice(msg);
                stream.write_all(&buf[..4 + msg.len()]).await?;
                stream.read_exact(&mut buf[..4 + msg.len()]).await?;
                u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize
            }
        };
        if got != msg.len() {
            return Err(io::Error::other(format!("an answer of {got} bytes")));
        }
        Ok(())
    }

    /// Sends the zero-length message that ends the server's run.
    async fn stop(&mut self) -> io::Result<()> {
        match self {
            Conn::Npipe(client) => {
                client.write_message(&[]).await?;
            }
            Conn::Framed(stream) => stream.write_all(&0u32.to_le_bytes()).await?,
        }
        Ok(())
    }
}

/// One client: sessions of [`SESSION_ROUND_TRIPS`] until `deadline`, at
/// least one.
async fn client(target: Target, size: usize, deadline: Instant) -> io::Result<Seen> {
    let msg = vec![0x42u8; size];
    let mut buf = vec![0u8; size + 4];
    let mut seen = Seen::default();
    while seen.waits.is_empty() || Instant::now() < deadline {
        let asked = Instant::now();
        let mut conn = target.connect().await?;
        seen.waits.push(asked.elapsed());
        for _ in 0..SESSION_ROUND_TRIPS {
            let t = Instant::now();
            conn.round_trip(&msg, &mut buf).await?;
            seen.round_trips.push(t.elapsed());
        }
    }
    Ok(seen)
}

/// Runs the `clients1000` case: the peer serves, this process runs the
/// clients on one thread.
pub(crate) fn clients(
    ctx: &mut Context,
    case: &Case,
    cpu: usize,
    duration: Duration,
) -> io::Result<Metrics> {
    let n = ctx.next();
    let root = ctx.npipe_root();
    let name = format!(r"\\.\pipe\bench-{n}");
    let sock = ctx.dir.join(format!("c{n}.sock"));
    let (target, address) = match case.implementation {
        Impl::NpipeTokio => {
            let mut options = ClientOptions::new();
            options.root(&root).read_mode(ReadMode::Message);
            let target = Target::Npipe {
                options: Arc::new(options),
                name: name.as_str().into(),
            };
            (target, npipe_address(&root, &name))
        }
        Impl::Framed => (
            Target::Framed(sock.as_path().into()),
            sock.to_string_lossy().into_owned(),
        ),
        other => return Err(io::Error::other(format!("no clients1000 for {other}"))),
    };
    let mut peer = Peer::spawn(&ctx.command, case, cpu, &address, PeerStdio::control())?;
    let ready = peer.expect("ready")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let size = case.size;
    let (seen, elapsed, driver_threads) = runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CLIENTS {
            tasks.spawn(client(target.clone(), size, deadline));
        }
        let driver_threads = crate::sys::usage().threads;
        let mut seen = Vec::with_capacity(CLIENTS);
        while let Some(result) = tasks.join_next().await {
            seen.push(result.map_err(io::Error::other)??);
        }
        let elapsed = start.elapsed().as_secs_f64();
        target.connect().await?.stop().await?;
        Ok::<_, io::Error>((seen, elapsed, driver_threads))
    })?;
    let done = peer.expect("done")?;
    peer.finish()?;
    let round_trips: Vec<Duration> = seen
        .iter()
        .flat_map(|s| s.round_trips.iter().copied())
        .collect();
    let mut waits: Vec<Duration> = seen.iter().flat_map(|s| s.waits.iter().copied()).collect();
    let count = round_trips.len() as u64;
    if field(&done, "msgs")? != count {
        return Err(io::Error::other(format!(
            "made {count} round trips, the server counted {}",
            field(&done, "msgs")?
        )));
    }
    let sessions = waits.len();
    waits.sort_unstable();
    let wait_at = |q: f64| {
        let i = ((waits.len() as f64 * q) as usize).min(waits.len() - 1);
        waits[i].as_secs_f64() * 1e6
    };
    let (wait_p50, wait_p99) = (wait_at(0.5), wait_at(0.99));
    // Per connection: the growth from before the server existed to the
    // last sample, over the connections open at that sample.
    let sampled = field(&done, "sampled_live")?.max(1) as f64;
    let per = |key: &str| -> io::Result<f64> {
        Ok((field(&done, &format!("peak_{key}"))? as f64 - field(&ready, key)? as f64) / sampled)
    };
    Ok(latency_metrics(round_trips)
        .with("msgs_per_s", count as f64 / elapsed)
        .with("gib_per_s", (count * size as u64) as f64 / elapsed / GIB)
        .with("sessions_per_s", sessions as f64 / elapsed)
        .with("clients", CLIENTS as f64)
        .with("sessions", sessions as f64)
        .with("connect_wait_p50_us", wait_p50)
        .with("connect_wait_p99_us", wait_p99)
        .with("peak_connections", field(&done, "peak_live")? as f64)
        .with("server_threads", field(&done, "peak_threads")? as f64)
        .with("server_threads_end", field(&done, "end_threads")? as f64)
        .with("driver_threads", driver_threads as f64)
        .with("fds_per_connection", per("fds")?)
        .with("rss_kib_per_connection", per("rss")? / 1024.0))
}
