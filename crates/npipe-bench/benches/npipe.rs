//! `cargo bench -p npipe-bench`: the full run, with the table on standard
//! output. Arguments after `--` are those of `npipe-bench` (for example
//! `cargo bench -p npipe-bench -- --quick --json bench.json`).

use std::process::ExitCode;

fn main() -> ExitCode {
    // The bench binary is also its own peer process.
    if let Some(code) = npipe_bench::run_peer_if_requested() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = if args.iter().any(|a| a == "--quick") {
        npipe_bench::BenchConfig::quick()
    } else {
        npipe_bench::BenchConfig::full()
    };
    let mut it = args.iter();
    let (mut json, mut plot) = (None, None);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--filter" => config.filters.extend(it.next().cloned()),
            "--json" => json = it.next().cloned(),
            "--plot" => plot = it.next().cloned(),
            _ => {} // --bench and friends from cargo
        }
    }
    let report = npipe_bench::run(&config);
    print!("{}", report.table());
    if let Some(path) = json {
        std::fs::write(path, report.to_json()).expect("write the JSON report");
    }
    if let Some(path) = plot {
        std::fs::write(path, report.plot_svg()).expect("write the plot");
    }
    ExitCode::SUCCESS
}
