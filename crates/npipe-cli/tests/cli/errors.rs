//! What the common mistakes print, and their exit statuses.

use crate::util::TestRoot;

#[test]
fn missing_pipe_names_the_namespace_and_the_command_to_run() {
    let root = TestRoot::new("missing");
    let out = root.run(&["connect", "nope"], b"");
    out.expect_code(2);
    let err = &out.stderr;
    assert!(
        err.starts_with(r"npipe: cannot connect to \\.\pipe\nope: "),
        "{err}"
    );
    assert!(err.contains("(ERROR_FILE_NOT_FOUND)"), "{err}");
    assert!(err.contains("\n\nIs `npipe serve nope` running?"), "{err}");
    assert!(err.contains(&root.path().display().to_string()), "{err}");
    assert_eq!(err.matches("npipe: ").count(), 1, "printed once: {err}");
}

#[test]
fn busy_pipe_suggests_wait() {
    let root = TestRoot::new("busy");
    let _server = root.serve("busy", &[]);
    let _holder = root.hold("busy");
    let out = root.run(&["connect", "busy"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("ERROR_PIPE_BUSY"), "{}", out.stderr);
    assert!(
        out.stderr.contains("\n\nUse --wait MILLISECONDS"),
        "{}",
        out.stderr
    );
    let out = root.run(&["connect", "busy", "--wait", "50"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("ERROR_SEM_TIMEOUT"), "{}", out.stderr);
    assert!(out.stderr.contains("raise --wait"), "{}", out.stderr);
}

#[test]
fn instance_limit_names_max_instances() {
    let root = TestRoot::new("limit");
    let _server = root.serve("lim", &["--max-instances", "1"]);
    let out = root.run(&["serve", "lim", "--max-instances", "1"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("ERROR_PIPE_BUSY"), "{}", out.stderr);
    assert!(out.stderr.contains("--max-instances"), "{}", out.stderr);
}

#[test]
fn bad_name_shows_the_syntax() {
    let root = TestRoot::new("bad-name");
    for args in [
        &["connect", "//./pipe/x"][..],
        &["serve", r"\\.\mailslot\x"],
        &["wait", ""],
    ] {
        let out = root.run(args, b"");
        out.expect_code(2);
        assert!(
            out.stderr.contains("ERROR_BAD_PATHNAME"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(r"'\\.\pipe\build'"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn message_flag_on_a_byte_pipe_says_which_side_to_change() {
    let root = TestRoot::new("mode-mismatch");
    let _server = root.serve("b", &[]);
    let out = root.run(&["connect", "b", "--message"], b"");
    out.expect_code(2);
    assert!(
        out.stderr.contains("ERROR_INVALID_PARAMETER"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("start the server with --message"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let root = TestRoot::new("usage");
    root.run(&["connect"], b"").expect_code(2);
    root.run(&["serve", "x", "--instances", "many"], b"")
        .expect_code(2);
    let out = root.run(&["connect", "x", "--linger", "default"], b"");
    out.expect_code(2);
    assert!(out.stderr.contains("--linger"), "{}", out.stderr);
}

#[test]
fn closed_stdout_ends_quietly_with_0() {
    let root = TestRoot::new("closed-stdout");
    let _server = root.serve("yes", &["--exec", "yes"]);
    let npipe = env!("CARGO_BIN_EXE_npipe");
    let script = format!(
        "'{npipe}' --root '{}' connect yes < /dev/null | head -c 10 > /dev/null; \
         echo \"${{PIPESTATUS[0]}}\"",
        root.path().display()
    );
    let mut cmd = std::process::Command::new("bash");
    cmd.args(["-c", &script]);
    let out = crate::util::run(cmd, b"");
    out.expect_code(0);
    assert_eq!(out.stdout(), "0\n", "stderr: {}", out.stderr);
    assert_eq!(out.stderr, "");
}

#[test]
fn help_documents_exit_codes_and_an_example_for_every_command() {
    let root = TestRoot::new("help");
    let out = root.run(&["--help"], b"");
    out.expect_code(0);
    assert!(out.stdout().contains("EXIT STATUS"), "{}", out.stdout());
    for command in [
        "serve",
        "connect",
        "call",
        "wait",
        "list",
        "mailslot",
        "mailslot create",
        "mailslot send",
        "completions",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let out = root.run(&args, b"");
        out.expect_code(0);
        let text = out.stdout();
        let examples = text
            .split_once("EXAMPLES:\n")
            .unwrap_or_else(|| panic!("{command}: no examples in {text}"))
            .1;
        assert!(
            examples.contains(&format!("npipe {command} ")),
            "{command}: {text}"
        );
    }
}

#[test]
fn completions_are_generated() {
    let root = TestRoot::new("completions");
    let out = root.run(&["completions", "bash"], b"");
    out.expect_code(0);
    assert!(out.stdout().contains("_npipe"), "{}", out.stdout());
}
