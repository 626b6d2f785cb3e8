//! The quick mode on a small subset, in a debug build: every selected case
//! runs and lands in the JSON report with its figures.
//! Asserts nothing about speed.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_npipe-bench");

/// One size of every workload, both pinnings, every implementation.
const FILTERS: [&str; 6] = [
    "bulk/",
    "msg/64/",
    "rt/64/",
    "connect/",
    "inst255/",
    "clients1000/",
];

fn ids(extra: &[&str]) -> Vec<String> {
    let mut cmd = Command::new(BIN);
    cmd.arg("--list").args(extra);
    let out = cmd.output().expect("run npipe-bench --list");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_case_list_covers_every_workload_and_implementation() {
    let all = ids(&[]);
    for workload in ["bulk", "msg", "rt", "connect", "inst255", "clients1000"] {
        assert!(
            all.iter().any(|id| id.starts_with(&format!("{workload}/"))),
            "{workload}"
        );
    }
    for implementation in [
        "pipe",
        "pipe-1m",
        "unix-stream",
        "unix-seqpacket",
        "framed",
        "framed-naive",
        "framed-peek",
        "interprocess",
        "ipc-channel",
        "npipe-anon",
        "npipe-byte",
        "npipe-msg",
        "npipe-tokio",
    ] {
        assert!(
            all.iter()
                .any(|id| id.ends_with(&format!("/{implementation}"))),
            "{implementation}"
        );
    }
    for pinning in ["/same/", "/cross/"] {
        assert!(all.iter().any(|id| id.contains(pinning)));
    }
}

#[test]
fn quick_mode_reports_every_selected_case_in_json() {
    let dir = std::env::temp_dir().join(format!("npipe-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json_path = dir.join("report.json");
    let svg_path = dir.join("plot.svg");
    let mut filters = Vec::new();
    for f in FILTERS {
        filters.extend(["--filter", f]);
    }
    let out = Command::new(BIN)
        .args(["--quick", "--duration-ms", "5", "--no-progress", "--json"])
        .arg(&json_path)
        .arg("--plot")
        .arg(&svg_path)
        .args(&filters)
        .output()
        .expect("run npipe-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "status {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("round trip, 64 B"), "{stdout}");

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let expected = ids(&filters);
    assert!(expected.len() > 50, "{expected:?}");
    for id in &expected {
        let row = rows
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap_or_else(|| panic!("no row {id} in the JSON"));
        match row["status"].as_str().unwrap() {
            "ok" => {
                let metrics = row["metrics"].as_object().unwrap();
                assert!(!metrics.is_empty(), "{id}");
                assert!(metrics.values().all(|v| v.is_number()), "{id}: {metrics:?}");
            }
            other => panic!("{id}: {other}: {}", row["reason"]),
        }
    }
    assert_eq!(rows.len(), expected.len());
    let comparisons = json["comparisons"].as_array().unwrap();
    assert!(comparisons
        .iter()
        .any(|c| c["id"] == "rt/64/cross/npipe-msg"));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("npipe-msg"));
    std::fs::remove_dir_all(&dir).unwrap();
}
