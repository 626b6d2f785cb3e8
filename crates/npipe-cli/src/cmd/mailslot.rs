//! `npipe mailslot create` (CreateMailslot, then ReadFile until done) and
//! `npipe mailslot send` (CreateFile and one WriteFile).

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use npipe::{Error, Namespace, PipeName};
use serde::Serialize;
use tracing::{debug, info, warn};

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure, Op};
use crate::flags::high::{CallData, MailslotCreatePlan, MailslotSendPlan, MessageFormat};
use crate::format;
use crate::progress::multi;

/// One message as `--json` prints it.
#[derive(Debug, Serialize)]
struct JsonMessage<'a> {
    /// When npipe read it.
    time: String,
    size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
}

/// Creates the mailslot and prints its messages until `--count`, the
/// read time-out, or a signal ends the program.
pub fn create(plan: MailslotCreatePlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.as_str();
    let slot = plan
        .options
        .create(name)
        .map_err(|e| create_failure(e, &plan, namespace))?;
    info!(mailslot = %name, namespace = %namespace.display(), network = plan.network, "reading");
    if std::io::stderr().is_terminal() {
        let _ = multi().println(format!(
            "npipe: reading {name} in {}{}; Ctrl-C stops",
            namespace.display(),
            if plan.network {
                " and from the network"
            } else {
                ""
            }
        ));
    }
    let mut out = std::io::stdout().lock();
    let mut printed = 0u64;
    while plan.count != Some(printed) {
        let message = match slot.read_message() {
            Ok(message) => message,
            Err(Error::Timeout) => {
                // The read time-out passed: a negative answer if what was
                // asked for (one message, or --count of them) did not come.
                let wanted = plan.count.unwrap_or(1);
                info!(printed, "no message came within the time-out");
                return Ok(if printed < wanted {
                    Outcome::Negative
                } else {
                    Outcome::Success
                });
            }
            Err(e) => {
                return Err(Failure::npipe(
                    format!("cannot read {name}"),
                    e,
                    Op::MailslotCreate,
                    name,
                    None,
                ))
            }
        };
        debug!(size = message.len(), "message");
        print(&mut out, &message, plan.format).map_err(stdout_error)?;
        printed += 1;
    }
    Ok(Outcome::Success)
}

/// Sends the one message.
pub fn send(plan: MailslotSendPlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.as_str();
    let fail =
        |doing: String, e: Error| Failure::npipe(doing, e, Op::MailslotSend, name, Some(namespace));
    if plan.keyed && plan.name.is_local() {
        warn!("--key is not used for {name}: local messages are not signed");
    }
    let message = match plan.data {
        CallData::Arg(bytes) => bytes,
        CallData::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Failure::io("cannot read standard input", e))?;
            bytes
        }
    };
    let writer = plan
        .options
        .open(name)
        .map_err(|e| fail(format!("cannot open {name}"), e))?;
    writer
        .write(&message)
        .map_err(|e| fail(format!("cannot send to {name}"), e))?;
    info!(mailslot = %name, size = message.len(), "sent");
    Ok(Outcome::Success)
}

fn print(out: &mut impl Write, message: &[u8], format: MessageFormat) -> std::io::Result<()> {
    match format {
        MessageFormat::Line => {
            out.write_all(message)?;
            out.write_all(b"\n")?;
        }
        MessageFormat::Json => {
            let text = std::str::from_utf8(message).ok();
            let line = JsonMessage {
                time: format::rfc3339(SystemTime::now()),
                size: message.len(),
                text,
                base64: text.is_none().then(|| format::base64(message)),
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
    }
    // One message at a time, so `| while read` and `| jq` see each at once.
    out.flush()
}

/// The failure of CreateMailslot, naming the process that has the name
/// when that is why.
fn create_failure(e: Error, plan: &MailslotCreatePlan, namespace: &Path) -> Failure {
    let name = plan.name.as_str();
    let reader = match &e {
        Error::AlreadyExists { .. } => Namespace::at(namespace)
            .mailslots()
            .ok()
            .and_then(|slots| {
                slots
                    .into_iter()
                    .find(|s| PipeName::parse(&s.name).is_ok_and(|n| n == plan.name))
            })
            .map(|s| s.reader_pid),
        _ => None,
    };
    let network_io = plan.network && matches!(e, Error::Io(_));
    let failure = Failure::npipe(
        format!("cannot create {name}"),
        e,
        Op::MailslotCreate,
        name,
        Some(namespace),
    );
    if let Some(pid) = reader {
        failure.with_other_hint(format!(
            "A mailslot has one reader, and process {pid} is reading {name}: stop it, or \
             pick another name."
        ))
    } else if network_io {
        failure.with_other_hint(
            "Receiving from the network needs the UDP port (--port) and a route for \
             multicast: a default route, or NPIPE_MAILSLOT_INTERFACE set to a local address.",
        )
    } else {
        failure
    }
}
