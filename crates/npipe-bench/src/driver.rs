//! The measuring side of every workload. The driver is the client: it
//! starts the peer, connects, sends, times, and turns what it saw into
//! [`Metrics`].

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use interprocess::local_socket::{prelude::*, GenericFilePath};
use npipe::ClientOptions;

use crate::cases::{Case, Impl, Workload};
use crate::channel::write_frame;
use crate::peer::{field, Peer, PeerStdio};
use crate::report::Metrics;
use crate::server::INSTANCES;
use crate::setup::{npipe_address, open_driver, Context};

/// Round trips and connections sampled at least this many times, however
/// short the run.
const MIN_SAMPLES: usize = 200;

/// Measures `case` once, the driver on `cpus.0` and the peer on `cpus.1`,
/// for about `duration`.
pub(crate) fn measure(
    ctx: &mut Context,
    case: &Case,
    cpus: (usize, usize),
    duration: Duration,
) -> io::Result<Metrics> {
    crate::sys::pin_to(cpus.0)?;
    let peer_cpu = cpus.1;
    match case.workload {
        Workload::Bulk | Workload::Messages => one_way(ctx, case, peer_cpu, duration),
        Workload::RoundTrip => round_trip(ctx, case, peer_cpu, duration),
        Workload::Connect => connect(ctx, case, peer_cpu, duration),
        Workload::Instances255 => busy_instances(ctx, case, peer_cpu, duration),
        Workload::Clients1000 => crate::clients::clients(ctx, case, peer_cpu, duration),
    }
}

/// Sends `size`-byte writes for `duration`, then closes; the peer counts
/// what arrived and says so once it has read the last byte.
fn one_way(ctx: &mut Context, case: &Case, cpu: usize, duration: Duration) -> io::Result<Metrics> {
    let (mut channel, mut peer) = open_driver(ctx, case, cpu, false)?;
    let size = case.size;
    let msg = vec![0xa5u8; size];
    // Look at the clock every ~256 KiB or 64 writes, whichever comes first.
    let batch = (256 * 1024 / size).clamp(1, 64) as u64;
    let mut sent = 0u64;
    let start = Instant::now();
    loop {
        for _ in 0..batch {
            channel.send(&msg)?;
        }
        sent += batch;
        if start.elapsed() >= duration {
            break;
        }
    }
    drop(channel);
    let done = peer.expect("done")?;
    let elapsed = start.elapsed().as_secs_f64();
    peer.finish()?;
    let (bytes, msgs) = (field(&done, "bytes")?, field(&done, "msgs")?);
    if bytes != sent * size as u64 {
        return Err(io::Error::other(format!(
            "sent {} bytes, the peer got {bytes}",
            sent * size as u64
        )));
    }
    Ok(Metrics::new()
        .with("gib_per_s", bytes as f64 / elapsed / GIB)
        .with("msgs_per_s", msgs as f64 / elapsed))
}

/// Ping-pong of `size` bytes for `duration` after a warm-up of a tenth of it.
fn round_trip(
    ctx: &mut Context,
    case: &Case,
    cpu: usize,
    duration: Duration,
) -> io::Result<Metrics> {
    let (mut channel, peer) = open_driver(ctx, case, cpu, true)?;
    let msg = vec![0x5au8; case.size];
    let mut buf = vec![0u8; case.size];
    let mut once = |channel: &mut dyn crate::channel::Channel| -> io::Result<()> {
        channel.send(&msg)?;
        if !channel.recv_exact(&mut buf)? {
            return Err(io::Error::other("the peer closed mid-run"));
        }
        Ok(())
    };
    let warm_up = Instant::now();
    while warm_up.elapsed() < duration / 10 {
        once(&mut *channel)?;
    }
    let mut samples = Vec::with_capacity(1 << 16);
    let start = Instant::now();
    while start.elapsed() < duration || samples.len() < MIN_SAMPLES {
        let t = Instant::now();
        once(&mut *channel)?;
        samples.push(t.elapsed());
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(channel);
    peer.finish()?;
    let count = samples.len() as f64;
    Ok(latency_metrics(samples).with("round_trips_per_s", count / elapsed))
}

/// Connect, send one message, read its answer, close; as often as
/// possible for `duration`.
fn connect(ctx: &mut Context, case: &Case, cpu: usize, duration: Duration) -> io::Result<Metrics> {
    let n = ctx.next();
    let sock = ctx.dir.join(format!("c{n}.sock"));
    let root = ctx.npipe_root();
    let name = format!(r"\\.\pipe\bench-{n}");
    let address = match case.implementation {
        Impl::NpipeMsg | Impl::NpipeTokio => npipe_address(&root, &name),
        _ => sock.to_string_lossy().into_owned(),
    };
    let mut peer = Peer::spawn(&ctx.command, case, cpu, &address, PeerStdio::control())?;
    peer.expect("ready")?;
    let msg = vec![0x33u8; case.size];
    let mut buf = vec![0u8; case.size];
    let mut client = ClientOptions::new();
    client.root(&root);
    let mut retries = 0u64;
    let mut once = || -> io::Result<()> {
        match case.implementation {
            Impl::UnixStream => {
                let mut stream = UnixStream::connect(&sock)?;
                stream.write_all(&msg)?;
                stream.read_exact(&mut buf)
            }
            Impl::Interprocess => {
                let mut stream = interprocess::local_socket::Stream::connect(
                    sock.as_path().to_fs_name::<GenericFilePath>()?,
                )?;
                stream.write_all(&msg)?;
                stream.read_exact(&mut buf)
            }
            // The same client against npipe-msg's one-instance blocking
            // server and npipe-tokio's PipeListener.
            Impl::NpipeMsg | Impl::NpipeTokio => loop {
                // CallNamedPipe: wait for the instance, open, transact, close.
                match client.call(&name, &msg, &mut buf, Duration::from_secs(10)) {
                    Ok(got) if got.len() == msg.len() => return Ok(()),
                    Ok(_) => return Err(io::Error::other("a short answer")),
                    // The server dropped this connection after accepting
                    // it (see "connect" in docs/BENCHMARKS.md): call again,
                    // and count it.
                    Err(npipe::Error::NoData | npipe::Error::BrokenPipe) if retries < 1_000_000 => {
                        retries += 1
                    }
                    Err(e) => return Err(e.into()),
                }
            },
            other => Err(io::Error::other(format!("no connect workload for {other}"))),
        }
    };
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed() < duration || samples.len() < MIN_SAMPLES / 4 {
        let t = Instant::now();
        once()?;
        samples.push(t.elapsed());
    }
    let elapsed = start.elapsed().as_secs_f64();
    drop(peer); // the accept loop never ends by itself
    let count = samples.len() as f64;
    Ok(latency_metrics(samples)
        .with("ops_per_s", count / elapsed)
        .with("retries", retries as f64))
}

/// Opens [`INSTANCES`] connections, then writes one message to each in
/// turn, in one thread, for `duration`. The peer reads them the same way.
fn busy_instances(
    ctx: &mut Context,
    case: &Case,
    cpu: usize,
    duration: Duration,
) -> io::Result<Metrics> {
    let n = ctx.next();
    let sock = ctx.dir.join(format!("c{n}.sock"));
    let root = ctx.npipe_root();
    let name = format!(r"\\.\pipe\bench-{n}");
    let address = match case.implementation {
        Impl::NpipeMsg | Impl::NpipeTokio => npipe_address(&root, &name),
        _ => sock.to_string_lossy().into_owned(),
    };
    let mut peer = Peer::spawn(&ctx.command, case, cpu, &address, PeerStdio::control())?;
    let ready = peer.expect("ready")?;
    let msg = vec![0x77u8; case.size];
    let mut rounds = 0u64;
    let start;
    let connected;
    match case.implementation {
        Impl::Framed => {
            let mut streams = (0..INSTANCES)
                .map(|_| UnixStream::connect(&sock))
                .collect::<Result<Vec<_>, _>>()?;
            connected = peer.expect("connected")?;
            start = Instant::now();
            while start.elapsed() < duration || rounds < 2 {
                for stream in streams.iter_mut() {
                    write_frame(stream, &msg)?;
                }
                rounds += 1;
            }
        }
        // Blocking clients for the blocking and the async server alike.
        Impl::NpipeMsg | Impl::NpipeTokio => {
            let mut options = ClientOptions::new();
            options.root(&root);
            let clients = (0..INSTANCES)
                .map(|_| options.open(&name))
                .collect::<Result<Vec<_>, _>>()?;
            connected = peer.expect("connected")?;
            start = Instant::now();
            while start.elapsed() < duration || rounds < 2 {
                for client in clients.iter() {
                    client.write_message(&msg)?;
                }
                rounds += 1;
            }
        }
        other => return Err(io::Error::other(format!("no busy instances for {other}"))),
    }
    let done = peer.expect("done")?;
    let elapsed = start.elapsed().as_secs_f64();
    peer.finish()?;
    let msgs = field(&done, "msgs")?;
    if msgs != rounds * INSTANCES as u64 {
        return Err(io::Error::other(format!(
            "sent {} messages, the peer got {msgs}",
            rounds * INSTANCES as u64
        )));
    }
    let per = |after: u64, before: u64| (after as f64 - before as f64) / INSTANCES as f64;
    let (fds0, rss0) = (field(&ready, "fds")?, field(&ready, "rss")?);
    Ok(Metrics::new()
        .with("msgs_per_s", msgs as f64 / elapsed)
        .with(
            "gib_per_s",
            (msgs * case.size as u64) as f64 / elapsed / GIB,
        )
        .with(
            "idle_fds_per_instance",
            per(field(&ready, "idle_fds")?, fds0),
        )
        .with(
            "idle_rss_kib_per_instance",
            per(field(&ready, "idle_rss")?, rss0) / 1024.0,
        )
        .with(
            "connected_fds_per_instance",
            per(field(&connected, "fds")?, fds0),
        )
        .with(
            "connected_rss_kib_per_instance",
            per(field(&connected, "rss")?, rss0) / 1024.0,
        )
        .with("server_threads", field(&connected, "threads")? as f64))
}

pub(crate) const GIB: f64 = (1u64 << 30) as f64;

/// p50, p99, p99.9 and mean of `samples`, in microseconds.
pub(crate) fn latency_metrics(mut samples: Vec<Duration>) -> Metrics {
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q) as usize).min(samples.len() - 1);
        samples[i].as_secs_f64() * 1e6
    };
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64;
    Metrics::new()
        .with("p50_us", at(0.50))
        .with("p99_us", at(0.99))
        .with("p999_us", at(0.999))
        .with("mean_us", mean * 1e6)
}
