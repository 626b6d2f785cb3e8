//! Helper process for the robustness tests (`tests/robustness/`): serves or
//! opens named pipes as its arguments say and reports each event as one line
//! on stdout, flushed at once, so tests can synchronize on lines.
//!
//! ```text
//! npipe-stress-peer [--as UID:GID[:GROUP,...]] COMMAND ARGS...
//!
//! serve NAME [--message] [--max N] [--first] [--instances K]
//!       [--allow-uid U] [--allow-gid G] [--everyone] [--forge-owner UID]
//!     create K instances ("listening K", or "error CODE"), then serve
//!     clients on every one, echoing each message: "connected I" when
//!     instance I takes a client, "ended I CODE" when it goes; hang
//! serve-big NAME BYTES
//!     one message-type instance: "listening"; wait for a client
//!     ("connected"), send the message "small", then "writing BYTES" and one
//!     message of BYTES bytes, then "wrote"; hang
//! write NAME SIZE...
//!     message-mode client: "opened"; per message "writing SIZE", then
//!     "wrote SIZE"; hang
//! open NAME [--message] [--require-server-uid U]
//!     client: "opened" or "error CODE"; then sends "ping" and prints
//!     "reply TEXT" or "error CODE"; hang
//! clients NAME COUNT
//!     open COUNT message-mode clients and exchange a message on each, all
//!     kept open: "connected COUNT"; hang
//! raw-connect PATH
//!     a plain Unix socket connect: "connected" or "error KIND ERRNO"
//! hold-claim PATH
//!     create PATH holding a claim token and flock it, as a client does
//!     between claiming and connecting: "locked"; hang
//! cycles NAME N
//!     N connect/disconnect cycles on one instance, server and client both
//!     in this process: "fds BEFORE AFTER", then "files NAME,NAME,..."
//! stress OPS SEED
//!     OPS random creates and opens on three shared names (see `stress`):
//!     "clients-done ...", then once stdin closes "done ..."
//! ```
//!
//! `--as` drops root for the given user, group and supplementary groups
//! before anything else. "Hang" means: wait until stdin closes, then exit 0.
//! Failures print "fail MESSAGE" and exit 1. The namespace comes from
//! `NPIPE_ROOT`. The privilege, lock and limit calls need `unsafe`, hence
//! the allow.
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use npipe::{
    ClientOptions, Error, NamedPipeClient, NamedPipeServer, PipeMode, ReadMode, ServerOptions,
};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--as") && args.len() > 1 {
        drop_privileges(&args[1]);
        args.drain(..2);
    }
    let Some(command) = args.first().cloned() else {
        fail("no command; see the file's doc comment");
    };
    let rest = &args[1..];
    match command.as_str() {
        "serve" => serve(rest),
        "serve-big" => serve_big(arg(rest, 0), number(arg(rest, 1))),
        "write" => write(arg(rest, 0), &rest[1..]),
        "open" => open(rest),
        "clients" => clients(arg(rest, 0), number(arg(rest, 1))),
        "raw-connect" => raw_connect(arg(rest, 0)),
        "hold-claim" => hold_claim(arg(rest, 0)),
        "cycles" => cycles(arg(rest, 0), number(arg(rest, 1))),
        "stress" => stress(number(arg(rest, 0)), number(arg(rest, 1)) as u64),
        other => fail(&format!("unknown command {other:?}")),
    }
}

/// Creates instances and echoes on each until killed.
fn serve(args: &[String]) {
    let name = arg(args, 0).to_string();
    let mut options = ServerOptions::new();
    let mut instances = 1;
    let mut forge_owner = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--message" => {
                options.pipe_mode(PipeMode::Message);
            }
            "--first" => {
                options.first_pipe_instance(true);
            }
            "--everyone" => {
                options.allow_everyone(true);
            }
            "--max" => {
                i += 1;
                options.max_instances(number(arg(args, i)) as u32);
            }
            "--instances" => {
                i += 1;
                instances = number(arg(args, i));
            }
            "--allow-uid" => {
                i += 1;
                options.allow_uid(number(arg(args, i)) as u32);
            }
            "--allow-gid" => {
                i += 1;
                options.allow_gid(number(arg(args, i)) as u32);
            }
            "--forge-owner" => {
                i += 1;
                forge_owner = Some(number(arg(args, i)));
            }
            other => fail(&format!("serve: unknown option {other:?}")),
        }
        i += 1;
    }
    raise_fd_limit();
    let mut servers = Vec::new();
    for _ in 0..instances {
        match options.create(&name) {
            Ok(server) => servers.push(server),
            Err(e) => {
                say(&format!("error {} {e}", e.win32_code()));
                hang();
            }
        }
    }
    if let Some(uid) = forge_owner {
        forge_meta_owner(uid);
    }
    say(&format!("listening {instances}"));
    for (i, server) in servers.into_iter().enumerate() {
        thread::spawn(move || echo_forever(i, &server));
    }
    hang();
}

fn echo_forever(i: usize, server: &NamedPipeServer) {
    loop {
        if let Err(e) = server.connect() {
            fail(&format!("connect: {e}"));
        }
        say(&format!("connected {i}"));
        let end = echo(server);
        say(&format!("ended {i} {}", end.win32_code()));
        if let Err(e) = server.disconnect() {
            fail(&format!("disconnect: {e}"));
        }
    }
}

/// Echoes what arrives (a message at a time, or bytes as they come) until
/// the connection ends; returns how it ended.
fn echo(server: &NamedPipeServer) -> Error {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match server.read_message(&mut buf) {
            Ok(read) if read.is_complete() => read.len(),
            Ok(_) => fail("echo: message larger than 1 MiB"),
            Err(e) => return e,
        };
        if let Err(e) = server.write_message(&buf[..n]) {
            return e;
        }
    }
}

/// Rewrites the `owner_uid` line of the name's `meta` file, as a squatter
/// that owns the directory can.
fn forge_meta_owner(uid: usize) {
    let root = std::env::var_os("NPIPE_ROOT").unwrap_or_else(|| fail("NPIPE_ROOT is not set"));
    let pipes = std::path::Path::new(&root).join("pipe");
    for entry in std::fs::read_dir(&pipes).unwrap_or_else(|e| fail(&format!("{e}"))) {
        let meta = entry
            .unwrap_or_else(|e| fail(&format!("{e}")))
            .path()
            .join("meta");
        let text = std::fs::read_to_string(&meta).unwrap_or_else(|e| fail(&format!("{e}")));
        let forged: String = text
            .lines()
            .map(|line| match line.strip_prefix("owner_uid=") {
                Some(_) => format!("owner_uid={uid}\n"),
                None => format!("{line}\n"),
            })
            .collect();
        std::fs::write(&meta, forged).unwrap_or_else(|e| fail(&format!("{e}")));
    }
}

/// Waits for a client, then is killed while writing one large message.
fn serve_big(name: &str, bytes: usize) {
    let server = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(name)
        .unwrap_or_else(|e| fail(&format!("create: {e}")));
    say("listening");
    server.connect().unwrap_or_else(|e| fail(&format!("{e}")));
    say("connected");
    server
        .write_message(b"small")
        .unwrap_or_else(|e| fail(&format!("{e}")));
    let big = vec![0xA5u8; bytes];
    say(&format!("writing {bytes}"));
    server
        .write_message(&big)
        .unwrap_or_else(|e| fail(&format!("{e}")));
    say("wrote");
    hang();
}

/// A client that writes messages of the given sizes (the last one may never
/// finish if the server does not read).
fn write(name: &str, sizes: &[String]) {
    let client = ClientOptions::new()
        .read_mode(ReadMode::Message)
        .open(name)
        .unwrap_or_else(|e| fail(&format!("open: {e}")));
    say("opened");
    for size in sizes {
        let size = number(size);
        say(&format!("writing {size}"));
        client
            .write_message(&pattern(size, size as u64))
            .unwrap_or_else(|e| fail(&format!("{e}")));
        say(&format!("wrote {size}"));
    }
    hang();
}

fn open(args: &[String]) {
    let name = arg(args, 0);
    let mut options = ClientOptions::new();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--message" => {
                options.read_mode(ReadMode::Message);
            }
            "--require-server-uid" => {
                i += 1;
                options.require_server_uid(number(arg(args, i)) as u32);
            }
            other => fail(&format!("open: unknown option {other:?}")),
        }
        i += 1;
    }
    let client = match options.open(name) {
        Ok(client) => client,
        Err(e) => {
            say(&format!("error {} {e}", e.win32_code()));
            hang();
        }
    };
    say("opened");
    let reply = client.write_message(b"ping").and_then(|_| {
        let mut buf = [0u8; 64];
        let n = client.read_message(&mut buf)?.len();
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    match reply {
        Ok(text) => say(&format!("reply {text}")),
        Err(e) => say(&format!("error {} {e}", e.win32_code())),
    }
    hang();
}

/// Many clients from one process, all connected at once.
fn clients(name: &str, count: usize) {
    let pid = std::process::id();
    let mut open = Vec::new();
    for i in 0..count {
        let client = ClientOptions::new()
            .read_mode(ReadMode::Message)
            .open(name)
            .unwrap_or_else(|e| fail(&format!("client {i}: open: {e}")));
        let msg = format!("hello from {pid} client {i}");
        exchange_message(&client, msg.as_bytes())
            .unwrap_or_else(|e| fail(&format!("client {i}: {e}")));
        open.push(client);
    }
    say(&format!("connected {}", open.len()));
    hang();
}

fn raw_connect(path: &str) {
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => say("connected"),
        Err(e) => say(&format!(
            "error {:?} {}",
            e.kind(),
            e.raw_os_error().unwrap_or(0)
        )),
    }
    hang();
}

/// Creates a claim file the way a client does and holds its lock: killed,
/// it leaves what a client killed between claiming and connecting leaves.
fn hold_claim(path: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .unwrap_or_else(|e| fail(&format!("create {path}: {e}")));
    // SAFETY: flock on a descriptor this function owns for its whole life.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        fail(&format!("flock: {}", io::Error::last_os_error()));
    }
    file.write_all(b"00000000c1a1e0ff\n")
        .unwrap_or_else(|e| fail(&format!("{e}")));
    say("locked");
    hang();
}

/// Connect/disconnect cycles with a fd count before and after.
fn cycles(name: &str, n: usize) {
    let server = ServerOptions::new()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(name)
        .unwrap_or_else(|e| fail(&format!("create: {e}")));
    let client_options = {
        let mut options = ClientOptions::new();
        options.read_mode(ReadMode::Message);
        options
    };
    let run = |count: usize| {
        thread::scope(|s| {
            s.spawn(|| {
                for _ in 0..count {
                    server.connect().unwrap_or_else(|e| fail(&format!("{e}")));
                    let end = echo(&server);
                    if end.win32_code() != npipe::win32::ERROR_BROKEN_PIPE {
                        fail(&format!("server: {end}"));
                    }
                    server
                        .disconnect()
                        .unwrap_or_else(|e| fail(&format!("{e}")));
                }
            });
            for i in 0..count {
                client_options
                    .wait(name, Duration::from_secs(10))
                    .unwrap_or_else(|e| fail(&format!("cycle {i}: wait: {e}")));
                let client = client_options
                    .open(name)
                    .unwrap_or_else(|e| fail(&format!("cycle {i}: open: {e}")));
                exchange_message(&client, format!("cycle {i}").as_bytes())
                    .unwrap_or_else(|e| fail(&format!("cycle {i}: {e}")));
            }
        });
    };
    // One cycle first, so that whatever is opened once and kept (the
    // standard streams' buffers, thread-local state) is counted in both.
    run(1);
    let before = fd_count();
    run(n);
    let after = fd_count();
    say(&format!("fds {before} {after}"));
    let root = std::env::var_os("NPIPE_ROOT").unwrap_or_else(|| fail("NPIPE_ROOT is not set"));
    let mut files = Vec::new();
    let pipes = std::path::Path::new(&root).join("pipe");
    for dir in std::fs::read_dir(pipes).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            files.push(file.file_name().to_string_lossy().into_owned());
        }
    }
    files.sort();
    say(&format!("files {}", files.join(",")));
    drop(server);
    hang();
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap_or_else(|e| fail(&format!("/proc/self/fd: {e}")))
        .count()
}

/// The shared names of the stress test: (name, type, instance limit).
const STRESS_NAMES: [(&str, PipeMode, u32); 3] = [
    (r"\\.\pipe\stress-bytes", PipeMode::Byte, 255),
    (r"\\.\pipe\stress-two", PipeMode::Message, 2),
    (r"\\.\pipe\stress-one", PipeMode::Message, 1),
];

/// `ops` random operations on the three shared names: about a third create
/// an instance (served by a thread, which echoes for one to three clients
/// and then closes it), the rest open a client and check an echo of one to
/// three messages. Every open must succeed or give `ERROR_PIPE_BUSY` or
/// `ERROR_FILE_NOT_FOUND`; every create must succeed or give
/// `ERROR_PIPE_BUSY` (limit reached) or, with `first_pipe_instance`,
/// `ERROR_ACCESS_DENIED`. Anything else is a failure.
///
/// Instances still open when the clients are done stay until stdin closes,
/// so no client ever finds its server gone mid-exchange.
fn stress(ops: usize, seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let stop = Arc::new(AtomicBool::new(false));
    let mut servers = Vec::new();
    let mut counts = [0usize; 7]; // created, limit, first-denied, opened, busy, not-found, messages
    for op in 0..ops {
        let (name, mode, max) = STRESS_NAMES[rng.below(3) as usize];
        if rng.below(3) == 0 {
            let first = rng.below(8) == 0;
            let created = ServerOptions::new()
                .pipe_mode(mode)
                .max_instances(max)
                .first_pipe_instance(first)
                .nowait(true)
                .create(name);
            match created {
                Ok(server) => {
                    counts[0] += 1;
                    let clients = 1 + rng.below(3) as usize;
                    let stop = Arc::clone(&stop);
                    servers.push(thread::spawn(move || {
                        stress_serve(&server, clients, &stop)
                            .unwrap_or_else(|e| fail(&format!("op {op}: serving {name}: {e}")))
                    }));
                }
                Err(Error::PipeBusy { .. }) => counts[1] += 1,
                Err(Error::AccessDenied { .. }) if first => counts[2] += 1,
                Err(e) => fail(&format!("op {op}: create {name}: {e}")),
            }
        } else {
            let mut options = ClientOptions::new();
            if mode == PipeMode::Message {
                options.read_mode(ReadMode::Message);
            }
            match options.open(name) {
                Ok(client) => {
                    counts[3] += 1;
                    for m in 0..1 + rng.below(3) {
                        let len = rng.below(32 * 1024) as usize;
                        let msg = pattern(len, seed ^ ((op as u64) << 8) ^ m);
                        let result = if mode == PipeMode::Message {
                            exchange_message(&client, &msg)
                        } else {
                            exchange_bytes(&client, &msg)
                        };
                        result.unwrap_or_else(|e| fail(&format!("op {op}: {name}: {e}")));
                        counts[6] += 1;
                    }
                }
                Err(Error::PipeBusy { .. }) => counts[4] += 1,
                Err(Error::FileNotFound { .. }) => counts[5] += 1,
                Err(e) => fail(&format!("op {op}: open {name}: {e}")),
            }
        }
    }
    let summary = format!(
        "created={} limit={} first-denied={} opened={} busy={} not-found={} messages={}",
        counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6]
    );
    say(&format!("clients-done {summary}"));
    let _ = io::stdin().read_to_end(&mut Vec::new());
    stop.store(true, Ordering::Release);
    let mut served = 0;
    for server in servers {
        served += server
            .join()
            .unwrap_or_else(|_| fail("a server thread panicked"));
    }
    say(&format!("done {summary} served={served}"));
}

/// Serves up to `clients` clients on a non-blocking instance (polling
/// `connect`, so that `stop` is noticed), echoing, then closes it.
fn stress_serve(
    server: &NamedPipeServer,
    clients: usize,
    stop: &AtomicBool,
) -> npipe::Result<usize> {
    for served in 0..clients {
        loop {
            match server.connect() {
                Ok(()) => break,
                Err(Error::PipeListening) if stop.load(Ordering::Acquire) => return Ok(served),
                Err(Error::PipeListening) => thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(e),
            }
        }
        server.set_nowait(false);
        let end = echo(server);
        if end.win32_code() != npipe::win32::ERROR_BROKEN_PIPE {
            return Err(end);
        }
        server.disconnect()?;
        server.set_nowait(true);
    }
    Ok(clients)
}

/// Sends one message and checks the echo is the same message.
fn exchange_message(client: &NamedPipeClient, msg: &[u8]) -> npipe::Result<()> {
    client.write_message(msg)?;
    let mut buf = vec![0u8; msg.len() + 16];
    match client.read_message(&mut buf)? {
        read if read.is_complete() && buf[..read.len()] == *msg => Ok(()),
        other => Err(mismatch(&format!(
            "sent a {}-byte message, got back {other:?}",
            msg.len()
        ))),
    }
}

/// Sends bytes and reads as many back; they must be the same.
fn exchange_bytes(client: &NamedPipeClient, msg: &[u8]) -> npipe::Result<()> {
    (&mut &*client).write_all(msg)?;
    let mut back = vec![0u8; msg.len()];
    (&mut &*client).read_exact(&mut back)?;
    if back != msg {
        return Err(mismatch(&format!("{} bytes echoed differently", msg.len())));
    }
    Ok(())
}

fn mismatch(what: &str) -> Error {
    Error::Io(io::Error::new(io::ErrorKind::InvalidData, what.to_string()))
}

/// `len` bytes that depend on `seed`, so a mixed-up echo is noticed.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.below(256) as u8).collect()
}

/// xorshift64: deterministic from the seed, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `--as UID:GID[:GROUP,...]`: setgroups, setgid, setuid, in that order.
fn drop_privileges(spec: &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() < 2 {
        fail(&format!("--as {spec:?}: want UID:GID[:GROUP,...]"));
    }
    let uid: libc::uid_t = number(parts[0]) as libc::uid_t;
    let gid: libc::gid_t = number(parts[1]) as libc::gid_t;
    let groups: Vec<libc::gid_t> = parts
        .get(2)
        .map(|list| list.split(',').map(|g| number(g) as libc::gid_t).collect())
        .unwrap_or_default();
    // SAFETY: `groups` outlives the call and holds `groups.len()` ids.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } != 0 {
        fail(&format!("setgroups: {}", io::Error::last_os_error()));
    }
    // SAFETY: plain system calls with integer arguments; this process has
    // one thread so far, so every thread changes identity.
    if unsafe { libc::setgid(gid) } != 0 || unsafe { libc::setuid(uid) } != 0 {
        fail(&format!("setgid/setuid: {}", io::Error::last_os_error()));
    }
}

/// Raises the soft limit on open files to the hard limit: 255 instances
/// need more descriptors than a 1024 default leaves.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit read just above.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

/// Waits until stdin closes (the test drops it, or dies), then exits.
fn hang() -> ! {
    let _ = io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn fail(message: &str) -> ! {
    say(&format!("fail {message}"));
    std::process::exit(1);
}

fn arg(args: &[String], i: usize) -> &str {
    args.get(i)
        .map(String::as_str)
        .unwrap_or_else(|| fail(&format!("argument {} is missing", i + 1)))
}

fn number(text: &str) -> usize {
    text.parse()
        .unwrap_or_else(|_| fail(&format!("{text:?} is not a number")))
}
