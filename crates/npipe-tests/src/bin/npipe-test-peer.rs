//! Scripted peer for the named pipe tests (`tests/named_pipe/`): performs
//! the actions given as arguments, in order, and prints one result line per
//! action on stdout, flushed at once, so a test can wait for `listening`
//! before it opens, or for `read …` before it checks a flush.
//!
//! The namespace is `NPIPE_ROOT`, which the test sets for this process only.
//!
//! ```text
//! action                       prints on success
//! serve NAME [OPTS]            listening        CreateNamedPipe; OPTS: --message (type),
//!                                               --byte-read, --max N, --inbound, --outbound,
//!                                               --first, --nowait, --timeout MS (default time-out),
//!                                               --out-buffer N, --in-buffer N (buffer sizes)
//! open NAME [OPTS]             opened           CreateFile; OPTS: --message-read, --read-only,
//!                                               --write-only, --nowait
//! connect                      connected        ConnectNamedPipe
//! disconnect                   disconnected     DisconnectNamedPipe
//! write TEXT                   wrote N          one WriteFile of TEXT (may be "")
//! write-size N                 wrote N          one WriteFile of N pattern bytes (abc…z abc…)
//! read N                       read K complete DATA | read K more DATA
//! peek N                       peek COPIED TOTAL LEFT DATA
//! transact TEXT N              transact K complete DATA | transact K more DATA
//! call NAME TEXT N MS          call K complete DATA     CallNamedPipe, waiting up to MS
//! flush                        flushed          FlushFileBuffers
//! wait-pipe NAME MS            waited           WaitNamedPipe; MS may be default or forever
//! set-read-mode byte|message   ok
//! set-nowait on|off            ok
//! info                         info end=E type=T read-mode=R nowait=B max=N current=N
//! ids                          ids self=PID peer=PID peer-uid=UID
//! close                        closed           drops the current handle (CloseHandle)
//! await                        resumed          after the test writes a line to our stdin
//! sleep MS                     slept
//! hang                         hanging          then waits until stdin closes
//! exit                         exiting          drops every handle and exits 0
//! ```
//!
//! `serve` and `open` push a new handle and make it the current one; the
//! other actions use the current handle, and `close` pops it. A failed
//! action prints `err ERROR_NAME` (its message goes to stderr) and the
//! script goes on. DATA is the bytes as text up to 80 bytes, left out
//! (with its space) when there are none; longer data prints `<pattern>` if
//! it is the `write-size` pattern and `<N bytes>` otherwise. When stdin
//! closes the peer exits at once, so a peer never outlives its test; it
//! also gives up after two minutes.
//!
//! Unknown actions or options, missing arguments and non-numeric option
//! values print a usage error on stderr and exit 2 before any action runs.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use npipe::{
    ClientOptions, MessageRead, NamedPipeClient, NamedPipeServer, PipeMode, ReadMode,
    ServerOptions, WaitTimeout,
};

/// The longest a peer lives, whatever its script says.
const LIFETIME: Duration = Duration::from_secs(120);

/// One action: its verb, positional arguments and `--options`.
#[derive(Debug)]
struct Action {
    verb: String,
    args: Vec<String>,
    opts: Vec<(String, Option<u64>)>,
}

// One handle per peer process: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Handle {
    Server(NamedPipeServer),
    Client(NamedPipeClient),
}

/// Runs `$body` with `$p` bound to the current handle, whichever end it is.
macro_rules! on_handle {
    ($handles:expr, |$p:ident| $body:expr) => {
        match $handles.last() {
            Some(Handle::Server($p)) => $body,
            Some(Handle::Client($p)) => $body,
            None => Err(usage_at_run_time()),
        }
    };
}

fn main() {
    let actions = match parse(std::env::args().skip(1).collect()) {
        Ok(actions) => actions,
        Err(message) => {
            eprintln!("npipe-test-peer: {message}");
            std::process::exit(2);
        }
    };
    let stdin = spawn_stdin_watch();
    std::thread::spawn(|| {
        std::thread::sleep(LIFETIME);
        eprintln!("npipe-test-peer: still running after {LIFETIME:?}; exiting");
        std::process::exit(3);
    });
    let mut handles = Vec::new();
    for action in &actions {
        let line = match run(action, &mut handles, &stdin) {
            Ok(line) => line,
            Err(e) => {
                eprintln!("npipe-test-peer: {} failed: {e}", action.verb);
                format!("err {}", e.win32_name())
            }
        };
        say(&line);
        if action.verb == "exit" {
            drop(handles);
            std::process::exit(0);
        }
    }
}

/// Number of positional arguments of each verb; `None` for unknown verbs.
fn arity(verb: &str) -> Option<usize> {
    Some(match verb {
        "connect" | "disconnect" | "flush" | "info" | "ids" | "close" | "await" | "hang"
        | "exit" => 0,
        "serve" | "open" | "write" | "write-size" | "read" | "peek" | "set-read-mode"
        | "set-nowait" | "sleep" => 1,
        "transact" | "wait-pipe" => 2,
        "call" => 4,
        _ => return None,
    })
}

fn parse(args: Vec<String>) -> Result<Vec<Action>, String> {
    let mut actions = Vec::new();
    let mut it = args.into_iter().peekable();
    while let Some(verb) = it.next() {
        let n = arity(&verb).ok_or_else(|| format!("unknown action {verb:?}"))?;
        let args: Vec<String> = it.by_ref().take(n).collect();
        if args.len() < n {
            return Err(format!("{verb} takes {n} argument(s)"));
        }
        let mut opts = Vec::new();
        while let Some(opt) = it.next_if(|a| a.starts_with("--")) {
            let value = match opt.as_str() {
                "--max" | "--timeout" | "--out-buffer" | "--in-buffer" => {
                    let value = it.next().unwrap_or_default();
                    Some(value.parse().map_err(|_| format!("{opt} needs a number"))?)
                }
                "--message" | "--byte-read" | "--inbound" | "--outbound" | "--first"
                | "--nowait" | "--message-read" | "--read-only" | "--write-only" => None,
                _ => return Err(format!("unknown option {opt:?}")),
            };
            opts.push((opt, value));
        }
        actions.push(Action { verb, args, opts });
    }
    Ok(actions)
}

fn run(
    action: &Action,
    handles: &mut Vec<Handle>,
    stdin: &mpsc::Receiver<String>,
) -> npipe::Result<String> {
    let arg = |i: usize| action.args[i].as_str();
    let num = |i: usize| -> npipe::Result<usize> {
        arg(i).parse().map_err(|_| npipe::Error::InvalidParameter {
            reason: format!("{:?} is not a number", arg(i)),
        })
    };
    let opts = Opts(&action.opts);
    Ok(match action.verb.as_str() {
        "serve" => {
            let mut options = ServerOptions::new();
            if opts.has("--message") {
                options.pipe_mode(PipeMode::Message);
            }
            if opts.has("--byte-read") {
                options.read_mode(ReadMode::Byte);
            }
            if let Some(max) = opts.value("--max") {
                options.max_instances(max.try_into().unwrap_or(u32::MAX));
            }
            if let Some(ms) = opts.value("--timeout") {
                options.default_timeout(Duration::from_millis(ms));
            }
            if let Some(bytes) = opts.value("--out-buffer") {
                options.out_buffer_size(bytes.try_into().unwrap_or(u32::MAX));
            }
            if let Some(bytes) = opts.value("--in-buffer") {
                options.in_buffer_size(bytes.try_into().unwrap_or(u32::MAX));
            }
            options
                .access_inbound(!opts.has("--outbound"))
                .access_outbound(!opts.has("--inbound"))
                .first_pipe_instance(opts.has("--first"))
                .nowait(opts.has("--nowait"));
            handles.push(Handle::Server(options.create(arg(0))?));
            "listening".into()
        }
        "open" => {
            let mut options = ClientOptions::new();
            if opts.has("--message-read") {
                options.read_mode(ReadMode::Message);
            }
            options
                .read(!opts.has("--write-only"))
                .write(!opts.has("--read-only"))
                .nowait(opts.has("--nowait"));
            handles.push(Handle::Client(options.open(arg(0))?));
            "opened".into()
        }
        "connect" => match handles.last() {
            Some(Handle::Server(s)) => s.connect().map(|()| "connected".into())?,
            _ => return Err(usage_at_run_time()),
        },
        "disconnect" => match handles.last() {
            Some(Handle::Server(s)) => s.disconnect().map(|()| "disconnected".into())?,
            _ => return Err(usage_at_run_time()),
        },
        "write" => format!(
            "wrote {}",
            on_handle!(handles, |p| p.write_message(arg(0).as_bytes()))?
        ),
        "write-size" => {
            let data = pattern(num(0)?);
            format!("wrote {}", on_handle!(handles, |p| p.write_message(&data))?)
        }
        "read" => {
            let mut buf = vec![0; num(0)?];
            let got = on_handle!(handles, |p| p.read_message(&mut buf))?;
            format!("read {}", outcome(got, &buf))
        }
        "peek" => {
            let mut buf = vec![0; num(0)?];
            let seen = on_handle!(handles, |p| p.peek(&mut buf))?;
            let (copied, total, left) = (seen.copied, seen.total_available, seen.left_in_message);
            with_data(format!("peek {copied} {total} {left}"), &buf[..copied])
        }
        "transact" => {
            let mut buf = vec![0; num(1)?];
            let got = on_handle!(handles, |p| p.transact(arg(0).as_bytes(), &mut buf))?;
            format!("transact {}", outcome(got, &buf))
        }
        "call" => {
            let mut buf = vec![0; num(2)?];
            let wait = Duration::from_millis(num(3)? as u64);
            let got = ClientOptions::new().call(arg(0), arg(1).as_bytes(), &mut buf, wait)?;
            format!("call {}", outcome(got, &buf))
        }
        "flush" => on_handle!(handles, |p| p.flush_buffers()).map(|()| "flushed".to_string())?,
        "wait-pipe" => {
            let timeout = match arg(1) {
                "default" => WaitTimeout::Default,
                "forever" => WaitTimeout::Forever,
                _ => WaitTimeout::Duration(Duration::from_millis(num(1)? as u64)),
            };
            ClientOptions::new().wait(arg(0), timeout)?;
            "waited".into()
        }
        "set-read-mode" => {
            let mode = if arg(0) == "message" {
                ReadMode::Message
            } else {
                ReadMode::Byte
            };
            on_handle!(handles, |p| p.set_read_mode(mode)).map(|()| "ok".to_string())?
        }
        "set-nowait" => {
            let nowait = arg(0) == "on";
            on_handle!(handles, |p| {
                p.set_nowait(nowait);
                Ok("ok".to_string())
            })?
        }
        "info" => {
            let info = on_handle!(handles, |p| p.info())?;
            format!(
                "info end={} type={} read-mode={} nowait={} max={} current={}",
                format!("{:?}", info.end).to_lowercase(),
                format!("{:?}", info.pipe_mode).to_lowercase(),
                format!("{:?}", info.read_mode).to_lowercase(),
                info.nowait,
                info.max_instances,
                info.current_instances
            )
        }
        "ids" => {
            let peer = match handles.last() {
                Some(Handle::Server(s)) => s.client_credentials()?,
                Some(Handle::Client(c)) => c.server_credentials()?,
                None => return Err(usage_at_run_time()),
            };
            format!(
                "ids self={} peer={} peer-uid={}",
                std::process::id(),
                peer.pid,
                peer.uid
            )
        }
        "close" => {
            handles.pop().ok_or_else(usage_at_run_time)?;
            "closed".into()
        }
        "await" => match stdin.recv() {
            Ok(_) => "resumed".into(),
            Err(_) => std::process::exit(0),
        },
        "sleep" => {
            std::thread::sleep(Duration::from_millis(num(0)? as u64));
            "slept".into()
        }
        "hang" => {
            say("hanging");
            while stdin.recv().is_ok() {}
            std::process::exit(0);
        }
        "exit" => "exiting".into(),
        verb => unreachable!("parse accepted {verb}"),
    })
}

struct Opts<'a>(&'a [(String, Option<u64>)]);

impl Opts<'_> {
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    fn value(&self, name: &str) -> Option<u64> {
        self.0.iter().find(|(n, _)| n == name).and_then(|(_, v)| *v)
    }
}

/// `N complete DATA` or `N more DATA`.
fn outcome(got: MessageRead, buf: &[u8]) -> String {
    let state = if got.is_complete() {
        "complete"
    } else {
        "more"
    };
    with_data(format!("{} {state}", got.len()), &buf[..got.len()])
}

/// `head DATA`, or just `head` when there is no data.
fn with_data(head: String, data: &[u8]) -> String {
    match data {
        [] => head,
        data => format!("{head} {}", show(data)),
    }
}

/// The bytes as text, or a summary of long data.
fn show(data: &[u8]) -> String {
    if data.len() <= 80 {
        String::from_utf8_lossy(data).into_owned()
    } else if data == pattern(data.len()) {
        "<pattern>".into()
    } else {
        format!("<{} bytes>", data.len())
    }
}

/// `abcdefghijklmnopqrstuvwxyzabc…`, `len` bytes of it.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// An action that needs a handle of another kind, or none there.
fn usage_at_run_time() -> npipe::Error {
    npipe::Error::InvalidParameter {
        reason: "no handle of the right kind for this action".into(),
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A test that stopped listening is gone: nothing to report to.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

/// Forwards stdin lines to a channel; exits the process when stdin closes.
fn spawn_stdin_watch() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    rx
}
