//! One test per flag: parse a command line, make the plan, and check
//! the builder it produced. The builders keep their fields private, so
//! options are checked through their `Debug` text or by creating a pipe
//! in a private namespace and reading its `info()`.

use super::*;
use clap::Parser;

fn plan_of(args: &[&str]) -> Plan {
    let cli = Cli::try_parse_from(std::iter::once("npipe").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} did not parse: {e}"));
    plan(cli).unwrap_or_else(|f| panic!("{args:?} gave no plan: {}", f.message()))
}

fn plan_err(args: &[&str]) -> String {
    let cli = Cli::try_parse_from(std::iter::once("npipe").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?} did not parse: {e}"));
    match plan(cli) {
        Ok(plan) => panic!("{args:?} should fail, gave {plan:?}"),
        Err(f) => f.message().to_string(),
    }
}

fn parse_err(args: &[&str]) -> clap::Error {
    Cli::try_parse_from(std::iter::once("npipe").chain(args.iter().copied()))
        .expect_err("should not parse")
}

fn serve_plan(args: &[&str]) -> ServePlan {
    match plan_of(args).command {
        CommandPlan::Serve(p) => p,
        other => panic!("not serve: {other:?}"),
    }
}

fn connect_plan(args: &[&str]) -> ConnectPlan {
    match plan_of(args).command {
        CommandPlan::Connect(p) => p,
        other => panic!("not connect: {other:?}"),
    }
}

fn call_plan(args: &[&str]) -> CallPlan {
    match plan_of(args).command {
        CommandPlan::Call(p) => p,
        other => panic!("not call: {other:?}"),
    }
}

fn debug_has(value: &impl std::fmt::Debug, needle: &str) {
    let text = format!("{value:?}");
    assert!(text.contains(needle), "{needle:?} not in {text}");
}

/// A private namespace for tests that create a pipe from a plan.
struct Root(PathBuf);

impl Root {
    fn new(test: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("npipe-cli-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Root(dir)
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn short_and_full_names() {
    assert_eq!(
        serve_plan(&["serve", "build"]).name.as_str(),
        r"\\.\pipe\build"
    );
    assert_eq!(
        serve_plan(&["serve", r"\\.\pipe\a\b"]).name.as_str(),
        r"\\.\pipe\a\b"
    );
    let msg = plan_err(&["connect", "//./pipe/x"]);
    assert!(msg.contains("ERROR_BAD_PATHNAME"), "{msg}");
    let msg = plan_err(&["wait", ""]);
    assert!(msg.contains("ERROR_BAD_PATHNAME"), "{msg}");
}

#[test]
fn flag_root() {
    let p = plan_of(&["--root", "/tmp/x", "list"]);
    assert_eq!(p.namespace, PathBuf::from("/tmp/x"));
    // Global: allowed after the subcommand too, and reaches the builder.
    let s = serve_plan(&["serve", "a", "--root", "/tmp/y"]);
    debug_has(&s.options, "/tmp/y");
    let c = connect_plan(&["connect", "a", "--root", "/tmp/z"]);
    debug_has(&c.options, "/tmp/z");
}

#[test]
fn flag_verbose() {
    assert!(plan_of(&["-v", "list"]).verbose);
    assert!(plan_of(&["list", "--verbose"]).verbose);
    assert!(!plan_of(&["list"]).verbose);
}

#[test]
fn serve_defaults() {
    let p = serve_plan(&["serve", "a"]);
    assert_eq!(p.instances, 1);
    assert_eq!(p.service, Service::Stdout);
    assert_eq!(p.count, None);
    assert_eq!(p.framing, Framing::Bytes);
    debug_has(&p.options, "pipe_mode: Byte");
    debug_has(&p.options, "max_instances: 255");
}

#[test]
fn serve_flag_message_makes_a_message_pipe_read_in_message_mode() {
    let root = Root::new("serve-message");
    let p = serve_plan(&["--root", root.arg(), "serve", "m", "--message"]);
    assert_eq!(p.framing, Framing::Lines);
    let server = p.options.create(p.name.as_str()).unwrap();
    let info = server.info().unwrap();
    assert_eq!(info.pipe_mode, PipeMode::Message);
    assert_eq!(info.read_mode, npipe::ReadMode::Message);
}

#[test]
fn serve_flag_instances() {
    assert_eq!(serve_plan(&["serve", "a", "--instances", "4"]).instances, 4);
    assert!(plan_err(&["serve", "a", "--instances", "0"]).contains("--instances"));
    parse_err(&["serve", "a", "--instances", "x"]);
}

#[test]
fn serve_flag_max_instances() {
    let root = Root::new("serve-max");
    let p = serve_plan(&["--root", root.arg(), "serve", "m", "--max-instances", "3"]);
    assert_eq!(
        p.options
            .create(p.name.as_str())
            .unwrap()
            .info()
            .unwrap()
            .max_instances,
        3
    );
}

#[test]
fn serve_flag_default_timeout() {
    let p = serve_plan(&["serve", "a", "--default-timeout", "1500"]);
    debug_has(&p.options, "default_timeout: 1.5s");
}

#[test]
fn serve_flag_first_instance() {
    debug_has(
        &serve_plan(&["serve", "a", "--first-instance"]).options,
        "first_pipe_instance: true",
    );
    debug_has(
        &serve_plan(&["serve", "a"]).options,
        "first_pipe_instance: false",
    );
}

#[test]
fn serve_flag_echo() {
    assert_eq!(serve_plan(&["serve", "a", "--echo"]).service, Service::Echo);
    parse_err(&["serve", "a", "--echo", "--exec", "cat"]);
}

#[test]
fn serve_flag_exec_takes_the_rest_of_the_line() {
    let p = serve_plan(&["serve", "a", "--exec", "tr", "-d", "x"]);
    assert_eq!(
        p.service,
        Service::Exec {
            program: "tr".into(),
            args: vec!["-d".into(), "x".into()]
        }
    );
    parse_err(&["serve", "a", "--exec"]);
}

#[test]
fn serve_flag_count() {
    assert_eq!(serve_plan(&["serve", "a", "--count", "2"]).count, Some(2));
    assert!(plan_err(&["serve", "a", "--count", "0"]).contains("--count"));
}

#[test]
fn serve_flags_remote() {
    debug_has(
        &serve_plan(&["serve", "a"]).options,
        "reject_remote_clients: true",
    );
    let p = serve_plan(&[
        "serve",
        "a",
        "--accept-remote",
        "--allow-remote-principal",
        "alice",
        "--allow-remote-principal",
        "bob",
        "--trust-relay-uid",
        "998",
    ]);
    debug_has(&p.options, "reject_remote_clients: false");
    debug_has(&p.options, r#"remote_principals: ["alice", "bob"]"#);
    debug_has(&p.options, "relay_uids: [998]");
    // Principals and relays mean nothing while remote clients are refused.
    parse_err(&["serve", "a", "--allow-remote-principal", "alice"]);
    parse_err(&["serve", "a", "--trust-relay-uid", "998"]);
}

#[test]
fn cert_flags() {
    match plan_of(&[
        "cert", "--out", "d", "--host", "h1", "--host", "h2", "--client", "alice",
    ])
    .command
    {
        CommandPlan::Cert(p) => {
            assert_eq!(p.out, PathBuf::from("d"));
            assert_eq!(p.hosts, ["h1", "h2"]);
            assert_eq!(p.client, "alice");
        }
        other => panic!("not cert: {other:?}"),
    }
    parse_err(&["cert", "--out", "d", "--client", "alice"]);
}

#[test]
fn serve_flags_allow() {
    let p = serve_plan(&[
        "serve",
        "a",
        "--allow-uid",
        "1000",
        "--allow-uid",
        "1001",
        "--allow-gid",
        "50",
    ]);
    debug_has(&p.options, "uids: [1000, 1001]");
    debug_has(&p.options, "gids: [50]");
    debug_has(&p.options, "everyone: false");
    debug_has(
        &serve_plan(&["serve", "a", "--everyone"]).options,
        "everyone: true",
    );
    parse_err(&["serve", "a", "--allow-uid", "bob"]);
}

#[test]
fn connect_defaults() {
    let p = connect_plan(&["connect", "a"]);
    assert_eq!(p.wait, None);
    assert_eq!(p.linger, None);
    assert_eq!(p.framing, Framing::Bytes);
    debug_has(&p.options, "read_mode: Byte");
}

#[test]
fn connect_flag_message() {
    let p = connect_plan(&["connect", "a", "--message"]);
    assert_eq!(p.framing, Framing::Lines);
    debug_has(&p.options, "read_mode: Message");
}

#[test]
fn connect_flag_wait() {
    let p = connect_plan(&["connect", "a", "--wait", "250"]);
    assert_eq!(
        p.wait,
        Some(WaitTimeout::Duration(Duration::from_millis(250)))
    );
    let p = connect_plan(&["connect", "a", "--wait", "forever"]);
    assert_eq!(p.wait, Some(WaitTimeout::Forever));
    let p = connect_plan(&["connect", "a", "--wait", "default"]);
    assert_eq!(p.wait, Some(WaitTimeout::Default));
    let e = parse_err(&["connect", "a", "--wait", "soon"]);
    assert!(e.to_string().contains("milliseconds"), "{e}");
}

#[test]
fn connect_flag_linger() {
    let p = connect_plan(&["connect", "a", "--linger", "0"]);
    assert_eq!(p.linger, Some(Duration::ZERO));
    assert_eq!(
        connect_plan(&["connect", "a", "--linger", "forever"]).linger,
        None
    );
    assert!(plan_err(&["connect", "a", "--linger", "default"]).contains("--linger"));
}

#[test]
fn connect_flag_server_uid() {
    debug_has(
        &connect_plan(&["connect", "a", "--server-uid", "7"]).options,
        "require_server_uid: Some(7)",
    );
}

#[test]
fn call_flags() {
    let p = call_plan(&["call", "a", "hello"]);
    assert_eq!(p.data, CallData::Arg(b"hello".to_vec()));
    assert_eq!(p.timeout, WaitTimeout::Default);
    assert_eq!(p.reply_size, 1 << 20);
    assert_eq!(call_plan(&["call", "a", "-"]).data, CallData::Stdin);
    assert_eq!(
        call_plan(&["call", "a", "-x"]).data,
        CallData::Arg(b"-x".to_vec())
    );
    let p = call_plan(&["call", "a", "x", "--timeout", "20", "--reply-size", "8"]);
    assert_eq!(p.timeout, WaitTimeout::Duration(Duration::from_millis(20)));
    assert_eq!(p.reply_size, 8);
    debug_has(
        &call_plan(&["call", "a", "x", "--server-uid", "0"]).options,
        "require_server_uid: Some(0)",
    );
}

#[test]
fn wait_flag_timeout() {
    let CommandPlan::Wait(p) = plan_of(&["wait", "a"]).command else {
        panic!("not wait")
    };
    assert_eq!(p.timeout, WaitTimeout::Default);
    let CommandPlan::Wait(p) = plan_of(&["wait", "a", "--timeout", "forever"]).command else {
        panic!("not wait")
    };
    assert_eq!(p.timeout, WaitTimeout::Forever);
}

#[test]
fn list_flag_json() {
    let CommandPlan::List(p) = plan_of(&["list", "--json"]).command else {
        panic!("not list")
    };
    assert!(p.json);
}

#[test]
fn completions_shell() {
    assert!(matches!(
        plan_of(&["completions", "zsh"]).command,
        CommandPlan::Completions(clap_complete::Shell::Zsh)
    ));
    parse_err(&["completions", "cmd.exe"]);
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

fn mailslot_create_plan(args: &[&str]) -> MailslotCreatePlan {
    let mut all = vec!["mailslot", "create"];
    all.extend_from_slice(args);
    match plan_of(&all).command {
        CommandPlan::MailslotCreate(p) => p,
        other => panic!("not mailslot create: {other:?}"),
    }
}

fn mailslot_send_plan(args: &[&str]) -> MailslotSendPlan {
    let mut all = vec!["mailslot", "send"];
    all.extend_from_slice(args);
    match plan_of(&all).command {
        CommandPlan::MailslotSend(p) => p,
        other => panic!("not mailslot send: {other:?}"),
    }
}

#[test]
fn mailslot_names_short_and_full() {
    assert_eq!(
        mailslot_create_plan(&["inbox"]).name.as_str(),
        r"\\.\mailslot\inbox"
    );
    for name in [
        r"\\.\MAILSLOT\a\b",
        r"\\*\mailslot\x",
        r"\\host\mailslot\x",
        r"\\10.0.0.1\mailslot\x",
    ] {
        assert_eq!(mailslot_send_plan(&[name, "m"]).name.as_str(), name);
    }
    for name in [r"\\.\pipe\x", "//./mailslot/x", ""] {
        let msg = plan_err(&["mailslot", "send", name, "m"]);
        assert!(msg.contains("ERROR_BAD_PATHNAME"), "{name}: {msg}");
    }
}

#[test]
fn mailslot_create_defaults() {
    let p = mailslot_create_plan(&["x"]);
    assert_eq!(p.count, None);
    assert_eq!(p.format, MessageFormat::Line);
    assert!(!p.network);
    debug_has(&p.options, "max_message_size: 0");
    debug_has(&p.options, "read_timeout: Forever");
    debug_has(&p.options, "accept_network: false");
    debug_has(&p.options, "network_key: None");
    debug_has(&p.options, "everyone: false");
}

#[test]
fn mailslot_create_flag_max_size() {
    debug_has(
        &mailslot_create_plan(&["x", "--max-size", "424"]).options,
        "max_message_size: 424",
    );
    parse_err(&["mailslot", "create", "x", "--max-size", "-1"]);
}

#[test]
fn mailslot_create_flag_timeout() {
    let timeout = |t: &str| format!("{:?}", mailslot_create_plan(&["x", "--timeout", t]).options);
    assert!(timeout("250").contains("read_timeout: Millis(250)"));
    assert!(timeout("0").contains("read_timeout: Immediate"));
    assert!(timeout("forever").contains("read_timeout: Forever"));
    assert!(timeout("4294967294").contains("read_timeout: Millis(4294967294)"));
    for bad in ["default", "4294967295"] {
        let msg = plan_err(&["mailslot", "create", "x", "--timeout", bad]);
        assert!(msg.contains("--timeout"), "{bad}: {msg}");
    }
    parse_err(&["mailslot", "create", "x", "--timeout", "soon"]);
}

#[test]
fn mailslot_create_flag_count() {
    assert_eq!(mailslot_create_plan(&["x", "--count", "3"]).count, Some(3));
    assert!(plan_err(&["mailslot", "create", "x", "--count", "0"]).contains("--count"));
}

#[test]
fn mailslot_create_flag_json() {
    assert_eq!(
        mailslot_create_plan(&["x", "--json"]).format,
        MessageFormat::Json
    );
}

#[test]
fn mailslot_create_network_flags_need_network() {
    let p = mailslot_create_plan(&[
        "x",
        "--network",
        "--key",
        "k",
        "--port",
        "5000",
        "--domain",
        "research",
    ]);
    assert!(p.network);
    debug_has(&p.options, "accept_network: true");
    debug_has(&p.options, "network_key: Some(SecretKey(<redacted>))");
    debug_has(&p.options, "port: 5000");
    debug_has(&p.options, "domain: \"RESEARCH\"");
    for flag in [
        &["--key", "k"][..],
        &["--key-file", "f"],
        &["--port", "1"],
        &["--domain", "d"],
    ] {
        let mut args = vec!["mailslot", "create", "x"];
        args.extend_from_slice(flag);
        let e = parse_err(&args);
        assert!(e.to_string().contains("--network"), "{flag:?}: {e}");
    }
    parse_err(&[
        "mailslot",
        "create",
        "x",
        "--network",
        "--key",
        "k",
        "--key-file",
        "f",
    ]);
}

#[test]
fn mailslot_create_flags_allow() {
    let p = mailslot_create_plan(&["x", "--allow-uid", "7", "--allow-gid", "8", "--everyone"]);
    debug_has(&p.options, "uids: [7]");
    debug_has(&p.options, "gids: [8]");
    debug_has(&p.options, "everyone: true");
}

#[test]
fn mailslot_send_message_and_flags() {
    let p = mailslot_send_plan(&["x", "hello"]);
    assert_eq!(p.data, CallData::Arg(b"hello".to_vec()));
    assert!(!p.keyed);
    debug_has(&p.options, "network_key: None");
    assert_eq!(mailslot_send_plan(&["x", "-"]).data, CallData::Stdin);
    assert_eq!(
        mailslot_send_plan(&["x", "-n"]).data,
        CallData::Arg(b"-n".to_vec())
    );
    let p = mailslot_send_plan(&[r"\\*\mailslot\x", "m", "--key", "k", "--port", "5000"]);
    assert!(p.keyed);
    debug_has(&p.options, "network_key: Some(SecretKey(<redacted>))");
    debug_has(&p.options, "port: 5000");
}

#[test]
fn key_file_loses_one_final_newline_only() {
    let root = Root::new("key-file");
    for (text, key) in [
        (&b"secret\n"[..], &b"secret"[..]),
        (b"secret\r\n", b"secret"),
        (b"secret", b"secret"),
        (b"two\n\n", b"two\n"),
        (b"\xff\x00", b"\xff\x00"),
    ] {
        let file = root.0.join("key");
        std::fs::write(&file, text).unwrap();
        assert_eq!(network_key(None, Some(file)).unwrap(), Some(key.to_vec()));
    }
    assert_eq!(
        network_key(Some("k".into()), None).unwrap(),
        Some(b"k".to_vec())
    );
    assert_eq!(network_key(None, None).unwrap(), None);
    let missing = network_key(None, Some(root.0.join("missing"))).unwrap_err();
    assert!(
        missing.message().contains("--key-file"),
        "{}",
        missing.message()
    );
}
