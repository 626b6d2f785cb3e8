//! `npipe-bench`: runs the benchmarks and prints the table.
//!
//! ```text
//! npipe-bench [--quick] [--json FILE] [--plot FILE.svg] [--filter SUBSTR]...
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use npipe_bench::BenchConfig;

const HELP: &str = "\
npipe-bench: npipe side by side with the kernel and peer crates

Usage: npipe-bench [OPTIONS]

Every case runs two processes, pinned to one core and to two, and prints
each npipe figure with its ratio to the baselines and peers of the same run.

Options:
  --quick            run every case once for 20 ms (CI; figures are rough)
  --json FILE        write every figure and ratio to FILE as JSON
  --plot FILE.svg    write the latency and throughput plot to FILE.svg
  --filter SUBSTR    run only cases whose id contains SUBSTR (repeatable);
                     ids read workload/size/pinning/impl, e.g. rt/64/cross/npipe-msg
  --duration-ms MS   how long each case runs (default 500, quick 20)
  --repetitions N    runs of each case, figures are medians (default 3, quick 1)
  --list             print the case ids and exit
  -q, --no-progress  do not print each case as it finishes
  -h, --help         print this help

Exit status: 0 when every selected case ran (or is pending), 1 when some
failed, 2 for a usage error.
";

struct Args {
    config: BenchConfig,
    json: Option<PathBuf>,
    plot: Option<PathBuf>,
    list: bool,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut config = if quick {
        BenchConfig::quick()
    } else {
        BenchConfig::full()
    };
    let (mut json, mut plot, mut list) = (None, None, false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => {}
            // `cargo bench` passes --bench to harness = false targets.
            "--bench" => {}
            "--json" => json = Some(PathBuf::from(value("--json")?)),
            "--plot" => plot = Some(PathBuf::from(value("--plot")?)),
            "--filter" => config.filters.push(value("--filter")?),
            "--duration-ms" => {
                let ms: u64 = value("--duration-ms")?
                    .parse()
                    .map_err(|_| "--duration-ms needs a number".to_string())?;
                config.duration = std::time::Duration::from_millis(ms);
            }
            "--repetitions" => {
                config.repetitions = value("--repetitions")?
                    .parse()
                    .map_err(|_| "--repetitions needs a number".to_string())?;
            }
            "--list" => list = true,
            "-q" | "--no-progress" => config.progress = false,
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        config,
        json,
        plot,
        list,
    })
}

fn main() -> ExitCode {
    if let Some(code) = npipe_bench::run_peer_if_requested() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(&args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("npipe-bench: {e}\n\nRun npipe-bench --help for the options.");
            return ExitCode::from(2);
        }
    };
    if args.list {
        for case in args.config.cases() {
            println!("{}", case.id());
        }
        return ExitCode::SUCCESS;
    }
    let report = npipe_bench::run(&args.config);
    print!("{}", report.table());
    for (path, text) in [
        (&args.json, report.to_json()),
        (&args.plot, report.plot_svg()),
    ] {
        if let Some(path) = path {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("npipe-bench: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let failed = report
        .rows
        .iter()
        .filter(|r| matches!(r.outcome, npipe_bench::Outcome::Failed(_)))
        .count();
    if failed > 0 {
        eprintln!("npipe-bench: {failed} case(s) failed");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
