//! `npipe connect`: netcat for a named pipe.
//!
//! Two threads copy (stdin to the pipe, the pipe to stdout) and report to
//! this one, which decides when the session is over:
//!
//! - the server closed or disconnected the pipe: done, whatever stdin still
//!   holds;
//! - stdin ended: the writer half-closes the pipe (`close_write`), so the
//!   server reads the end of its input after the data, and what it sends
//!   is printed until it closes. With `--linger`, the session also ends once
//!   the server has sent nothing for that long, for servers that never
//!   close.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use npipe::{Error, NamedPipeClient};
use tracing::{debug, info};

use crate::cmd::Outcome;
use crate::copy::{self, peer_gone, CopyError};
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::{ConnectPlan, Framing};
use crate::progress::Progress;

/// What the copying threads report.
enum Event {
    /// The reader printed something.
    Received,
    /// The reader is done: the server closed (`Ok`) or something failed.
    ReaderEnded(Result<(), CopyError>),
    /// The writer is done: stdin ended and the pipe is half-closed (`Ok`).
    WriterEnded(Result<(), CopyError>),
}

pub fn run(plan: ConnectPlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.to_string();
    let fail = |e: Error| Failure::npipe(&name, e, Op::Connect, &name, None);
    let client = Arc::new(open(&plan, namespace)?);
    info!(
        pipe = %name,
        server_pid = client.server_process_id().unwrap_or(0),
        "connected"
    );
    let progress = Arc::new(Progress::start(name.clone(), stdin_size()));
    let (events, inbox) = mpsc::channel();
    let framing = plan.framing;
    {
        let (client, progress, events) =
            (Arc::clone(&client), Arc::clone(&progress), events.clone());
        std::thread::spawn(move || {
            let result = copy::from_pipe(&*client, framing, &progress, |data| {
                let mut out = std::io::stdout().lock();
                out.write_all(data)?;
                if framing == Framing::Lines {
                    out.write_all(b"\n")?;
                }
                out.flush()?;
                let _ = events.send(Event::Received);
                Ok(())
            });
            let _ = events.send(Event::ReaderEnded(result));
        });
    }
    {
        let (client, progress) = (Arc::clone(&client), Arc::clone(&progress));
        std::thread::spawn(move || {
            let stdin = std::io::stdin().lock();
            let result = copy::to_pipe(stdin, framing, &*client, &progress)
                .and_then(|()| client.close_write().map_err(CopyError::Pipe));
            let _ = events.send(Event::WriterEnded(result));
        });
    }

    // Set once stdin has ended, with --linger: when the last reply came.
    let mut quiet_since: Option<Instant> = None;
    let outcome = loop {
        let event = match (quiet_since, plan.linger) {
            (Some(since), Some(linger)) => {
                match inbox.recv_timeout(linger.saturating_sub(since.elapsed())) {
                    Ok(event) => event,
                    Err(_) => {
                        debug!("nothing from the server for {linger:?} after the end of input");
                        break Ok(());
                    }
                }
            }
            _ => match inbox.recv() {
                Ok(event) => event,
                Err(_) => break Ok(()),
            },
        };
        match event {
            Event::Received => {
                if quiet_since.is_some() {
                    quiet_since = Some(Instant::now());
                }
            }
            Event::ReaderEnded(Ok(())) => {
                debug!("the server closed the pipe");
                break Ok(());
            }
            Event::ReaderEnded(Err(CopyError::Local(e))) => break Err(stdout_error(e)),
            Event::ReaderEnded(Err(CopyError::Pipe(e))) => break Err(fail(e)),
            Event::WriterEnded(Ok(())) => {
                debug!("end of input; the pipe is half-closed");
                quiet_since = Some(Instant::now());
            }
            // The server went away before taking all of stdin: the reader
            // sees it too and ends the session.
            Event::WriterEnded(Err(CopyError::Pipe(e))) if peer_gone(&e) => {
                debug!("the server is gone: {e}");
            }
            Event::WriterEnded(Err(CopyError::Pipe(e))) => break Err(fail(e)),
            Event::WriterEnded(Err(CopyError::Local(e))) => {
                break Err(Failure::io("cannot read standard input", e))
            }
        }
    };
    let (sent, received) = progress.totals();
    info!(sent, received, "closing");
    progress.finish();
    // The copying threads may still be blocked in a read; the process
    // ends with them.
    outcome.map(|()| Outcome::Success)
}

/// Opens the pipe, waiting for a free instance if `--wait` says so.
fn open(plan: &ConnectPlan, namespace: &Path) -> Result<NamedPipeClient, Failure> {
    let name = plan.name.as_str();
    let opened = match plan.wait {
        Some(wait) => plan.options.open_timeout(name, wait),
        None => plan.options.open(name),
    };
    opened.map_err(|e| {
        Failure::npipe(
            format!("cannot connect to {name}"),
            e,
            Op::Connect,
            name,
            Some(namespace),
        )
    })
}

/// The size of stdin when it is a regular file, for a progress bar with an
/// end.
fn stdin_size() -> Option<u64> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    let meta = std::fs::File::from(fd).metadata().ok()?;
    meta.is_file().then_some(meta.len())
}
