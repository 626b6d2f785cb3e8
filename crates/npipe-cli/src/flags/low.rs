//! The command line as clap sees it: a plain mirror of the arguments, with
//! each flag's help beside it. Nothing here knows about the library;
//! `high.rs` turns these structs into npipe builders.
//!
//! To add a command: add a variant to [`Command`] with its own args struct
//! here, a plan in `high.rs` and a module in `cmd/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_LONG_HELP: &str = "\
EXAMPLES:
    npipe serve demo --echo &
    echo hello | npipe connect demo

    npipe mailslot create inbox &
    npipe mailslot send inbox 'job 1 done'

    npipe bench --quick

EXIT STATUS:
    0   success
    1   an expected negative answer: `npipe wait` timed out, or
        `npipe mailslot create --timeout` gave up before a message came
        (before --count messages, with --count)
    2   an error (the message says which, with the Win32 error name)

A closed standard output (`npipe connect X | head -1`) ends the program quietly with 0.";

const ROOT_HELP: &str = "\
The namespace directory in which pipe and mailslot names meet. Processes that use the same \
directory see each other's pipes and mailslots. Default: $NPIPE_ROOT if set, otherwise /tmp/.npipe.";

/// Win32 named pipes and mailslots on Linux, from the shell.
#[derive(Debug, Parser)]
#[command(
    name = "npipe",
    version,
    about,
    long_about = "Win32 named pipes and mailslots on Linux, from the shell: serve, connect \
        to, call, wait for and list pipes; create mailslots, send to them and list them; \
        benchmark npipe against the kernel (bench).\n\n\
        A pipe NAME is either a short name such as `build` (meaning \\\\.\\pipe\\build) or a \
        full local name such as '\\\\.\\pipe\\build' (quote the backslashes in a shell). \
        connect, call and wait also take '\\\\HOST\\pipe\\build', a pipe on another \
        computer reached through its npiped (NPIPE_REMOTE_* settings; `npipe cert` makes \
        test certificates; servers opt in with `serve --accept-remote`). \
        Mailslot names work the same way: `inbox` means \\\\.\\mailslot\\inbox.",
    after_long_help = AFTER_LONG_HELP,
    after_help = "Try `npipe help serve` for an example, and --help for the exit codes.",
    max_term_width = 100
)]
pub struct Cli {
    /// Namespace directory (default: $NPIPE_ROOT or /tmp/.npipe).
    #[arg(long, global = true, value_name = "DIR", long_help = ROOT_HELP)]
    pub root: Option<PathBuf>,

    /// Log what npipe does to stderr.
    #[arg(
        short,
        long,
        global = true,
        long_help = "Log what npipe does (instances created, clients connected and gone, \
            bytes moved) to stderr, through `tracing`."
    )]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a named pipe and serve clients (CreateNamedPipe).
    #[command(
        long_about = "Create a named pipe and serve its clients (CreateNamedPipe, \
            ConnectNamedPipe, DisconnectNamedPipe). By default what clients send is written \
            to standard output; --echo sends it back, --exec gives each client its own \
            process. With several --instances, what clients send reaches stdout as it \
            arrives, a chunk (or, with --message, a line) at a time. The server runs until \
            killed, or until --count clients were served.",
        after_help = "EXAMPLES:\n    \
            npipe serve build --echo\n    \
            npipe serve build --message --instances 4 --exec sed -u s/^/got:/\n    \
            npipe serve logs > received.log"
    )]
    Serve(ServeArgs),

    /// Connect to a pipe like netcat: stdin to the pipe, the pipe to stdout.
    #[command(
        long_about = "Connect to a named pipe (CreateFile) and copy standard input to the \
            pipe and the pipe to standard output.\n\n\
            When standard input ends, npipe half-closes the pipe: the server reads the end of \
            its input after the data (ERROR_BROKEN_PIPE, or end of file for `npipe serve \
            --exec` programs), and npipe keeps printing what the server sends until the \
            server closes or disconnects the pipe. Win32 pipes have no half-close; it is a \
            Linux extra of npipe, like shutdown(SHUT_WR) on a socket. --linger ends the \
            session earlier, for servers that never close. It ends at once when the server \
            closes the pipe.",
        after_help = "EXAMPLES:\n    \
            echo hi | npipe connect build\n    \
            npipe connect build --wait 5000 < request.bin > reply.bin\n    \
            printf 'one\\ntwo\\n' | npipe connect jobs --message"
    )]
    Connect(ConnectArgs),

    /// Send one message and print the reply (CallNamedPipe).
    #[command(
        long_about = "Send one message to a message-type pipe and print the reply as one line \
            (CallNamedPipe): connect, write, read one message, close. Waits for a free \
            instance up to --timeout.",
        after_help = "EXAMPLES:\n    \
            npipe call build status\n    \
            npipe call build - --timeout 2000 < request.json"
    )]
    Call(CallArgs),

    /// Wait until an instance of a pipe is free (WaitNamedPipe).
    #[command(
        long_about = "Wait until an instance of the pipe is free to connect to \
            (WaitNamedPipe). Exits 0 when one is, 1 when the time-out passed first, and 2 on \
            an error such as the pipe not existing (which is reported at once, as on Windows).",
        after_help = "EXAMPLES:\n    \
            npipe wait build --timeout 5000 && npipe call build status"
    )]
    Wait(WaitArgs),

    /// List the pipes and mailslots in the namespace.
    #[command(
        long_about = "List every named pipe with a live instance in the namespace: its \
            name, type, direction, instances (existing / limit), listening instances, owner \
            and server process ids. Then every mailslot with a live reader: its name, largest \
            message, owner and reader process id. Pipes whose servers died and mailslots \
            whose readers died are not shown. The messages waiting in a mailslot are not \
            shown: only its reader can count them.",
        after_help = "EXAMPLES:\n    \
            npipe list\n    \
            npipe list --json | jq -r '.pipes[].name, .mailslots[].name'"
    )]
    List(ListArgs),

    /// Create a mailslot and print its messages, or send it one.
    #[command(
        subcommand_required = true,
        arg_required_else_help = true,
        long_about = "Mailslots: one-way inboxes of whole messages, with one reader (the \
            process that created the mailslot) and any number of writers, on this computer \
            or across the network. `npipe mailslot create` is the reader; `npipe mailslot \
            send` writes one message.",
        after_help = "EXAMPLES:\n    \
            npipe mailslot create inbox --count 1 &\n    \
            npipe mailslot send inbox hello"
    )]
    Mailslot(MailslotArgs),

    /// Measure npipe against the kernel and peer crates.
    #[command(
        long_about = "Run the benchmarks: every case in two processes (this program and a \
            copy of it), pinned to one core and to two, and print each npipe figure with its \
            ratio to the baselines (raw pipes, Unix sockets, length-prefixed frames) and peer \
            crates (interprocess, ipc-channel) measured in the same run. Ratios above 1 are \
            better for throughput, below 1 for latency. The full run takes a few minutes; \
            --quick runs every case once for 20 ms (its figures are rough). The run uses a \
            private namespace of its own: --root does not apply. Progress lines go to \
            stderr when it is a terminal.\n\n\
            Case ids read workload/size/pinning/implementation, for example \
            rt/64/cross/npipe-msg; --list prints them. Exits 0 when every case ran, 2 when \
            some failed (the table says FAILED) or an output file could not be written.",
        after_help = "EXAMPLES:\n    \
            npipe bench --quick\n    \
            npipe bench --filter rt/64/ --filter msg/64/ --json bench.json --plot bench.svg\n    \
            npipe bench --quick --json - | jq '.comparisons[] | select(.ratio < 0.9)'"
    )]
    Bench(BenchArgs),

    /// Make a test CA and server and client certificates for npiped.
    #[command(
        long_about = "Make a test certificate authority, a server certificate for npiped (for \
            every --host) and a client certificate (for --client), all signed by the CA, in \
            DIR; then print the npiped command line and the NPIPE_REMOTE_* variables that \
            use them. For tests and first setups; a deployment uses its own PKI. Keep ca.key \
            off both machines. Existing files in DIR are replaced. Same as `npiped certs`.",
        after_help = "EXAMPLES:\n    \
            npipe cert --out ./certs --host build01 --host 10.0.0.5 --client alice"
    )]
    Cert(CertArgs),

    /// Print a shell completion script.
    #[command(after_help = "EXAMPLES:\n    \
            npipe completions bash > ~/.local/share/bash-completion/completions/npipe")]
    Completions(CompletionsArgs),
}

/// `npipe serve NAME`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The pipe's name: `NAME` or '\\.\pipe\NAME'.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Make a message-type pipe read in message mode.
    #[arg(
        long,
        help_heading = "PIPE OPTIONS",
        long_help = "Make a message-type pipe and read it in message mode (PIPE_TYPE_MESSAGE | \
            PIPE_READMODE_MESSAGE). Each message received is one line on stdout or on the \
            --exec program's stdin; each line the program prints is one message. Default: a \
            byte-type pipe, copied as bytes."
    )]
    pub message: bool,

    /// Serve N clients at once.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        help_heading = "PIPE OPTIONS",
        long_help = "Create N instances of the pipe, so N clients can be served at once; \
            further clients get ERROR_PIPE_BUSY until one is free. Default: 1."
    )]
    pub instances: u32,

    /// The most instances of this name, in every process (1-255).
    #[arg(
        long,
        value_name = "N",
        help_heading = "PIPE OPTIONS",
        long_help = "The most instances of this name that may exist at once, in every process \
            (nMaxInstances): 1 to 254, or 255 for no limit. The first instance of a name fixes \
            it for all. Default: 255 (PIPE_UNLIMITED_INSTANCES)."
    )]
    pub max_instances: Option<u32>,

    /// How long `wait` and `call` wait by default (nDefaultTimeOut).
    #[arg(
        long,
        value_name = "MILLISECONDS",
        help_heading = "PIPE OPTIONS",
        long_help = "How long clients wait for a free instance when they ask for the pipe's \
            default time-out (nDefaultTimeOut, used by `npipe wait` and `npipe call` unless \
            they give --timeout). Default: 50."
    )]
    pub default_timeout: Option<u64>,

    /// Fail if an instance of this name exists already.
    #[arg(
        long,
        help_heading = "PIPE OPTIONS",
        long_help = "Fail with ERROR_ACCESS_DENIED if an instance of this name exists already \
            (FILE_FLAG_FIRST_PIPE_INSTANCE), so the server knows it owns the name."
    )]
    pub first_instance: bool,

    /// Send back what each client sends.
    #[arg(
        long,
        conflicts_with = "exec",
        help_heading = "SERVICE OPTIONS",
        long_help = "Send back what each client sends: bytes as they come, or each message \
            as one message."
    )]
    pub echo: bool,

    /// Give each client its own process: CMD [ARGS...].
    #[arg(
        long,
        value_name = "CMD",
        num_args = 1..,
        allow_hyphen_values = true,
        help_heading = "SERVICE OPTIONS",
        long_help = "Give each client its own process, like inetd: what the client sends is the \
            program's stdin and what the program prints goes to the client. When the program \
            exits, npipe waits until the client has read its output, then disconnects the \
            client. When the client half-closes the pipe (`npipe connect` does when its \
            input ends) or closes it, the program's stdin is closed. The program's stderr is \
            npipe's. Takes the rest of the command line. For replies before the input ends, \
            keep the program's output line-buffered (`sed -u`, `stdbuf -oL`)."
    )]
    pub exec: Option<Vec<String>>,

    /// Stop after serving K clients.
    #[arg(
        long,
        value_name = "K",
        help_heading = "SERVICE OPTIONS",
        long_help = "Exit after K clients have been served. Default: serve until killed."
    )]
    pub count: Option<u64>,

    /// Also let processes of this user id connect (repeatable).
    #[arg(
        long,
        value_name = "UID",
        help_heading = "ACCESS OPTIONS",
        long_help = "Also let processes running as UID connect; may be given more than once. \
            The owner and root always may. Enforced by file permissions and by the server \
            against each client's kernel credentials (the pipe's security descriptor on \
            Windows)."
    )]
    pub allow_uid: Vec<u32>,

    /// Also let processes of this group id connect (repeatable).
    #[arg(
        long,
        value_name = "GID",
        help_heading = "ACCESS OPTIONS",
        long_help = "Also let processes whose primary or supplementary group is GID connect; \
            may be given more than once."
    )]
    pub allow_gid: Vec<u32>,

    /// Let every local user connect.
    #[arg(
        long,
        help_heading = "ACCESS OPTIONS",
        long_help = "Let every local user connect (a null DACL on Windows). Default: only the \
            owner and root."
    )]
    pub everyone: bool,

    /// Let clients on other computers connect, through npiped.
    #[arg(
        long,
        help_heading = "REMOTE OPTIONS",
        long_help = "Let clients on other computers connect as \\\\HOST\\pipe\\NAME, through \
            the npiped running on this computer (PIPE_ACCEPT_REMOTE_CLIENTS). Run this \
            server in npiped's namespace (--root or NPIPE_ROOT). --exec programs get \
            NPIPE_CLIENT_PRINCIPAL, NPIPE_CLIENT_COMPUTER and NPIPE_CLIENT_ADDRESS for remote \
            clients. Default: \
            remote clients are refused (PIPE_REJECT_REMOTE_CLIENTS). See docs/REMOTE.md."
    )]
    pub accept_remote: bool,

    /// Let only this remote principal connect (repeatable).
    #[arg(
        long,
        value_name = "NAME",
        requires = "accept_remote",
        help_heading = "REMOTE OPTIONS",
        long_help = "Let only remote clients whose principal (the client certificate's name, \
            or the token's name, that npiped authenticated) is NAME connect; may be given \
            more than once. Default: every principal npiped lets in."
    )]
    pub allow_remote_principal: Vec<String>,

    /// Trust processes of this user id as npiped relays (repeatable).
    #[arg(
        long,
        value_name = "UID",
        requires = "accept_remote",
        help_heading = "REMOTE OPTIONS",
        long_help = "Believe processes running as UID when they connect on behalf of a \
            remote client: the user npiped runs as, when not root. Root always is, and so \
            is every uid in NPIPE_RELAY_UIDS. May be given more than once."
    )]
    pub trust_relay_uid: Vec<u32>,
}

/// `npipe cert --out DIR --host NAME --client NAME`
#[derive(Debug, Args)]
pub struct CertArgs {
    /// Directory to write ca.pem, ca.key, server.pem, server.key, client.pem and client.key into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// A name (or IP address) clients use for the server; repeatable.
    #[arg(
        long = "host",
        value_name = "NAME",
        required = true,
        long_help = "A name or IP address clients use for the server, as in \
            \\\\NAME\\pipe\\PIPE; may be given more than once. The server certificate is \
            made for all of them."
    )]
    pub hosts: Vec<String>,

    /// The client certificate's name: the principal servers see.
    #[arg(long, value_name = "NAME")]
    pub client: String,
}

/// `npipe connect NAME`
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The pipe's name: `NAME`, '\\.\pipe\NAME' or '\\HOST\pipe\NAME'.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Send each input line as one message; print each message as a line.
    #[arg(
        long,
        help_heading = "PIPE OPTIONS",
        long_help = "Read the pipe in message mode (PIPE_READMODE_MESSAGE): each line of stdin, \
            without its newline, is sent as one message, and each message received is printed \
            as one line. Needs a message-type pipe (`npipe serve --message`)."
    )]
    pub message: bool,

    /// Wait up to MILLISECONDS for a free instance.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        help_heading = "PIPE OPTIONS",
        long_help = "When every instance is busy, wait up to MILLISECONDS for one to be free \
            (WaitNamedPipe), or `forever`, or `default` for the pipe's default time-out. \
            Default: do not wait, fail with ERROR_PIPE_BUSY."
    )]
    pub wait: Option<TimeoutArg>,

    /// After stdin ends, stop once the server sent nothing for MILLISECONDS.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        help_heading = "PIPE OPTIONS",
        long_help = "After stdin ends (and the pipe is half-closed), keep printing what the \
            server sends until it closes the pipe or sends nothing for MILLISECONDS. For \
            servers that go on after their input ends. Default: `forever`, wait for the \
            server to close."
    )]
    pub linger: Option<TimeoutArg>,

    /// Connect only to a server running as this user id.
    #[arg(
        long,
        value_name = "UID",
        help_heading = "ACCESS OPTIONS",
        long_help = "Connect only to a server running as UID; any other gets \
            ERROR_ACCESS_DENIED, so a process that took the name first cannot pose as the \
            server."
    )]
    pub server_uid: Option<u32>,
}

/// `npipe call NAME DATA`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The pipe's name: `NAME`, '\\.\pipe\NAME' or '\\HOST\pipe\NAME'.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// The message to send; `-` reads it from stdin.
    #[arg(value_name = "DATA", allow_hyphen_values = true)]
    pub data: String,

    /// Wait up to MILLISECONDS for a free instance.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value = "default",
        help_heading = "PIPE OPTIONS",
        long_help = "How long to wait for a free instance (nTimeOut of CallNamedPipe): \
            MILLISECONDS, `forever`, or `default` for the pipe's default time-out. The reply \
            itself is waited for without limit, as on Windows. Default: default."
    )]
    pub timeout: TimeoutArg,

    /// The largest reply accepted.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 1 << 20,
        help_heading = "PIPE OPTIONS",
        long_help = "The size of the reply buffer (nOutBufferSize of CallNamedPipe). A longer \
            reply is printed cut to this size and reported as ERROR_MORE_DATA. Default: \
            1048576."
    )]
    pub reply_size: usize,

    /// Connect only to a server running as this user id.
    #[arg(long, value_name = "UID", help_heading = "ACCESS OPTIONS")]
    pub server_uid: Option<u32>,
}

/// `npipe wait NAME`
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The pipe's name: `NAME`, '\\.\pipe\NAME' or '\\HOST\pipe\NAME'.
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Give up after MILLISECONDS.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        default_value = "default",
        long_help = "How long to wait (nTimeOut of WaitNamedPipe): MILLISECONDS, `forever` \
            (NMPWAIT_WAIT_FOREVER), or `default` for the pipe's default time-out \
            (NMPWAIT_USE_DEFAULT_WAIT). Default: default."
    )]
    pub timeout: TimeoutArg,
}

/// `npipe list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON for scripts.
    #[arg(
        long,
        help_heading = "OUTPUT OPTIONS",
        long_help = "Print a JSON object with two arrays. `pipes`: one object per pipe with \
            name, type (byte or message), access, current_instances, listening_instances, \
            max_instances (255: unlimited), owner_uid, owner (the user name, or null) and \
            server_pids. `mailslots`: one object per mailslot with name, max_message_size \
            (0: up to 65536), owner_uid, owner and reader_pid."
    )]
    pub json: bool,
}

/// `npipe mailslot ...`
#[derive(Debug, Args)]
pub struct MailslotArgs {
    /// What to do with the mailslot.
    #[command(subcommand)]
    pub command: MailslotCommand,
}

/// The mailslot subcommands.
#[derive(Debug, Subcommand)]
pub enum MailslotCommand {
    /// Create a mailslot and print each message as it arrives (CreateMailslot).
    #[command(
        long_about = "Create a mailslot (CreateMailslot) and print each message as it arrives \
            (ReadFile), as its bytes followed by a newline, or with --json as one JSON \
            object a line. Runs until killed, until --count messages came, or until no \
            message came for --timeout milliseconds. The mailslot is deleted when npipe \
            ends, even when killed.\n\n\
            Exits 0 when it stopped after --count messages, or after --timeout with at \
            least one message printed; 1 when --timeout passed before any message came \
            (with --count: before that many came); 2 on an error, such as another process \
            having the name (ERROR_ALREADY_EXISTS).",
        after_help = "EXAMPLES:\n    \
            npipe mailslot create inbox\n    \
            npipe mailslot create inbox --count 3 --timeout 5000 --json\n    \
            npipe mailslot create alerts --network --key-file ~/.alerts.key --everyone"
    )]
    Create(MailslotCreateArgs),

    /// Send one message to a mailslot (CreateFile and WriteFile).
    #[command(
        long_about = "Send one message to a mailslot (CreateFile, then WriteFile): on this \
            computer ('\\\\.\\mailslot\\NAME', or just NAME), to one computer \
            ('\\\\HOST\\mailslot\\NAME'), to every computer of a domain \
            ('\\\\DOMAIN\\mailslot\\NAME') or of this computer's domain \
            ('\\\\*\\mailslot\\NAME'). A local message is delivered whole or refused; a \
            network message (at most 424 bytes) is a UDP datagram, sent best effort as on \
            Windows: success means it left, not that a mailslot received it.",
        after_help = "EXAMPLES:\n    \
            npipe mailslot send inbox 'job 1 done'\n    \
            npipe mailslot send inbox - < report.txt\n    \
            npipe mailslot send '\\\\*\\mailslot\\alerts' 'disk full' --key-file ~/.alerts.key"
    )]
    Send(MailslotSendArgs),
}

const MAILSLOT_NAME_HELP: &str = "\
The mailslot's name: a short name such as `inbox`, meaning \\\\.\\mailslot\\inbox, or a full \
name such as '\\\\.\\mailslot\\inbox' (quote the backslashes in a shell).";

const KEY_HELP: &str = "\
A shared key (HMAC-SHA256) for network datagrams: the mailslot keeps only datagrams signed \
with it, and the sender signs with it. Anyone who can list processes can read a key given \
on the command line; prefer --key-file. Local messages are not signed: the kernel vouches \
for local writers.";

const KEY_FILE_HELP: &str = "\
Read the network key from FILE: all of its bytes, without one final newline (so \
`echo secret > FILE` works). See --key.";

const PORT_HELP: &str = "\
The UDP port of network mailslots. Every computer that exchanges mailslot datagrams uses \
the same one. Default: $NPIPE_MAILSLOT_PORT, else 41380 (Windows uses 138, which needs \
root on Linux).";

const DOMAIN_HELP: &str = "\
This computer's domain: \\\\*\\mailslot\\NAME reaches the mailslots of this domain, and a \
receiving mailslot accepts \\\\DOMAIN\\mailslot\\NAME. Default: $NPIPE_MAILSLOT_DOMAIN, else \
WORKGROUP. NPIPE_MAILSLOT_HOST, NPIPE_MAILSLOT_INTERFACE and NPIPE_MAILSLOT_TTL set the \
rest (see docs/MAILSLOTS.md).";

/// `npipe mailslot create NAME`
#[derive(Debug, Args)]
pub struct MailslotCreateArgs {
    /// The mailslot's name: `NAME` or '\\.\mailslot\NAME'.
    #[arg(value_name = "NAME", long_help = MAILSLOT_NAME_HELP)]
    pub name: String,

    /// The largest message accepted, in bytes (0: up to 65536).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        help_heading = "MAILSLOT OPTIONS",
        long_help = "The largest message writers may send, in bytes (nMaxMessageSize of \
            CreateMailslot): 0 to 65536, where 0 means any size up to 65536. A writer's \
            longer message is refused (ERROR_INVALID_PARAMETER); a longer network datagram \
            is dropped. Default: 0."
    )]
    pub max_size: usize,

    /// Wait up to MILLISECONDS for each message, then stop.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        help_heading = "MAILSLOT OPTIONS",
        long_help = "How long to wait for each message (lReadTimeout of CreateMailslot): \
            MILLISECONDS, 0 to print only what is there at once, or `forever`. When it \
            passes, npipe stops: with status 1 if no message came (or fewer than --count), \
            else 0. Default: forever."
    )]
    pub timeout: Option<TimeoutArg>,

    /// Stop after K messages.
    #[arg(
        long,
        value_name = "K",
        help_heading = "MAILSLOT OPTIONS",
        long_help = "Exit 0 after printing K messages. Default: print until killed (or until \
            --timeout passes)."
    )]
    pub count: Option<u64>,

    /// Print one JSON object per message, one a line.
    #[arg(
        long,
        help_heading = "OUTPUT OPTIONS",
        long_help = "Print each message as one JSON object on one line: `time` (when npipe \
            read it, RFC 3339 in UTC), `size` (bytes), and `text` when the message is UTF-8, \
            else `base64`. Default: the message's bytes and a newline, which is ambiguous for \
            messages that hold newlines."
    )]
    pub json: bool,

    /// Also receive messages sent across the network.
    #[arg(
        long,
        help_heading = "NETWORK OPTIONS",
        long_help = "Also receive datagrams sent to this name across the network \
            (\\\\HOST\\mailslot\\NAME, \\\\DOMAIN\\mailslot\\NAME, \\\\*\\mailslot\\NAME): UDP on \
            --port, multicast groups of this computer's name and domain. Windows mailslots \
            always do; npipe asks. Needs a route for multicast (a default route, or \
            NPIPE_MAILSLOT_INTERFACE set to a local address). Default: local messages only."
    )]
    pub network: bool,

    /// Keep only network datagrams signed with KEY.
    #[arg(
        long,
        value_name = "KEY",
        requires = "network",
        conflicts_with = "key_file",
        help_heading = "NETWORK OPTIONS",
        long_help = KEY_HELP
    )]
    pub key: Option<String>,

    /// Read the network key from FILE.
    #[arg(
        long,
        value_name = "FILE",
        requires = "network",
        help_heading = "NETWORK OPTIONS",
        long_help = KEY_FILE_HELP
    )]
    pub key_file: Option<PathBuf>,

    /// The UDP port for network datagrams (default 41380).
    #[arg(
        long,
        value_name = "PORT",
        requires = "network",
        help_heading = "NETWORK OPTIONS",
        long_help = PORT_HELP
    )]
    pub port: Option<u16>,

    /// This computer's domain (default WORKGROUP).
    #[arg(
        long,
        value_name = "DOMAIN",
        requires = "network",
        help_heading = "NETWORK OPTIONS",
        long_help = DOMAIN_HELP
    )]
    pub domain: Option<String>,

    /// Also let processes of this user id write (repeatable).
    #[arg(
        long,
        value_name = "UID",
        help_heading = "ACCESS OPTIONS",
        long_help = "Also let processes running as UID send to the mailslot; may be given \
            more than once. The owner and root always may. Enforced by file permissions and \
            by the reader against each writer's kernel credentials. Network datagrams are \
            not covered: use --key."
    )]
    pub allow_uid: Vec<u32>,

    /// Also let processes of this group id write (repeatable).
    #[arg(
        long,
        value_name = "GID",
        help_heading = "ACCESS OPTIONS",
        long_help = "Also let processes whose primary group is GID send to the mailslot; may \
            be given more than once."
    )]
    pub allow_gid: Vec<u32>,

    /// Let every local user write.
    #[arg(
        long,
        help_heading = "ACCESS OPTIONS",
        long_help = "Let every local user send to the mailslot (a null DACL on Windows). \
            Default: only the owner and root."
    )]
    pub everyone: bool,
}

/// `npipe mailslot send NAME MESSAGE`
#[derive(Debug, Args)]
pub struct MailslotSendArgs {
    /// The mailslot: `NAME`, '\\.\mailslot\NAME', '\\HOST\mailslot\NAME' or '\\*\mailslot\NAME'.
    #[arg(
        value_name = "NAME",
        long_help = "The mailslot: a short name such as `inbox` or '\\\\.\\mailslot\\inbox' \
            on this computer; '\\\\HOST\\mailslot\\inbox' on the computer HOST (or the \
            computer with that IPv4 address); '\\\\DOMAIN\\mailslot\\inbox' on every \
            computer of DOMAIN; '\\\\*\\mailslot\\inbox' on every computer of this \
            computer's domain (this one included, if its mailslot has --network)."
    )]
    pub name: String,

    /// The message; `-` reads it from stdin.
    #[arg(
        value_name = "MESSAGE",
        allow_hyphen_values = true,
        long_help = "The message, sent as its bytes, without a newline. `-` sends all of \
            standard input as one message, as it is (`echo` adds a newline; `printf` does \
            not)."
    )]
    pub message: String,

    /// Sign network datagrams with KEY.
    #[arg(
        long,
        value_name = "KEY",
        conflicts_with = "key_file",
        help_heading = "NETWORK OPTIONS",
        long_help = KEY_HELP
    )]
    pub key: Option<String>,

    /// Read the network key from FILE.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "NETWORK OPTIONS",
        long_help = KEY_FILE_HELP
    )]
    pub key_file: Option<PathBuf>,

    /// The UDP port for network datagrams (default 41380).
    #[arg(
        long,
        value_name = "PORT",
        help_heading = "NETWORK OPTIONS",
        long_help = PORT_HELP
    )]
    pub port: Option<u16>,

    /// This computer's domain, which `\\*\mailslot\NAME` reaches (default WORKGROUP).
    #[arg(
        long,
        value_name = "DOMAIN",
        help_heading = "NETWORK OPTIONS",
        long_help = DOMAIN_HELP
    )]
    pub domain: Option<String>,
}

/// `npipe bench`
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Run every case once, briefly (about a minute; rough figures).
    #[arg(
        long,
        long_help = "Run every case once for 20 ms instead of three times for 500 ms: what CI \
            runs so the benchmarks keep working. Its figures are rough; it asserts nothing \
            about speed."
    )]
    pub quick: bool,

    /// Run only the cases whose id contains SUBSTR (repeatable).
    #[arg(
        long,
        value_name = "SUBSTR",
        long_help = "Run only the cases whose id (workload/size/pinning/implementation, such \
            as rt/64/cross/npipe-msg) contains SUBSTR; may be given more than once, and a \
            case runs if any matches. Workloads: bulk, msg, rt, connect, inst255, \
            clients1000. Default: every case."
    )]
    pub filter: Vec<String>,

    /// Write every figure and ratio to FILE as JSON (`-`: stdout).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "OUTPUT OPTIONS",
        long_help = "Write every figure of every case, and every ratio, to FILE as JSON \
            (format npipe-bench/1: mode, machine, rows with id, status and metrics, \
            comparisons with ratio). `-` writes it to stdout, and the table to stderr."
    )]
    pub json: Option<PathBuf>,

    /// Write the latency and throughput plot to FILE (SVG).
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "OUTPUT OPTIONS",
        long_help = "Write an SVG plot of round-trip latency and one-way throughput against \
            payload size, npipe against the baselines and peers, same-core and cross-core."
    )]
    pub plot: Option<PathBuf>,

    /// Print the case ids and exit.
    #[arg(long, help_heading = "OUTPUT OPTIONS")]
    pub list: bool,

    /// How long each case runs, in milliseconds.
    #[arg(
        long,
        value_name = "MILLISECONDS",
        help_heading = "RUN OPTIONS",
        long_help = "How long each case runs, each time. Default: 500, or 20 with --quick."
    )]
    pub duration: Option<u64>,

    /// How many times each case runs; figures are medians.
    #[arg(
        long,
        value_name = "N",
        help_heading = "RUN OPTIONS",
        value_parser = clap::value_parser!(u32).range(1..),
        long_help = "How many times each case runs (interleaved: every case once, then \
            again); the figures are the medians. Default: 3, or 1 with --quick."
    )]
    pub repetitions: Option<u32>,
}

/// `npipe completions SHELL`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// A time-out as typed: a number of milliseconds, `default` or `forever`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutArg {
    /// This many milliseconds.
    Millis(u64),
    /// The pipe's default time-out.
    Default,
    /// No limit.
    Forever,
}

impl std::str::FromStr for TimeoutArg {
    type Err = String;

    fn from_str(s: &str) -> Result<TimeoutArg, String> {
        match s {
            "default" => Ok(TimeoutArg::Default),
            "forever" => Ok(TimeoutArg::Forever),
            _ => s.parse().map(TimeoutArg::Millis).map_err(|_| {
                format!("{s:?} is not a time-out: give milliseconds, `default` or `forever`")
            }),
        }
    }
}
