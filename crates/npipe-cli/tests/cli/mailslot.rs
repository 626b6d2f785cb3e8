//! `mailslot create` and `mailslot send`: delivery from several sender
//! processes, `--json`, `--timeout` and the exit statuses, the errors, and
//! one network datagram over loopback.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{Proc, TestRoot};

#[test]
fn three_senders_times_ten_messages_all_arrive_whole() {
    let root = TestRoot::new("mailslot-senders");
    let reader = root.mailslot("box", &["--count", "30"]);
    // Three sender loops at once, each sending ten messages of its own
    // letter, of 1 to 10 KiB: any torn or mixed message shows.
    let script = r#"for i in 1 2 3 4 5 6 7 8 9 10; do
            body=$(head -c $((i * 1024)) /dev/zero | tr '\0' "$LETTER")
            "$NPIPE" --root "$ROOT" mailslot send box "$LETTER$i:$body" || exit 1
        done"#;
    let senders: Vec<Proc> = ["a", "b", "c"]
        .iter()
        .map(|letter| {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", script])
                .env("NPIPE", env!("CARGO_BIN_EXE_npipe"))
                .env("ROOT", root.path())
                .env("LETTER", letter)
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            Proc::spawn(cmd)
        })
        .collect();
    for sender in senders {
        sender.finish().expect_code(0);
    }
    let out = reader.finish();
    out.expect_code(0);
    let text = out.stdout();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let (head, body) = line.split_once(':').expect("a sender's message");
        let (letter, i) = head.split_at(1);
        let i: usize = i.parse().expect("a message number");
        assert_eq!(body.len(), i * 1024, "{head}: torn");
        assert!(
            body.bytes().all(|b| b == letter.as_bytes()[0]),
            "{head}: mixed"
        );
        assert!(seen.insert(head.to_string()), "{head} twice");
    }
    assert_eq!(seen.len(), 30, "{seen:?}");
}

#[test]
fn json_prints_one_object_per_message() {
    let root = TestRoot::new("mailslot-json");
    let reader = root.mailslot("j", &["--json", "--count", "3"]);
    root.run(&["mailslot", "send", "j", "héllo"], b"")
        .expect_code(0);
    // `-`: stdin, as it is, even when it is not text.
    root.run(&["mailslot", "send", r"\\.\MAILSLOT\J", "-"], b"\xff\x00\n")
        .expect_code(0);
    root.run(&["mailslot", "send", "j", ""], b"").expect_code(0);
    let out = reader.finish();
    out.expect_code(0);
    let rows: Vec<Value> = out
        .stdout()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["size"], 6);
    assert_eq!(rows[0]["text"], "héllo");
    assert_eq!(rows[1]["size"], 3);
    assert_eq!(rows[1]["base64"], "/wAK");
    assert!(rows[1].get("text").is_none(), "{:?}", rows[1]);
    assert_eq!(rows[2]["size"], 0);
    assert_eq!(rows[2]["text"], "");
    for row in &rows {
        let time = row["time"].as_str().expect("a time");
        // 2026-11-22T00:35:19.123Z
        assert_eq!(time.len(), 24, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    }
}

#[test]
fn timeout_exits_1_when_what_was_asked_for_did_not_come() {
    let root = TestRoot::new("mailslot-timeout");
    // Nothing at all: 1, quietly, after the time-out.
    let start = Instant::now();
    let out = root.run(&["mailslot", "create", "none", "--timeout", "200"], b"");
    out.expect_code(1);
    assert_eq!(out.stdout(), "");
    assert_eq!(out.stderr, "");
    assert!(start.elapsed() >= Duration::from_millis(200));
    // One message, then silence: 0 without --count, 1 when two were asked for.
    let enough = root.mailslot("one", &["--timeout", "1500"]);
    let short = root.mailslot("two", &["--timeout", "1500", "--count", "2"]);
    root.run(&["mailslot", "send", "one", "m"], b"")
        .expect_code(0);
    root.run(&["mailslot", "send", "two", "m"], b"")
        .expect_code(0);
    let out = enough.finish();
    out.expect_code(0);
    assert_eq!(out.stdout(), "m\n");
    let out = short.finish();
    out.expect_code(1);
    assert_eq!(out.stdout(), "m\n");
}

#[test]
fn oversize_messages_are_refused_with_the_limit_and_why() {
    let root = TestRoot::new("mailslot-oversize");
    let small = root.mailslot("small", &["--max-size", "8", "--count", "1"]);
    let out = root.run(&["mailslot", "send", "small", "123456789"], b"");
    out.expect_code(2);
    assert!(
        out.stderr
            .contains("9 bytes is larger than the limit of 8 bytes (ERROR_INVALID_PARAMETER)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\n\nThe mailslot's reader takes at most 8 bytes"),
        "{}",
        out.stderr
    );
    // Nothing of it arrived: the next message is the first.
    root.run(&["mailslot", "send", "small", "12345678"], b"")
        .expect_code(0);
    assert_eq!(small.finish().stdout(), "12345678\n");

    let _any = root.mailslot("any", &[]);
    let out = root.run(&["mailslot", "send", "any", "-"], &vec![b'x'; 65_537]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("limit of 65536 bytes"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("64 KiB"), "{}", out.stderr);

    // Across the network: refused before anything is sent.
    let out = root.run(
        &["mailslot", "send", r"\\*\mailslot\any", "-"],
        &[b'x'; 425],
    );
    out.expect_code(2);
    assert!(out.stderr.contains("limit of 424 bytes"), "{}", out.stderr);
    assert!(
        out.stderr.contains("At most 424 bytes cross the network"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_reader_gets_already_exists_with_the_first_ones_pid() {
    let root = TestRoot::new("mailslot-exists");
    let first = root.mailslot("taken", &[]);
    let out = root.run(&["mailslot", "create", r"\\.\MailSlot\TAKEN"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.starts_with(
            r"npipe: cannot create \\.\MailSlot\TAKEN: \\.\MailSlot\TAKEN has a reader already (ERROR_ALREADY_EXISTS)"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("process {} is reading", first.id())),
        "{}",
        out.stderr
    );
}

#[test]
fn sending_to_a_missing_mailslot_names_the_command_to_run() {
    let root = TestRoot::new("mailslot-missing");
    let out = root.run(&["mailslot", "send", "nobody", "hi"], b"");
    out.expect_code(2);
    assert!(
        out.stderr
            .starts_with(r"npipe: cannot open \\.\mailslot\nobody: "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("(ERROR_FILE_NOT_FOUND)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("\n\nIs `npipe mailslot create nobody` running?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&root.path().display().to_string()),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_mailslot_names_show_the_mailslot_syntax() {
    let root = TestRoot::new("mailslot-bad-name");
    for args in [
        &["mailslot", "send", r"\\.\pipe\x", "hi"][..],
        &["mailslot", "create", r"\\*\mailslot\x"],
        &["mailslot", "create", ""],
    ] {
        let out = root.run(args, b"");
        out.expect_code(2);
        assert!(
            out.stderr.contains("ERROR_BAD_PATHNAME"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(r"\\.\mailslot\inbox"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_reader_killed_with_sigkill_frees_the_name() {
    let root = TestRoot::new("mailslot-killed");
    let mut reader = root.mailslot("k", &[]);
    reader.kill();
    let out = root.run(&["mailslot", "send", "k", "hi"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("ERROR_FILE_NOT_FOUND"),
        "{}",
        out.stderr
    );
    let again = root.mailslot("k", &["--count", "1"]);
    root.run(&["mailslot", "send", "k", "hi"], b"")
        .expect_code(0);
    assert_eq!(again.finish().stdout(), "hi\n");
}

/// A UDP port that was free a moment ago, for one test's datagrams.
fn free_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    socket.local_addr().unwrap().port()
}

#[test]
fn a_signed_datagram_over_loopback_arrives_and_an_unsigned_one_does_not() {
    let root = TestRoot::new("mailslot-network");
    let key = root.path().join("key");
    std::fs::write(&key, "s3cret\n").unwrap();
    let key = key.to_str().unwrap();
    let port = free_port().to_string();
    let mut cmd = root.npipe(&[
        "mailslot",
        "create",
        "net",
        "--network",
        "--port",
        &port,
        "--key-file",
        key,
        "--count",
        "1",
        "--timeout",
        "10000",
    ]);
    // Join the groups on loopback: the test needs no route.
    cmd.env("NPIPE_MAILSLOT_INTERFACE", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let reader = root.start_mailslot("net", cmd);
    let send = |message: &str, keyed: bool| {
        let mut args = vec!["mailslot", "send", r"\\127.0.0.1\mailslot\NET", message];
        args.extend(["--port", &port]);
        if keyed {
            args.extend(["--key", "s3cret"]);
        }
        let mut cmd = root.npipe(&args);
        cmd.env("NPIPE_MAILSLOT_INTERFACE", "127.0.0.1");
        crate::util::run(cmd, b"").expect_code(0);
    };
    // Sent, as far as the sender knows, and dropped by the reader.
    send("unsigned", false);
    send("signed", true);
    let out = reader.finish();
    out.expect_code(0);
    assert_eq!(out.stdout(), "signed\n");
}
