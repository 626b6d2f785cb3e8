//! `npipe wait`: WaitNamedPipe; the exit status is the answer.

use std::path::Path;

use npipe::Error;
use tracing::info;

use crate::cmd::Outcome;
use crate::failure::{Failure, Op};
use crate::flags::high::WaitPlan;

pub fn run(plan: WaitPlan, namespace: &Path) -> Result<Outcome, Failure> {
    let name = plan.name.as_str();
    match plan.options.wait(name, plan.timeout) {
        Ok(()) => {
            info!(pipe = %name, "an instance is free");
            Ok(Outcome::Success)
        }
        Err(Error::Timeout) => {
            info!(pipe = %name, "no instance became free in time");
            Ok(Outcome::Negative)
        }
        Err(e) => Err(Failure::npipe(
            format!("cannot wait for {name}"),
            e,
            Op::Wait,
            name,
            Some(namespace),
        )),
    }
}
