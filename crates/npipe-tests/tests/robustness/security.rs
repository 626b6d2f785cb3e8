//! Who may connect, across users: the library's own check, the kernel's
//! file permissions underneath it, the allow lists that widen both, and a
//! client's check of the server's user against a squatter.
//!
//! The tests run as root; peers drop to other users with `--as`. The checks
//! of the default root run in a private mount namespace, so the machine's
//! own `/tmp/.npipe` is never touched.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use npipe::win32::ERROR_ACCESS_DENIED;
use npipe::NamedPipeServer;

use crate::support::{assert_code, peer_with_private_tmp, start, Peer, Pending, TestRoot, NOBODY};

/// A user and a group no test process runs as.
const STRANGER: u32 = 12345;
const GROUP: u32 = 4242;

#[test]
fn another_user_is_refused_on_a_default_pipe() {
    let root = TestRoot::new("sec-default");
    let name = r"\\.\pipe\sec-default";
    let server = root.server().create(name).unwrap();
    let mut client = root.peer_as(NOBODY, NOBODY, &[], &["open", name]);
    assert_denied(&mut client);
    assert!(!server.is_connected());
}

#[test]
fn the_kernel_refuses_another_user_that_bypasses_the_library() {
    let root = TestRoot::new("sec-raw");
    let name = r"\\.\pipe\sec-raw";
    let _server = root.server().create(name).unwrap();
    let sock = root.pipe_dir().join("000.sock");
    // The owner (root) reaches the socket: it is there and listening.
    drop(std::os::unix::net::UnixStream::connect(&sock).expect("root connects"));
    assert_eq!(
        raw_connect(&root, NOBODY, &sock),
        "error PermissionDenied 13"
    );
}

#[test]
fn allow_uid_admits_that_user() {
    let root = TestRoot::new("sec-allow-uid");
    let name = r"\\.\pipe\sec-allow-uid";
    let server = Arc::new(root.server().allow_uid(NOBODY).create(name).unwrap());
    let sock = root.pipe_dir().join("000.sock");
    assert_eq!(raw_connect(&root, NOBODY, &sock), "connected");
    let served = echo_one(&server);
    let mut client = root.peer_as(NOBODY, NOBODY, &[], &["open", name]);
    assert_eq!(client.expect_value("reply"), "ping");
    assert_eq!(served.join().unwrap(), (NOBODY, NOBODY));
}

#[test]
fn allow_gid_admits_a_primary_group() {
    let root = TestRoot::new("sec-allow-gid");
    let name = r"\\.\pipe\sec-allow-gid";
    let server = Arc::new(root.server().allow_gid(GROUP).create(name).unwrap());
    let served = echo_one(&server);
    let mut client = root.peer_as(STRANGER, GROUP, &[], &["open", name]);
    assert_eq!(client.expect_value("reply"), "ping");
    assert_eq!(served.join().unwrap(), (STRANGER, GROUP));
}

#[test]
fn allow_gid_admits_a_supplementary_group() {
    let root = TestRoot::new("sec-allow-groups");
    let name = r"\\.\pipe\sec-allow-groups";
    let server = Arc::new(root.server().allow_gid(GROUP).create(name).unwrap());
    let served = echo_one(&server);
    let mut client = root.peer_as(STRANGER, STRANGER, &[GROUP], &["open", name]);
    assert_eq!(client.expect_value("reply"), "ping");
    assert_eq!(served.join().unwrap(), (STRANGER, STRANGER));
}

#[test]
fn allow_everyone_admits_any_user() {
    let root = TestRoot::new("sec-everyone");
    let name = r"\\.\pipe\sec-everyone";
    let server = Arc::new(root.server().allow_everyone(true).create(name).unwrap());
    let served = echo_one(&server);
    let mut client = root.peer_as(STRANGER, STRANGER, &[], &["open", name]);
    assert_eq!(client.expect_value("reply"), "ping");
    assert_eq!(served.join().unwrap(), (STRANGER, STRANGER));
}

#[test]
fn users_outside_the_allow_lists_are_still_refused() {
    let root = TestRoot::new("sec-outside");
    let name = r"\\.\pipe\sec-outside";
    let server = root
        .server()
        .allow_uid(NOBODY)
        .allow_gid(GROUP)
        .create(name)
        .unwrap();
    let mut client = root.peer_as(STRANGER, STRANGER, &[], &["open", name]);
    assert_denied(&mut client);
    let sock = root.pipe_dir().join("000.sock");
    if std::fs::metadata(&sock).unwrap().permissions().mode() & 0o007 == 0 {
        assert_eq!(
            raw_connect(&root, STRANGER, &sock),
            "error PermissionDenied 13"
        );
    } else {
        // Without POSIX ACLs the library opens the socket to everyone and
        // only the server's own check of the peer remains.
        eprintln!(
            "no POSIX ACLs under {}: kernel check skipped",
            sock.display()
        );
    }
    assert!(!server.is_connected());
}

#[test]
fn another_user_cannot_add_an_instance_to_the_name() {
    let root = TestRoot::new("sec-add-instance");
    let name = r"\\.\pipe\sec-add-instance";
    let _server = root.server().create(name).unwrap();
    let mut squatter = root.peer_as(NOBODY, NOBODY, &[], &["serve", name]);
    assert_denied(&mut squatter);
    assert_eq!(root.namespace().pipes().unwrap()[0].current_instances, 1);
}

#[test]
fn require_server_uid_refuses_a_squatter() {
    let root = TestRoot::new("sec-squatter");
    let name = r"\\.\pipe\sec-squatter";
    let mut squatter = root.peer_as(NOBODY, NOBODY, &[], &["serve", name]);
    squatter.expect("listening");
    assert_code(
        root.client().require_server_uid(0).open(name),
        ERROR_ACCESS_DENIED,
    );
    // Control: the same client accepts the server it expects.
    let client = root.client().require_server_uid(NOBODY).open(name).unwrap();
    assert_eq!(client.server_credentials().unwrap().uid, NOBODY);
}

#[test]
fn a_pipe_directory_owned_by_another_user_is_refused() {
    // The owner of the sticky `pipe` directory could rename anyone's pipe
    // directories in it and serve in their place; npipe refuses to use it.
    let root = TestRoot::new("sec-hijack");
    let kind = root.ns().join("pipe");
    std::os::unix::fs::chown(&kind, Some(NOBODY), Some(NOBODY)).unwrap();
    assert_code(
        root.server().create(r"\\.\pipe\sec-hijack"),
        ERROR_ACCESS_DENIED,
    );
    assert_code(
        root.client().open(r"\\.\pipe\sec-hijack"),
        ERROR_ACCESS_DENIED,
    );
}

#[test]
fn require_server_uid_trusts_the_kernel_not_the_meta_file() {
    let root = TestRoot::new("sec-forged");
    let name = r"\\.\pipe\sec-forged";
    // The squatter owns the name's directory, so it can claim in `meta`
    // that root owns the pipe.
    let mut squatter = root.peer_as(NOBODY, NOBODY, &[], &["serve", name, "--forge-owner", "0"]);
    squatter.expect("listening");
    assert_eq!(root.namespace().pipes().unwrap()[0].owner_uid, 0);
    assert_code(
        root.client().require_server_uid(0).open(name),
        ERROR_ACCESS_DENIED,
    );
}

#[test]
fn the_default_root_must_belong_to_root_or_the_user() {
    // Ways to find /tmp/.npipe (in a private /tmp), with the server's user
    // and what it prints.
    let root_sticky = "install -d -m 1777 /tmp/.npipe";
    let nobodys = "install -d -m 1777 -o 65534 /tmp/.npipe";
    let not_sticky = "install -d -m 0777 /tmp/.npipe";
    let a_file = "touch /tmp/.npipe";
    let missing = "true";
    // The first user to need the default root creates and owns it; others
    // are refused until root makes it (as systemd-tmpfiles does for
    // /tmp/.X11-unix).
    let made_by_a_user = r#""$PEER" --as 12345:12345 serve '\\.\pipe\a' </dev/null >/dev/null"#;
    let denied = "error 5 access to /tmp/.npipe denied";
    let cases = [
        (root_sticky, "0:0", "listening"),
        (root_sticky, "12345:12345", "listening"),
        (missing, "12345:12345", "listening"),
        (nobodys, "65534:65534", "listening"),
        (nobodys, "0:0", denied),
        (nobodys, "12345:12345", denied),
        (not_sticky, "0:0", denied),
        (not_sticky, "12345:12345", denied),
        (a_file, "0:0", denied),
        (made_by_a_user, "23456:23456", denied),
    ];
    for (setup, who, expected) in cases {
        let args = ["--as", who, "serve", r"\\.\pipe\default-root"];
        let Some(mut peer) = peer_with_private_tmp(setup, &args) else {
            eprintln!("no mount namespaces here: default root checks skipped");
            return;
        };
        let line = peer.expect("");
        assert!(
            line.starts_with(expected),
            "after `{setup}`, as {who}: expected {expected:?}, got {line:?}"
        );
    }
}

/// Accepts one client on `server` and echoes one message back; the result
/// is the client's uid and gid.
fn echo_one(server: &Arc<NamedPipeServer>) -> Pending<Result<(u32, u32), String>> {
    let server = Arc::clone(server);
    start("serve one client", move || {
        let run = || -> npipe::Result<(u32, u32)> {
            server.connect()?;
            let mut buf = [0u8; 64];
            let n = server.read_message(&mut buf)?.len();
            server.write_message(&buf[..n])?;
            let who = server.client_credentials()?;
            Ok((who.uid, who.gid))
        };
        run().map_err(|e| e.to_string())
    })
}

/// What a plain `connect(2)` to `sock` by `uid` (group the same) gives:
/// "connected" or "error KIND ERRNO".
fn raw_connect(root: &TestRoot, uid: u32, sock: &Path) -> String {
    let mut raw = root.peer_as(uid, uid, &[], &["raw-connect", sock.to_str().unwrap()]);
    let line = raw.expect("");
    raw.finish();
    line
}

/// The peer's next "error" line is ERROR_ACCESS_DENIED.
#[track_caller]
fn assert_denied(peer: &mut Peer) {
    let error = peer.expect_value("error");
    let code = format!("{ERROR_ACCESS_DENIED} ");
    assert!(
        error.starts_with(&code),
        "expected ERROR_ACCESS_DENIED: {error}"
    );
}
