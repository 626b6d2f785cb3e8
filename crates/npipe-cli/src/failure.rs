//! What went wrong, said once: the message `main` prints after `npipe: `,
//! the hint it prints after a blank line, and whether to say nothing at all
//! (standard output was closed by its reader).

use std::fmt;
use std::io;
use std::path::Path;

use npipe::Error;

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
        Failure {
            message: if doing.is_empty() {
                err.to_string()
            } else {
                format!("{doing}: {err}")
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
    let text = match (err, op) {
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

/// How to type `name` in a shell: the short form when it is a plain local
/// pipe name, otherwise the full name in single quotes.
fn shell_form(name: &str) -> String {
    match name.strip_prefix(r"\\.\pipe\") {
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
    fn hints_spell_names_as_typed_in_a_shell() {
        assert_eq!(shell_form(r"\\.\pipe\build-1"), "build-1");
        assert_eq!(shell_form(r"\\.\pipe\a\b"), r"'\\.\pipe\a\b'");
        assert_eq!(shell_form(r"\\.\pipe\it's"), r"'\\.\pipe\it'\''s'");
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
    fn closed_stdout_is_quiet() {
        assert!(stdout_error(io::ErrorKind::BrokenPipe.into()).is_quiet());
        // The pipe's own broken pipe is not stdout's.
        assert!(!Failure::npipe("x", Error::BrokenPipe, Op::Connect, "x", None).is_quiet());
    }
}
