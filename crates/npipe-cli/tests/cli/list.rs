//! `list` and `list --json`.

use serde_json::Value;

use crate::util::{eventually, TestRoot};

/// The `kind` array (`pipes` or `mailslots`) of `list --json`.
fn list_json_of(root: &TestRoot, kind: &str) -> Vec<Value> {
    let out = root.run(&["list", "--json"], b"");
    out.expect_code(0);
    let listing: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", out.stdout()));
    match &listing[kind] {
        Value::Array(rows) => rows.clone(),
        other => panic!("no {kind} array: {other:?}\n{}", out.stdout()),
    }
}

fn list_json(root: &TestRoot) -> Vec<Value> {
    list_json_of(root, "pipes")
}

#[test]
fn list_json_shows_a_live_pipe_with_its_fields() {
    let root = TestRoot::new("list-live");
    let server = root.serve(
        "jobs",
        &["--message", "--instances", "2", "--max-instances", "3"],
    );
    eventually("both instances listen", || {
        root.entry("jobs")
            .is_some_and(|p| p.listening_instances == 2)
    });
    let rows = list_json(&root);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["name"], r"\\.\pipe\jobs");
    assert_eq!(row["type"], "message");
    assert_eq!(row["access"], "duplex");
    assert_eq!(row["current_instances"], 2);
    assert_eq!(row["listening_instances"], 2);
    assert_eq!(row["max_instances"], 3);
    assert_eq!(row["owner_uid"], root.uid());
    assert_eq!(row["server_pids"], serde_json::json!([server.id()]));
}

#[test]
fn list_hides_a_pipe_whose_server_was_killed() {
    let root = TestRoot::new("list-killed");
    let mut doomed = root.serve("doomed", &[]);
    let _alive = root.serve("alive", &[]);
    assert_eq!(list_json(&root).len(), 2);
    doomed.kill(); // SIGKILL: no chance to clean up
    let rows = list_json(&root);
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, [r"\\.\pipe\alive"]);
    let table = root.run(&["list"], b"");
    table.expect_code(0);
    assert!(!table.stdout().contains("doomed"), "{}", table.stdout());
}

#[test]
fn list_prints_a_table() {
    let root = TestRoot::new("list-table");
    let _server = root.serve("t", &[]);
    let out = root.run(&["list"], b"");
    out.expect_code(0);
    let text = out.stdout();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    assert!(lines[1].starts_with(r"\\.\pipe\t "), "{text}");
    assert!(lines[1].contains("1/unlimited"), "{text}");
}

#[test]
fn list_json_shows_a_live_mailslot_and_not_one_whose_reader_was_killed() {
    let root = TestRoot::new("list-mailslots");
    let reader = root.mailslot("inbox", &["--max-size", "424"]);
    let mut doomed = root.mailslot("doomed", &[]);
    let _pipe = root.serve("p", &[]);
    assert_eq!(list_json_of(&root, "mailslots").len(), 2);
    doomed.kill(); // SIGKILL: its files stay, its flock goes
    let rows = list_json_of(&root, "mailslots");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["name"], r"\\.\mailslot\inbox");
    assert_eq!(row["max_message_size"], 424);
    assert_eq!(row["owner_uid"], root.uid());
    assert_eq!(row["reader_pid"], reader.id());
    // The pipes are still listed beside them.
    assert_eq!(list_json(&root).len(), 1);
    let table = root.run(&["list"], b"");
    table.expect_code(0);
    let text = table.stdout();
    assert!(!text.contains("doomed"), "{text}");
    let (pipes, mailslots) = text.split_once("\n\n").expect("two tables");
    assert!(pipes.contains(r"\\.\pipe\p "), "{text}");
    assert!(mailslots.starts_with("MAILSLOT"), "{text}");
    assert!(
        mailslots.contains(" 424 ") && mailslots.trim_end().ends_with(&reader.id().to_string()),
        "{text}"
    );
}

#[test]
fn list_of_an_empty_namespace_is_empty() {
    let root = TestRoot::new("list-empty");
    assert!(list_json(&root).is_empty());
    assert!(list_json_of(&root, "mailslots").is_empty());
    let out = root.run(&["list"], b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), "");
}
