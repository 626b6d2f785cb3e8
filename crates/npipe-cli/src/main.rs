//! `npipe`: the command-line tool of npipe. Serve, connect to, call, wait
//! for and list Win32-style named pipes on Linux; create, send to and list
//! mailslots; benchmark npipe (`npipe bench`).
//!
//! The binary is thin: `flags::low` mirrors the command line, `flags::high`
//! turns it into the library's builders, `cmd/` runs one subcommand each,
//! and `main` prints the one error, if any, and picks the exit status.

mod cmd;
mod copy;
mod failure;
mod flags;
mod format;
mod progress;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cmd::Outcome;
use crate::flags::low::Cli;

fn main() -> ExitCode {
    // `npipe bench` runs each case's second process as this program again,
    // with a hidden first argument: serve it before parsing anything.
    if let Some(code) = npipe_bench::run_peer_if_requested() {
        return code;
    }
    let cli = Cli::parse();
    let result = flags::high::plan(cli).and_then(|plan| {
        init_logging(plan.verbose);
        cmd::run(plan)
    });
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(failure) if failure.is_quiet() => ExitCode::SUCCESS,
        Err(failure) => {
            progress::multi().suspend(|| {
                eprintln!("npipe: {}", failure.message());
                if let Some(hint) = failure.hint() {
                    eprintln!();
                    eprintln!("{hint}");
                }
            });
            ExitCode::from(2)
        }
    }
}

/// Warnings always go to stderr; `--verbose` adds what npipe does.
fn init_logging(verbose: bool) {
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_max_level(level)
        .init();
}
