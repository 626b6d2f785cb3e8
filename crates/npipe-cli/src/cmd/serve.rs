//! `npipe serve`: create the instances, then serve clients on each, one
//! thread per instance.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use npipe::{Error, NamedPipeServer};
use tracing::{debug, info, warn};

use crate::cmd::Outcome;
use crate::copy::{self, peer_gone, CopyError, PipeIo};
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::{Framing, ServePlan, Service};
use crate::progress::{multi, Progress};

/// What the instance threads share.
struct Shared {
    plan: ServePlan,
    /// Clients taken, counting from 0.
    started: AtomicU64,
    /// Clients served to the end.
    finished: AtomicU64,
    /// Tells `run` that the count is reached (`Ok`) or a thread failed.
    done: mpsc::Sender<Result<(), Failure>>,
}

pub fn run(plan: ServePlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.to_string();
    let mut servers = Vec::new();
    for _ in 0..plan.instances {
        let server = plan.options.create(&name).map_err(|e| {
            Failure::npipe(
                format!("cannot create {name}"),
                e,
                Op::Serve,
                &name,
                Some(namespace),
            )
        })?;
        servers.push(server);
    }
    info!(pipe = %name, instances = plan.instances, namespace = %namespace.display(), "serving");
    if std::io::stderr().is_terminal() {
        let kind = match plan.framing {
            Framing::Bytes => "byte",
            Framing::Lines => "message",
        };
        let _ = multi().println(format!(
            "npipe: serving {name} ({kind} type, {} instance{}) in {}; Ctrl-C stops",
            plan.instances,
            if plan.instances == 1 { "" } else { "s" },
            namespace.display()
        ));
    }
    let (done, finished) = mpsc::channel();
    let shared = Arc::new(Shared {
        plan,
        started: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        done,
    });
    for server in servers {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            if let Err(failure) = instance_loop(&server, &shared) {
                let _ = shared.done.send(Err(failure));
            }
        });
    }
    // Threads serve until killed; with --count, the last client's thread
    // says so. A thread's failure ends the program.
    match finished.recv() {
        Ok(Ok(())) | Err(_) => Ok(Outcome::Success),
        Ok(Err(failure)) => Err(failure),
    }
}

/// Serves one client after another on one instance.
fn instance_loop(server: &NamedPipeServer, shared: &Shared) -> Result<(), Failure> {
    let plan = &shared.plan;
    let name = plan.name.as_str();
    let fail = |doing: &str, e: Error| Failure::npipe(doing, e, Op::Serve, name, None);
    loop {
        server
            .connect()
            .map_err(|e| fail(&format!("cannot wait for a client of {name}"), e))?;
        let ticket = shared.started.fetch_add(1, Ordering::SeqCst);
        if plan.count.is_some_and(|count| ticket >= count) {
            // Past the count: the program is ending; let this client go.
            let _ = server.disconnect();
            return Ok(());
        }
        let who = match server.remote_client() {
            Ok(Some(r)) => format!(
                "remote client {} from {} ({})",
                r.principal, r.computer_name, r.address
            ),
            _ => server
                .client_credentials()
                .map(|c| format!("client pid {} uid {}", c.pid, c.uid))
                .unwrap_or_else(|_| "client".into()),
        };
        info!(pipe = %name, "{who} connected");
        let progress = Progress::start(format!("{name} {who}"), None);
        let result = serve_client(server, plan, &who, &progress);
        let (sent, received) = progress.totals();
        progress.finish();
        match result {
            Ok(()) => info!(sent, received, "{who} done"),
            // A client that misbehaves or vanishes costs only its own
            // connection; the server goes on.
            Err(ClientError::Client(e)) => warn!("{who}: {e}"),
            Err(ClientError::Fatal(failure)) => return Err(failure),
        }
        if let Err(e) = server.disconnect() {
            warn!("disconnecting {who}: {e}");
        }
        let finished = shared.finished.fetch_add(1, Ordering::SeqCst) + 1;
        if plan.count == Some(finished) {
            let _ = shared.done.send(Ok(()));
            return Ok(());
        }
    }
}

/// How serving one client went wrong.
enum ClientError {
    /// This client's connection failed; serve the next.
    Client(Error),
    /// The server cannot go on (stdout closed, the program cannot start).
    Fatal(Failure),
}

fn serve_client(
    server: &NamedPipeServer,
    plan: &ServePlan,
    who: &str,
    progress: &Progress,
) -> Result<(), ClientError> {
    let framing = plan.framing;
    match &plan.service {
        Service::Stdout => copy::from_pipe(server, framing, progress, |data| {
            let mut out = std::io::stdout().lock();
            out.write_all(data)?;
            if framing == Framing::Lines {
                out.write_all(b"\n")?;
            }
            out.flush()
        })
        .map_err(|e| match e {
            CopyError::Pipe(e) => ClientError::Client(e),
            CopyError::Local(e) => ClientError::Fatal(stdout_error(e)),
        }),
        Service::Echo => copy::from_pipe(server, framing, progress, |data| {
            let written = match framing {
                Framing::Lines => server.write_message(data).map(|_| ()),
                Framing::Bytes => write_all(server, data),
            };
            progress.sent(data.len() as u64);
            written.map_err(std::io::Error::from)
        })
        .map_err(|e| match e {
            CopyError::Pipe(e) => ClientError::Client(e),
            CopyError::Local(e) => ClientError::Client(Error::from_io_owned(e)),
        })
        // The client's input ended (it half-closed, or closed): it reads
        // the last replies before the disconnect would discard them.
        .and_then(|()| server.flush_buffers().map_err(ClientError::Client))
        .or_else(ignore_peer_gone),
        Service::Exec { program, args } => exec(server, plan, program, args, who, progress),
    }
}

/// Runs the program for one client: the client's data to its stdin on one
/// thread, its stdout to the client on this one. When the client's input
/// ends (it half-closed the pipe, or closed it), the program's stdin is
/// closed. When the program's output ends, waits until the client has read
/// it all, then disconnects it.
fn exec(
    server: &NamedPipeServer,
    plan: &ServePlan,
    program: &str,
    args: &[String],
    who: &str,
    progress: &Progress,
) -> Result<(), ClientError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("NPIPE_PIPE_NAME", plan.name.as_str());
    if let Ok(c) = server.client_credentials() {
        command
            .env("NPIPE_CLIENT_PID", c.pid.to_string())
            .env("NPIPE_CLIENT_UID", c.uid.to_string())
            .env("NPIPE_CLIENT_GID", c.gid.to_string());
    }
    // A remote client (through npiped): who npiped authenticated, and the
    // computer name the client gave (its own claim).
    if let Ok(Some(remote)) = server.remote_client() {
        command
            .env("NPIPE_CLIENT_PRINCIPAL", remote.principal)
            .env("NPIPE_CLIENT_COMPUTER", remote.computer_name)
            .env("NPIPE_CLIENT_ADDRESS", remote.address);
    }
    let mut child: Child = command.spawn().map_err(|e| {
        ClientError::Fatal(Failure::with_hint(
            format!("cannot run {program:?}: {e}"),
            "--exec takes the program and its arguments, and must come last.",
        ))
    })?;
    debug!(pid = child.id(), "{who}: started {program}");
    let stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let framing = plan.framing;
    let outcome = std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut stdin = stdin;
            let result = copy::from_pipe(server, framing, progress, |data| {
                stdin.write_all(data)?;
                if framing == Framing::Lines {
                    stdin.write_all(b"\n")?;
                }
                stdin.flush()
            });
            // The client half-closed or closed: dropping stdin here tells
            // the program its input has ended.
            if let Err(e) = result {
                debug!("{who}: input to the program ended: {e:?}");
            }
        });
        let result = copy::to_pipe(stdout, framing, server, progress);
        if result.is_ok() {
            // The client reads what the program wrote before it is cut off.
            let _ = server.flush_buffers();
        }
        // Wakes the input thread if the client is still connected.
        let _ = server.disconnect();
        result
    });
    let status = child.wait();
    debug!("{who}: {program} ended: {status:?}");
    match outcome {
        Ok(()) => Ok(()),
        Err(CopyError::Pipe(e)) if peer_gone(&e) => Ok(()),
        Err(CopyError::Pipe(e)) => Err(ClientError::Client(e)),
        Err(CopyError::Local(e)) => Err(ClientError::Client(Error::Io(e))),
    }
}

fn write_all(pipe: &dyn PipeIo, mut data: &[u8]) -> npipe::Result<()> {
    while !data.is_empty() {
        let n = pipe.write_message(data)?;
        data = &data[n..];
    }
    Ok(())
}

fn ignore_peer_gone(e: ClientError) -> Result<(), ClientError> {
    match e {
        ClientError::Client(e) if peer_gone(&e) => Ok(()),
        other => Err(other),
    }
}
