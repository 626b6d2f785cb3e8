//! `npipe bench`: the benchmark harness (`npipe_bench::run`), with this
//! executable as each case's peer process (`main` hands the peer's hidden
//! subcommand to `npipe_bench::run_peer_if_requested` before parsing).

use std::io::Write;
use std::path::Path;

use npipe_bench::Outcome as CaseOutcome;

use crate::cmd::Outcome;
use crate::failure::{stdout_error, Failure};
use crate::flags::high::BenchPlan;

pub fn run(plan: BenchPlan) -> Result<Outcome, Failure> {
    let cases = plan.config.cases();
    if cases.is_empty() {
        return Err(Failure::with_hint(
            format!(
                "no benchmark case matches --filter {}",
                plan.config.filters.join(", --filter ")
            ),
            "`npipe bench --list` prints the case ids; a filter matches any part of one.",
        ));
    }
    if plan.list {
        let mut out = String::new();
        for case in cases {
            out.push_str(&case.id());
            out.push('\n');
        }
        std::io::stdout()
            .write_all(out.as_bytes())
            .map_err(stdout_error)?;
        return Ok(Outcome::Success);
    }
    let report = npipe_bench::run(&plan.config);
    let json_to_stdout = plan.json.as_deref() == Some(Path::new("-"));
    if json_to_stdout {
        // The JSON owns stdout; the table goes to stderr for the reader.
        eprint!("{}", report.table());
        std::io::stdout()
            .write_all(report.to_json().as_bytes())
            .map_err(stdout_error)?;
    } else {
        std::io::stdout()
            .write_all(report.table().as_bytes())
            .map_err(stdout_error)?;
        if let Some(path) = &plan.json {
            write(path, &report.to_json())?;
        }
    }
    if let Some(path) = &plan.plot {
        write(path, &report.plot_svg())?;
    }
    let failed: Vec<String> = report
        .rows
        .iter()
        .filter_map(|r| match &r.outcome {
            CaseOutcome::Failed(why) => Some(format!("{}: {why}", r.case.id())),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        return Ok(Outcome::Success);
    }
    Err(Failure::with_hint(
        format!(
            "{} of {} benchmark cases failed:\n  {}",
            failed.len(),
            report.rows.len(),
            failed.join("\n  ")
        ),
        "The other figures were printed (and written). Rerun one case with --filter ID to see it alone.",
    ))
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::io(format!("cannot write {}", path.display()), e))
}
