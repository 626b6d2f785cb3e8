//! What went wrong, said once: the message `main` prints after `npipe: `,
//! the hint it prints after a blank line, and whether to say nothing at all
//! (standard output was closed by its reader).

use std::fmt;
use std::io;
use std::path::Path;

use npipe::mailslot::{MAX_LOCAL_MESSAGE, MAX_NETWORK_MESSAGE};
use npipe::{Error, NameKind, PipeName};

/// The operation that failed, to pick a hint that names the right flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Creating or serving instances.
    Serve,
    /// Opening the pipe as a client, or moving data on it.
    Connect,
    /// CallNamedPipe.
    Call,
    /// WaitNamedPipe.
    Wait,
    /// Listing the namespace.
    List,
    /// Creating a mailslot and reading it.
    MailslotCreate,
    /// Opening a mailslot and writing to it.
    MailslotSend,
}

/// An error on its way to `main`.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    quiet: bool,
}

impl Failure {
    /// A failed npipe call: what was being done (may be empty), the
    /// library's error, and a hint for this operation. `namespace` is named
    /// in hints that need it.
    pub fn npipe(
        doing: impl fmt::Display,
        err: Error,
        op: Op,
        name: &str,
        namespace: Option<&Path>,
    ) -> Failure {
        let doing = doing.to_string();
        let what = describe(&err, op);
        Failure {
            message: if doing.is_empty() {
                what
            } else {
                format!("{doing}: {what}")
            },
            hint: hint(op, &err, name, namespace),
            quiet: false,
        }
    }

    /// A failed system call outside the library (stdin, a child process).
    pub fn io(doing: impl fmt::Display, err: io::Error) -> Failure {
        Failure {
            message: format!("{doing}: {err}"),
            hint: None,
            quiet: false,
        }
    }

    /// A flag value that makes no sense.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            hint: Some("See --help for the flags and their values.".into()),
            quiet: false,
        }
    }

    /// A message with a hint of one's own.
    pub fn with_hint(message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            hint: Some(hint.into()),
            quiet: false,
        }
    }

    /// The reader of stdout went away (`| head`): end quietly with 0.
    pub fn stdout_closed() -> Failure {
        Failure {
            message: "standard output was closed".into(),
            hint: None,
            quiet: true,
        }
    }

    /// The same failure with another hint, for when the command knows
    /// more than [`hint`] can (who holds a name, say).
    pub fn with_other_hint(self, hint: impl Into<String>) -> Failure {
        Failure {
            hint: Some(hint.into()),
            ..self
        }
    }

    /// The message, without the `npipe: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if one helps.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Whether to end silently with status 0.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }
}

/// Maps a failed write to stdout: a closed reader (`EPIPE`) ends the
/// program quietly. Only stdout writes come here, so this can never be
/// mistaken for the pipe's own `ERROR_BROKEN_PIPE`.
pub fn stdout_error(err: io::Error) -> Failure {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Failure::stdout_closed()
    } else {
        Failure::io("cannot write to standard output", err)
    }
}

/// The error as the message says it: the library's words, except where
/// they speak of pipes and the command is about a mailslot.
fn describe(err: &Error, op: Op) -> String {
    match (err, op) {
        (Error::FileNotFound { name }, Op::MailslotSend) => {
            format!("{name} has no reader (ERROR_FILE_NOT_FOUND)")
        }
        (Error::AlreadyExists { name }, Op::MailslotCreate) => {
            format!("{name} has a reader already (ERROR_ALREADY_EXISTS)")
        }
        _ => err.to_string(),
    }
}

/// The next step for the user, naming a flag where one helps.
pub fn hint(op: Op, err: &Error, name: &str, namespace: Option<&Path>) -> Option<String> {
    let ns = || {
        namespace.map_or(String::new(), |p| {
            format!(
                " (namespace: {}; change it with --root or NPIPE_ROOT)",
                p.display()
            )
        })
    };
    if let Some(host) = remote_pipe_host(op, name) {
        if let Some(text) = remote_hint(err, name, &host) {
            return Some(text);
        }
    }
    let text = match (err, op) {
        (Error::FileNotFound { .. }, Op::MailslotSend) => format!(
            "Is `npipe mailslot create {}` running?{}",
            shell_form(name),
            ns()
        ),
        (Error::AlreadyExists { .. }, Op::MailslotCreate) => "A mailslot has one reader, and \
            another process has this name (`npipe list` shows which): stop it, or pick \
            another name."
            .into(),
        (Error::MessageTooLarge { max, .. }, Op::MailslotSend) => too_large(name, *max),
        (Error::BadPathname { .. }, Op::MailslotCreate) => "A mailslot is created on this \
            computer: give a short name such as `inbox`, which means \\\\.\\mailslot\\inbox, \
            or the full name '\\\\.\\mailslot\\inbox' (quote the backslashes in a shell)."
            .into(),
        (Error::BadPathname { .. }, Op::MailslotSend) => "A mailslot name is a short name such \
            as `inbox`, which means \\\\.\\mailslot\\inbox, or a full name: \
            '\\\\.\\mailslot\\inbox', '\\\\HOST\\mailslot\\inbox', \
            '\\\\DOMAIN\\mailslot\\inbox' or '\\\\*\\mailslot\\inbox' (quote the backslashes \
            in a shell)."
            .into(),
        (Error::AccessDenied { name: denied, .. }, Op::MailslotCreate) if denied == name => {
            "A reader of this name run by another user died and left its files behind; only \
             that user or root can reuse the name. Pick another name."
                .into()
        }
        (Error::AccessDenied { .. }, Op::MailslotCreate) => return None,
        (Error::AccessDenied { .. }, Op::MailslotSend) => "The mailslot's reader decides who \
            may send: create it with --allow-uid UID, --allow-gid GID or --everyone."
            .into(),
        (Error::InvalidParameter { .. }, Op::MailslotCreate) => "--max-size takes 0 (any size \
            up to 65536 bytes) to 65536, and a network key (--key, --key-file) must not be \
            empty."
            .into(),
        (Error::InvalidParameter { .. }, Op::MailslotSend) => {
            "A network key (--key, --key-file) must not be empty.".into()
        }
        (Error::FileNotFound { .. }, _) => {
            format!("Is `npipe serve {}` running?{}", shell_form(name), ns())
        }
        (Error::PipeBusy { .. }, Op::Serve) => format!(
            "The instance limit of {name} is reached; the first server of the name set it \
             with --max-instances."
        ),
        (Error::PipeBusy { .. }, Op::Connect) => "Use --wait MILLISECONDS to wait for a free \
            instance, or start the server with more --instances."
            .into(),
        (Error::PipeBusy { .. } | Error::Timeout, Op::Call) => "Use --timeout MILLISECONDS to \
            wait longer for a free instance, or start the server with more --instances."
            .into(),
        (Error::Timeout, Op::Connect) => "No instance became free in time: raise --wait, or \
            start the server with more --instances."
            .into(),
        (Error::BadPathname { .. }, _) => "A pipe name is a short name such as `build`, which \
            means \\\\.\\pipe\\build, or a full local name such as '\\\\.\\pipe\\build' (quote \
            the backslashes in a shell)."
            .into(),
        (Error::AccessDenied { .. }, Op::Serve) => "Another user owns the name, or its \
            existing instances were made with other options (--message, --max-instances): \
            stop them or pick another name. --first-instance refuses to share a name."
            .into(),
        (Error::AccessDenied { .. }, _) => "The server decides who may connect: start it with \
            --allow-uid UID, --allow-gid GID or --everyone. --server-uid refuses servers run \
            by other users."
            .into(),
        (Error::BadPipe { .. } | Error::InvalidParameter { .. }, Op::Call) => {
            "`npipe call` needs a message-type pipe: start the server with --message.".into()
        }
        (Error::InvalidParameter { .. }, Op::Connect) => {
            "--message needs a message-type pipe: drop it, or start the server with --message."
                .into()
        }
        (Error::MoreData { .. }, Op::Call) => "Raise --reply-size to get the whole reply.".into(),
        _ => return None,
    };
    Some(text)
}

/// The host of a remote pipe name (`\\HOST\pipe\NAME`) for the client
/// operations, which reach it through npiped; `None` otherwise.
fn remote_pipe_host(op: Op, name: &str) -> Option<String> {
    if !matches!(op, Op::Connect | Op::Call | Op::Wait) {
        return None;
    }
    let name = PipeName::parse(name).ok()?;
    (name.kind() == NameKind::Pipe && !name.is_local()).then(|| name.host().to_string())
}

/// Hints for a pipe on another computer, reached through its npiped;
/// `None` where the local hint serves as well.
fn remote_hint(err: &Error, name: &str, host: &str) -> Option<String> {
    let pipe = name.rsplit('\\').next().unwrap_or(name);
    let text = match err {
        Error::BadNetpath { .. } => format!(
            "Is npiped running on {host}, and listening on the port npipe uses \
             (NPIPE_REMOTE_PORT, default 4445)? NPIPE_REMOTE_ADDRESS sets the address to \
             connect to when {host} does not resolve to it. A firewall may be in the way."
        ),
        Error::AccessDenied { reason, .. } if reason.contains("npiped at") => format!(
            "npiped and this client must trust each other: NPIPE_REMOTE_CA is the CA that \
             signed npiped's certificate (made for the name {host}, or set \
             NPIPE_REMOTE_SERVER_NAME), and NPIPE_REMOTE_CERT and NPIPE_REMOTE_KEY a client \
             certificate npiped's --client-ca signed (or NPIPE_REMOTE_TOKEN / \
             NPIPE_REMOTE_TOKEN_FILE, a token npiped's --token-file holds). `npipe cert` makes \
             test certificates."
        ),
        Error::AccessDenied { reason, .. } if reason.contains("rejects remote clients") => {
            format!("The server on {host} refuses remote clients: start it with `npipe serve {pipe} --accept-remote`.")
        }
        Error::AccessDenied { reason, .. } if reason.contains("remote principal") => format!(
            "The server on {host} lets in only some principals: add this one with \
             --allow-remote-principal NAME (a client certificate's name, or a token's name: \
             for npiped's --token-file, its --token-name, default `token`)."
        ),
        Error::AccessDenied { .. } => format!(
            "The server on {host} decides who may connect: `npipe serve {pipe} --accept-remote`, \
             with --allow-remote-principal for each principal it restricts to. --server-uid \
             refuses servers run by other users."
        ),
        Error::FileNotFound { .. } => format!(
            "Is `npipe serve {pipe} --accept-remote` running on {host}, in npiped's \
             namespace (npiped's --root, else its NPIPE_ROOT)?"
        ),
        Error::InvalidParameter { reason } if reason.contains("NPIPE_REMOTE") => {
            "Set NPIPE_REMOTE_CA (and NPIPE_REMOTE_CERT and NPIPE_REMOTE_KEY, or \
             NPIPE_REMOTE_TOKEN) to reach npiped; `npipe cert` makes test certificates \
             (see docs/REMOTE.md)."
                .into()
        }
        _ => return None,
    };
    Some(text)
}

/// Why a mailslot message of more than `max` bytes is refused, for a
/// message sent to `name`.
fn too_large(name: &str, max: usize) -> String {
    let local = PipeName::parse(name).map_or(true, |n| n.is_local());
    if !local {
        format!(
            "At most {MAX_NETWORK_MESSAGE} bytes cross the network: Windows' limit for a \
             mailslot datagram, which npipe keeps. Send less, or send to the local name on \
             the reader's computer."
        )
    } else if max == MAX_LOCAL_MESSAGE {
        format!(
            "{max} bytes (64 KiB) is the most one local mailslot message carries in npipe: it \
             travels as one socket record, which must fit the writer's send buffer."
        )
    } else {
        format!(
            "The mailslot's reader takes at most {max} bytes a message: it was created with \
             --max-size {max}."
        )
    }
}

/// How to type `name` in a shell: the short form when it is a plain local
/// pipe or mailslot name, otherwise the full name in single quotes.
fn shell_form(name: &str) -> String {
    let short = name
        .strip_prefix(r"\\.\pipe\")
        .or_else(|| name.strip_prefix(r"\\.\mailslot\"));
    match short {
        Some(short)
            if !short.is_empty()
                && short
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+:@%".contains(c)) =>
        {
            short.to_string()
        }
        _ => format!("'{}'", name.replace('\'', r"'\''")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name() -> String {
        r"\\.\pipe\t".into()
    }

    #[test]
    fn hints_name_the_flag_that_helps() {
        let ns = Path::new("/tmp/ns");
        let rows: Vec<(Op, Error, &str)> = vec![
            (
                Op::Connect,
                Error::FileNotFound { name: name() },
                "npipe serve",
            ),
            (Op::Wait, Error::FileNotFound { name: name() }, "/tmp/ns"),
            (Op::Connect, Error::PipeBusy { name: name() }, "--wait"),
            (Op::Call, Error::PipeBusy { name: name() }, "--timeout"),
            (
                Op::Serve,
                Error::PipeBusy { name: name() },
                "--max-instances",
            ),
            (Op::Connect, Error::Timeout, "--wait"),
            (
                Op::Serve,
                Error::BadPathname {
                    name: "x".into(),
                    reason: "r".into(),
                },
                r"\\.\pipe\build",
            ),
            (
                Op::Connect,
                Error::AccessDenied {
                    name: name(),
                    reason: "r".into(),
                },
                "--everyone",
            ),
            (Op::Call, Error::BadPipe { reason: "r".into() }, "--message"),
            (Op::Call, Error::MoreData { read: 1 }, "--reply-size"),
            (
                Op::Connect,
                Error::InvalidParameter { reason: "r".into() },
                "--message",
            ),
        ];
        for (op, err, needle) in rows {
            let hint = hint(op, &err, &name(), Some(ns)).unwrap_or_default();
            assert!(
                hint.contains(needle),
                "{op:?} {err:?}: {hint:?} lacks {needle:?}"
            );
        }
        assert_eq!(hint(Op::List, &Error::BrokenPipe, "x", None), None);
    }

    #[test]
    fn mailslot_hints_name_the_command_and_the_limit() {
        let slot = r"\\.\mailslot\inbox";
        let rows: Vec<(Op, Error, &str, &str)> = vec![
            (
                Op::MailslotSend,
                Error::FileNotFound { name: slot.into() },
                slot,
                "`npipe mailslot create inbox`",
            ),
            (
                Op::MailslotCreate,
                Error::AlreadyExists { name: slot.into() },
                slot,
                "one reader",
            ),
            (
                Op::MailslotSend,
                Error::MessageTooLarge { len: 9, max: 8 },
                slot,
                "--max-size 8",
            ),
            (
                Op::MailslotSend,
                Error::MessageTooLarge {
                    len: 70_000,
                    max: MAX_LOCAL_MESSAGE,
                },
                slot,
                "64 KiB",
            ),
            (
                Op::MailslotSend,
                Error::MessageTooLarge {
                    len: 425,
                    max: MAX_NETWORK_MESSAGE,
                },
                r"\\*\mailslot\inbox",
                "At most 424 bytes cross the network",
            ),
            (
                Op::MailslotSend,
                Error::BadPathname {
                    name: "x".into(),
                    reason: "r".into(),
                },
                "x",
                r"'\\*\mailslot\inbox'",
            ),
            (
                Op::MailslotSend,
                Error::AccessDenied {
                    name: slot.into(),
                    reason: "r".into(),
                },
                slot,
                "--everyone",
            ),
            (
                Op::MailslotCreate,
                Error::InvalidParameter { reason: "r".into() },
                slot,
                "--max-size",
            ),
        ];
        for (op, err, name, needle) in rows {
            let hint = hint(op, &err, name, None).unwrap_or_default();
            assert!(
                hint.contains(needle),
                "{op:?} {err:?}: {hint:?} lacks {needle:?}"
            );
        }
        // The namespace root, not the name, is denied: no hint about names.
        let root_denied = Error::AccessDenied {
            name: "/tmp/ns".into(),
            reason: "r".into(),
        };
        assert_eq!(hint(Op::MailslotCreate, &root_denied, slot, None), None);
    }

    #[test]
    fn remote_hints_name_npiped_and_its_settings() {
        let remote = r"\\build01\pipe\jobs";
        let denied = |reason: &str| Error::AccessDenied {
            name: remote.into(),
            reason: reason.into(),
        };
        let rows: Vec<(Op, Error, &str)> = vec![
            (
                Op::Connect,
                Error::BadNetpath {
                    host: "build01:4445".into(),
                    reason: "r".into(),
                },
                "NPIPE_REMOTE_PORT",
            ),
            (
                Op::Call,
                denied("npiped at 127.0.0.1:4445 refused this client's credentials"),
                "NPIPE_REMOTE_CERT",
            ),
            (
                Op::Connect,
                denied("the pipe rejects remote clients"),
                "npipe serve jobs --accept-remote",
            ),
            (
                Op::Connect,
                denied("remote principal \"bob\" is not allowed"),
                "--allow-remote-principal",
            ),
            (
                Op::Wait,
                Error::FileNotFound {
                    name: remote.into(),
                },
                "npiped's namespace",
            ),
            (
                Op::Connect,
                Error::InvalidParameter {
                    reason: "no CA to check npiped's certificate with; set NPIPE_REMOTE_CA".into(),
                },
                "npipe cert",
            ),
        ];
        for (op, err, needle) in rows {
            let hint = hint(op, &err, remote, None).unwrap_or_default();
            assert!(
                hint.contains(needle),
                "{op:?} {err:?}: {hint:?} lacks {needle:?}"
            );
        }
        // A local name keeps the local hint.
        let local = hint(
            Op::Connect,
            &Error::FileNotFound { name: name() },
            &name(),
            None,
        );
        assert!(!local.unwrap_or_default().contains("npiped"));
    }

    #[test]
    fn hints_spell_names_as_typed_in_a_shell() {
        assert_eq!(shell_form(r"\\.\pipe\build-1"), "build-1");
        assert_eq!(shell_form(r"\\.\pipe\a\b"), r"'\\.\pipe\a\b'");
        assert_eq!(shell_form(r"\\.\pipe\it's"), r"'\\.\pipe\it'\''s'");
        assert_eq!(shell_form(r"\\.\mailslot\inbox"), "inbox");
    }

    #[test]
    fn message_keeps_the_win32_name() {
        let f = Failure::npipe(
            r"cannot connect to \\.\pipe\t",
            Error::PipeBusy { name: name() },
            Op::Connect,
            &name(),
            None,
        );
        assert!(f.message().starts_with(r"cannot connect to \\.\pipe\t: "));
        assert!(f.message().contains("ERROR_PIPE_BUSY"));
        assert!(!f.is_quiet());
    }

    #[test]
    fn mailslot_messages_speak_of_readers() {
        let slot = r"\\.\mailslot\x";
        let f = Failure::npipe(
            format!("cannot open {slot}"),
            Error::FileNotFound { name: slot.into() },
            Op::MailslotSend,
            slot,
            None,
        );
        assert_eq!(
            f.message(),
            r"cannot open \\.\mailslot\x: \\.\mailslot\x has no reader (ERROR_FILE_NOT_FOUND)"
        );
        let f = Failure::npipe(
            "",
            Error::AlreadyExists { name: slot.into() },
            Op::MailslotCreate,
            slot,
            None,
        );
        assert_eq!(
            f.message(),
            r"\\.\mailslot\x has a reader already (ERROR_ALREADY_EXISTS)"
        );
    }

    #[test]
    fn closed_stdout_is_quiet() {
        assert!(stdout_error(io::ErrorKind::BrokenPipe.into()).is_quiet());
        // The pipe's own broken pipe is not stdout's.
        assert!(!Failure::npipe("x", Error::BrokenPipe, Op::Connect, "x", None).is_quiet());
    }
}
