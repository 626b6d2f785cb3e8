//! `bench`: the benchmark harness through the CLI, on a small subset in
//! quick mode. Asserts that the cases ran and the JSON says so, nothing
//! about speed.

use serde_json::Value;

use crate::util::TestRoot;

/// The subset: every round trip of 64 B on one core (baselines, peers and
/// every npipe implementation, the async server included), and npipe's
/// 64-byte messages.
const FILTERS: [&str; 4] = ["--filter", "rt/64/same/", "--filter", "msg/64/same/npipe"];

#[test]
fn bench_quick_writes_every_selected_case_to_the_json() {
    let root = TestRoot::new("bench");
    let json_path = root.path().join("bench.json");
    let svg_path = root.path().join("bench.svg");
    let mut args = vec!["bench", "--quick", "--duration", "5"];
    args.extend(FILTERS);
    let json_arg = json_path.to_str().unwrap();
    let svg_arg = svg_path.to_str().unwrap();
    args.extend(["--json", json_arg, "--plot", svg_arg]);
    let out = root.run(&args, b"");
    out.expect_code(0);
    let table = out.stdout();
    assert!(table.contains("## round trip, 64 B"), "{table}");
    assert!(table.contains("npipe-tokio"), "{table}");

    let listed = root.run(&[&["bench", "--list"][..], &FILTERS[..]].concat(), b"");
    listed.expect_code(0);
    let ids: Vec<String> = listed.stdout().lines().map(str::to_string).collect();
    assert!(ids.len() >= 10, "{ids:?}");

    let json: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap())
        .unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(json["format"], "npipe-bench/1");
    assert_eq!(json["mode"], "quick");
    let rows = json["rows"].as_array().expect("rows");
    let got: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(got, ids, "the JSON has exactly the listed cases, in order");
    for row in rows {
        assert_eq!(row["status"], "ok", "{row}");
        let metrics = row["metrics"].as_object().expect("metrics");
        assert!(
            !metrics.is_empty()
                && metrics
                    .values()
                    .all(|v| v.as_f64().is_some_and(|x| x > 0.0)),
            "{row}"
        );
    }
    let comparisons = json["comparisons"].as_array().expect("comparisons");
    for id in [
        "rt/64/same/npipe-msg",
        "rt/64/same/npipe-tokio",
        "msg/64/same/npipe-tokio", // against npipe-msg
    ] {
        assert!(
            comparisons
                .iter()
                .any(|c| c["id"] == id && c["ratio"].as_f64().is_some_and(|r| r > 0.0)),
            "no ratio for {id}: {comparisons:?}"
        );
    }
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("npipe-msg"));
}

#[test]
fn bench_json_dash_puts_the_json_on_stdout_and_the_table_on_stderr() {
    let root = TestRoot::new("bench-stdout");
    let out = root.run(
        &[
            "bench",
            "--quick",
            "--duration",
            "5",
            "--filter",
            "rt/64/same/npipe-msg",
            "--json",
            "-",
        ],
        b"",
    );
    out.expect_code(0);
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", out.stdout()));
    assert_eq!(json["rows"][0]["id"], "rt/64/same/npipe-msg");
    assert!(out.stderr.contains("round trip, 64 B"), "{}", out.stderr);
}

#[test]
fn bench_with_a_filter_that_matches_nothing_is_an_error() {
    let root = TestRoot::new("bench-nothing");
    let out = root.run(&["bench", "--filter", "no-such-case"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("no benchmark case matches"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--list"), "{}", out.stderr);
}
