//! Turns the parsed command line ([`Cli`]) into what the program runs: npipe
//! builders with every flag applied, in one function, [`plan`]. The
//! commands in `cmd/` take a plan and never look at flags.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use npipe::mailslot::{MailslotTimeout, MailslotWriterOptions, NetworkOptions};
use npipe::{
    ClientOptions, MailslotOptions, NameKind, Namespace, PipeMode, PipeName, ServerOptions,
    WaitTimeout,
};

use crate::failure::{Failure, Op};
use crate::flags::low::{
    BenchArgs, CallArgs, CertArgs, Cli, Command, ConnectArgs, ListArgs, MailslotCommand,
    MailslotCreateArgs, MailslotSendArgs, ServeArgs, TimeoutArg, WaitArgs,
};

/// Everything one run of `npipe` needs.
#[derive(Debug)]
pub struct Plan {
    /// The namespace directory, for messages (`--root`, else the default).
    pub namespace: PathBuf,
    /// Whether `--verbose` was given.
    pub verbose: bool,
    /// The command, ready to run.
    pub command: CommandPlan,
}

/// One subcommand, ready to run.
#[derive(Debug)]
pub enum CommandPlan {
    /// `npipe serve`
    Serve(ServePlan),
    /// `npipe connect`
    Connect(ConnectPlan),
    /// `npipe call`
    Call(CallPlan),
    /// `npipe wait`
    Wait(WaitPlan),
    /// `npipe list`
    List(ListPlan),
    /// `npipe mailslot create`
    MailslotCreate(MailslotCreatePlan),
    /// `npipe mailslot send`
    MailslotSend(MailslotSendPlan),
    /// `npipe bench`
    Bench(BenchPlan),
    /// `npipe cert`
    Cert(CertPlan),
    /// `npipe completions`
    Completions(clap_complete::Shell),
}

/// `npipe cert`: what `npiped::generate_test_certificates` is given.
#[derive(Debug)]
pub struct CertPlan {
    /// The directory to write into.
    pub out: PathBuf,
    /// The server's names (at least one).
    pub hosts: Vec<String>,
    /// The client certificate's name.
    pub client: String,
}

/// `npipe bench`
#[derive(Debug)]
pub struct BenchPlan {
    /// What to run and how long (the peer is this executable).
    pub config: npipe_bench::BenchConfig,
    /// Where the JSON report goes; `-` is stdout.
    pub json: Option<PathBuf>,
    /// Where the SVG plot goes.
    pub plot: Option<PathBuf>,
    /// Print the case ids instead of running them.
    pub list: bool,
}

/// How bytes on the pipe map to the text the user sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Bytes go through as they are.
    Bytes,
    /// Each message is one line (without its newline) and each line is one
    /// message.
    Lines,
}

/// What a server does with each client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    /// Write what the client sends to stdout.
    Stdout,
    /// Send it back.
    Echo,
    /// Run this program with its stdin and stdout bound to the client.
    Exec {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// `npipe serve`: the instances to create and what to do with clients.
#[derive(Debug)]
pub struct ServePlan {
    /// The pipe.
    pub name: PipeName,
    /// CreateNamedPipe's options, every flag applied.
    pub options: ServerOptions,
    /// How many instances to create (clients served at once).
    pub instances: u32,
    /// What each client gets.
    pub service: Service,
    /// Stop after this many clients.
    pub count: Option<u64>,
    /// Bytes or lines.
    pub framing: Framing,
}

/// `npipe connect`
#[derive(Debug)]
pub struct ConnectPlan {
    /// The pipe.
    pub name: PipeName,
    /// CreateFile's options.
    pub options: ClientOptions,
    /// Wait this long for a free instance; `None`: fail when busy.
    pub wait: Option<WaitTimeout>,
    /// After stdin ends, stop once the server was silent this long; `None`:
    /// when the server closes.
    pub linger: Option<Duration>,
    /// Bytes or lines.
    pub framing: Framing,
}

/// Where the one message of `npipe call` or `npipe mailslot send` comes
/// from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallData {
    /// The argument itself.
    Arg(Vec<u8>),
    /// All of stdin (`-`).
    Stdin,
}

/// `npipe call`
#[derive(Debug)]
pub struct CallPlan {
    /// The pipe.
    pub name: PipeName,
    /// CallNamedPipe's options (the library sets message read mode).
    pub options: ClientOptions,
    /// The message.
    pub data: CallData,
    /// How long to wait for a free instance.
    pub timeout: WaitTimeout,
    /// The reply buffer's size.
    pub reply_size: usize,
}

/// `npipe wait`
#[derive(Debug)]
pub struct WaitPlan {
    /// The pipe.
    pub name: PipeName,
    /// Where to look.
    pub options: ClientOptions,
    /// How long.
    pub timeout: WaitTimeout,
}

/// `npipe list`
#[derive(Debug)]
pub struct ListPlan {
    /// The namespace to list.
    pub namespace: Namespace,
    /// JSON instead of a table.
    pub json: bool,
}

/// How `npipe mailslot create` prints each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// The message's bytes, then a newline.
    Line,
    /// One JSON object a line.
    Json,
}

/// `npipe mailslot create`
#[derive(Debug)]
pub struct MailslotCreatePlan {
    /// The mailslot.
    pub name: PipeName,
    /// CreateMailslot's options, every flag applied.
    pub options: MailslotOptions,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// How to print messages.
    pub format: MessageFormat,
    /// Whether it receives from the network (for hints).
    pub network: bool,
}

/// `npipe mailslot send`
#[derive(Debug)]
pub struct MailslotSendPlan {
    /// The mailslot, local or across the network.
    pub name: PipeName,
    /// CreateFile's options for a mailslot.
    pub options: MailslotWriterOptions,
    /// The message.
    pub data: CallData,
    /// Whether a network key was given (it is not used for local names).
    pub keyed: bool,
}

/// Turns the command line into a plan: parses names, applies every flag to
/// the library's builders, and checks what clap cannot.
///
/// # Errors
/// A bad pipe name ([`npipe::Error::BadPathname`]) or a flag value that
/// makes no sense for its flag.
pub fn plan(cli: Cli) -> Result<Plan, Failure> {
    let namespace = match &cli.root {
        Some(root) => Namespace::at(root),
        None => Namespace::from_env(),
    };
    let root = cli.root.clone();
    let command = match cli.command {
        Command::Serve(args) => CommandPlan::Serve(serve(args, root)?),
        Command::Connect(args) => CommandPlan::Connect(connect(args, root)?),
        Command::Call(args) => CommandPlan::Call(call(args, root)?),
        Command::Wait(args) => CommandPlan::Wait(wait(args, root)?),
        Command::List(ListArgs { json }) => CommandPlan::List(ListPlan {
            namespace: namespace.clone(),
            json,
        }),
        Command::Mailslot(args) => match args.command {
            MailslotCommand::Create(args) => {
                CommandPlan::MailslotCreate(mailslot_create(args, root)?)
            }
            MailslotCommand::Send(args) => CommandPlan::MailslotSend(mailslot_send(args, root)?),
        },
        Command::Bench(args) => CommandPlan::Bench(bench(args)),
        Command::Cert(CertArgs { out, hosts, client }) => {
            CommandPlan::Cert(CertPlan { out, hosts, client })
        }
        Command::Completions(args) => CommandPlan::Completions(args.shell),
    };
    Ok(Plan {
        namespace: namespace.path().to_path_buf(),
        verbose: cli.verbose,
        command,
    })
}

fn serve(args: ServeArgs, root: Option<PathBuf>) -> Result<ServePlan, Failure> {
    let name = pipe_name(&args.name, Op::Serve)?;
    let mut options = ServerOptions::new();
    if let Some(root) = root {
        options.root(root);
    }
    if args.message {
        options.pipe_mode(PipeMode::Message);
    }
    if let Some(max) = args.max_instances {
        options.max_instances(max);
    }
    if let Some(ms) = args.default_timeout {
        options.default_timeout(Duration::from_millis(ms));
    }
    options.first_pipe_instance(args.first_instance);
    for uid in args.allow_uid {
        options.allow_uid(uid);
    }
    for gid in args.allow_gid {
        options.allow_gid(gid);
    }
    options.allow_everyone(args.everyone);
    options.reject_remote_clients(!args.accept_remote);
    for principal in args.allow_remote_principal {
        options.allow_remote_principal(principal);
    }
    for uid in args.trust_relay_uid {
        options.trust_relay_uid(uid);
    }
    let service = match (args.echo, args.exec) {
        (_, Some(mut command)) => Service::Exec {
            program: command.remove(0),
            args: command,
        },
        (true, None) => Service::Echo,
        (false, None) => Service::Stdout,
    };
    if args.instances == 0 {
        return Err(Failure::usage("--instances must be at least 1"));
    }
    if args.count == Some(0) {
        return Err(Failure::usage("--count must be at least 1"));
    }
    Ok(ServePlan {
        name,
        options,
        instances: args.instances,
        service,
        count: args.count,
        framing: framing(args.message),
    })
}

fn connect(args: ConnectArgs, root: Option<PathBuf>) -> Result<ConnectPlan, Failure> {
    let name = pipe_name(&args.name, Op::Connect)?;
    let mut options = client_options(root, args.server_uid);
    if args.message {
        options.read_mode(npipe::ReadMode::Message);
    }
    let linger = match args.linger {
        Some(TimeoutArg::Millis(ms)) => Some(Duration::from_millis(ms)),
        Some(TimeoutArg::Forever) | None => None,
        Some(TimeoutArg::Default) => {
            return Err(Failure::usage(
                "--linger takes milliseconds or `forever`; a pipe has no default for it",
            ))
        }
    };
    Ok(ConnectPlan {
        name,
        options,
        wait: args.wait.map(wait_timeout),
        linger,
        framing: framing(args.message),
    })
}

fn call(args: CallArgs, root: Option<PathBuf>) -> Result<CallPlan, Failure> {
    let name = pipe_name(&args.name, Op::Call)?;
    let data = if args.data == "-" {
        CallData::Stdin
    } else {
        CallData::Arg(args.data.into_bytes())
    };
    Ok(CallPlan {
        name,
        options: client_options(root, args.server_uid),
        data,
        timeout: wait_timeout(args.timeout),
        reply_size: args.reply_size,
    })
}

fn bench(args: BenchArgs) -> BenchPlan {
    let mut config = if args.quick {
        npipe_bench::BenchConfig::quick()
    } else {
        npipe_bench::BenchConfig::full()
    };
    if let Some(ms) = args.duration {
        config.duration = Duration::from_millis(ms);
    }
    if let Some(n) = args.repetitions {
        config.repetitions = n;
    }
    config.filters = args.filter;
    // A line per case is welcome on a terminal, noise in a log.
    config.progress = std::io::stderr().is_terminal();
    BenchPlan {
        config,
        json: args.json,
        plot: args.plot,
        list: args.list,
    }
}

fn wait(args: WaitArgs, root: Option<PathBuf>) -> Result<WaitPlan, Failure> {
    Ok(WaitPlan {
        name: pipe_name(&args.name, Op::Wait)?,
        options: client_options(root, None),
        timeout: wait_timeout(args.timeout),
    })
}

fn mailslot_create(
    args: MailslotCreateArgs,
    root: Option<PathBuf>,
) -> Result<MailslotCreatePlan, Failure> {
    let name = mailslot_name(&args.name, Op::MailslotCreate)?;
    let mut options = MailslotOptions::new();
    if let Some(root) = root {
        options.root(root);
    }
    options.max_message_size(args.max_size);
    let timeout = match args.timeout {
        None | Some(TimeoutArg::Forever) => MailslotTimeout::Forever,
        // u32::MAX is MAILSLOT_WAIT_FOREVER: a finite wait stays below it.
        Some(TimeoutArg::Millis(ms)) if ms < u64::from(u32::MAX) => {
            MailslotTimeout::from_millis(ms as u32)
        }
        Some(TimeoutArg::Millis(_)) => {
            return Err(Failure::usage(format!(
                "--timeout takes at most {} milliseconds (about 49 days), or `forever`",
                u32::MAX - 1
            )))
        }
        Some(TimeoutArg::Default) => {
            return Err(Failure::usage(
                "--timeout takes milliseconds or `forever`; a mailslot has no default for it",
            ))
        }
    };
    options.read_timeout(timeout);
    for uid in args.allow_uid {
        options.allow_uid(uid);
    }
    for gid in args.allow_gid {
        options.allow_gid(gid);
    }
    options.allow_everyone(args.everyone);
    options.accept_network(args.network);
    if let Some(key) = network_key(args.key, args.key_file)? {
        options.network_key(key);
    }
    if let Some(net) = network_options(args.port, args.domain)? {
        options.network(net);
    }
    if args.count == Some(0) {
        return Err(Failure::usage("--count must be at least 1"));
    }
    Ok(MailslotCreatePlan {
        name,
        options,
        count: args.count,
        format: if args.json {
            MessageFormat::Json
        } else {
            MessageFormat::Line
        },
        network: args.network,
    })
}

fn mailslot_send(
    args: MailslotSendArgs,
    root: Option<PathBuf>,
) -> Result<MailslotSendPlan, Failure> {
    let name = mailslot_name(&args.name, Op::MailslotSend)?;
    let mut options = MailslotWriterOptions::new();
    if let Some(root) = root {
        options.root(root);
    }
    let key = network_key(args.key, args.key_file)?;
    let keyed = key.is_some();
    if let Some(key) = key {
        options.network_key(key);
    }
    if let Some(net) = network_options(args.port, args.domain)? {
        options.network(net);
    }
    let data = if args.message == "-" {
        CallData::Stdin
    } else {
        CallData::Arg(args.message.into_bytes())
    };
    Ok(MailslotSendPlan {
        name,
        options,
        data,
        keyed,
    })
}

/// The network key from `--key` or `--key-file` (without one final
/// newline).
fn network_key(key: Option<String>, file: Option<PathBuf>) -> Result<Option<Vec<u8>>, Failure> {
    if let Some(key) = key {
        return Ok(Some(key.into_bytes()));
    }
    let Some(file) = file else {
        return Ok(None);
    };
    let mut key = std::fs::read(&file)
        .map_err(|e| Failure::io(format!("cannot read --key-file {}", file.display()), e))?;
    if key.last() == Some(&b'\n') {
        key.pop();
        if key.last() == Some(&b'\r') {
            key.pop();
        }
    }
    Ok(Some(key))
}

/// The environment's network settings with `--port` and `--domain`
/// applied; `None` when neither is given (the library then reads the
/// environment itself, when it needs the network).
fn network_options(
    port: Option<u16>,
    domain: Option<String>,
) -> Result<Option<NetworkOptions>, Failure> {
    if port.is_none() && domain.is_none() {
        return Ok(None);
    }
    let mut net = NetworkOptions::from_env().map_err(|e| {
        Failure::with_hint(
            e.to_string(),
            "Fix or unset that NPIPE_MAILSLOT_* variable.",
        )
    })?;
    if let Some(port) = port {
        net.port(port);
    }
    if let Some(domain) = domain {
        net.domain(&domain);
    }
    Ok(Some(net))
}

fn client_options(root: Option<PathBuf>, server_uid: Option<u32>) -> ClientOptions {
    let mut options = ClientOptions::new();
    if let Some(root) = root {
        options.root(root);
    }
    if let Some(uid) = server_uid {
        options.require_server_uid(uid);
    }
    options
}

/// A pipe name as typed: a full name (`\\.\pipe\build`, or anything that
/// starts like a UNC name, which the library then checks), or a short one
/// (`build`) meaning `\\.\pipe\build`.
pub fn pipe_name(arg: &str, op: Op) -> Result<PipeName, Failure> {
    let parsed = if arg.starts_with(r"\\") || arg.starts_with("//") {
        PipeName::parse(arg)
    } else {
        PipeName::local(NameKind::Pipe, arg)
    };
    parsed.map_err(|err| Failure::npipe("", err, op, arg, None))
}

/// A mailslot name as typed: a full name (`\\.\mailslot\inbox`,
/// `\\*\mailslot\inbox`, ...), or a short one (`inbox`) meaning
/// `\\.\mailslot\inbox`. A pipe name is refused here, with the mailslot
/// syntax in the hint.
pub fn mailslot_name(arg: &str, op: Op) -> Result<PipeName, Failure> {
    let parsed = if arg.starts_with(r"\\") || arg.starts_with("//") {
        PipeName::parse(arg).and_then(|name| match name.kind() {
            NameKind::Mailslot => Ok(name),
            _ => Err(npipe::Error::BadPathname {
                name: arg.to_string(),
                reason: "not a mailslot name".into(),
            }),
        })
    } else {
        PipeName::local(NameKind::Mailslot, arg)
    };
    parsed.map_err(|err| Failure::npipe("", err, op, arg, None))
}

fn wait_timeout(arg: TimeoutArg) -> WaitTimeout {
    match arg {
        TimeoutArg::Millis(ms) => WaitTimeout::Duration(Duration::from_millis(ms)),
        TimeoutArg::Default => WaitTimeout::Default,
        TimeoutArg::Forever => WaitTimeout::Forever,
    }
}

fn framing(message: bool) -> Framing {
    if message {
        Framing::Lines
    } else {
        Framing::Bytes
    }
}

#[cfg(test)]
mod tests;
