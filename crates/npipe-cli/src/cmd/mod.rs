//! One module per subcommand (`mailslot.rs` holds both mailslot ones).
//! Each takes its plan from `flags::high` and returns an [`Outcome`] or a
//! [`Failure`]; none reads flags or exits.

mod bench;
mod call;
mod cert;
mod connect;
mod list;
mod mailslot;
mod serve;
mod wait;

use std::io::Write;

use clap::CommandFactory;

use crate::failure::{stdout_error, Failure};
use crate::flags::high::{CommandPlan, Plan};
use crate::flags::low::Cli;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit status 0.
    Success,
    /// An expected negative answer: exit status 1 (a wait that timed out,
    /// a mailslot that got no message in time).
    Negative,
}

/// Runs the plan's command.
pub fn run(plan: Plan) -> Result<Outcome, Failure> {
    let ns = plan.namespace.as_path();
    match plan.command {
        CommandPlan::Serve(p) => serve::run(p, ns),
        CommandPlan::Connect(p) => connect::run(p, ns),
        CommandPlan::Call(p) => call::run(p, ns),
        CommandPlan::Wait(p) => wait::run(p, ns),
        CommandPlan::List(p) => list::run(p),
        CommandPlan::MailslotCreate(p) => mailslot::create(p, ns),
        CommandPlan::MailslotSend(p) => mailslot::send(p, ns),
        CommandPlan::Bench(p) => bench::run(p),
        CommandPlan::Cert(p) => cert::run(p),
        CommandPlan::Completions(shell) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "npipe", &mut out);
            std::io::stdout().write_all(&out).map_err(stdout_error)?;
            Ok(Outcome::Success)
        }
    }
}
