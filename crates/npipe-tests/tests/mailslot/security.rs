//! Who may write: the owner and root always, others only when allowed.
//! The tests run as root; children drop to uid 65534 (`nobody`).

use std::os::unix::process::CommandExt;

use npipe::mailslot::MailslotOptions;
use npipe::win32::ERROR_ACCESS_DENIED;

use crate::support::{Peer, TestRoot};

const NOBODY: u32 = 65534;

fn as_nobody(root: &TestRoot, args: &[&str]) -> Option<Vec<String>> {
    if npipe_is_root() {
        let mut cmd = root.peer(args);
        cmd.uid(NOBODY).gid(NOBODY);
        Some(Peer::run(cmd, "writer as nobody"))
    } else {
        eprintln!("SKIPPED: access tests need root to run a child as uid {NOBODY}");
        None
    }
}

fn npipe_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn another_user_is_refused_with_access_denied() {
    let root = TestRoot::new("denied");
    let name = r"\\.\mailslot\security\private";
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    let Some(out) = as_nobody(&root, &["send", name, "sneaky"]) else {
        return;
    };
    assert_eq!(out, [format!("error {ERROR_ACCESS_DENIED}")]);
    assert_eq!(slot.info().unwrap().message_count, 0);
}

#[test]
fn an_allowed_uid_and_everyone_may_write() {
    let root = TestRoot::new("allowed");
    let by_uid = r"\\.\mailslot\security\by-uid";
    let open = r"\\.\mailslot\security\open";
    let a = MailslotOptions::new()
        .root(root.path())
        .allow_uid(NOBODY)
        .create(by_uid)
        .unwrap();
    let b = MailslotOptions::new()
        .root(root.path())
        .allow_everyone(true)
        .create(open)
        .unwrap();
    let Some(out) = as_nobody(&root, &["send", by_uid, "hi"]) else {
        return;
    };
    assert_eq!(out, ["ok"]);
    assert_eq!(a.read_message().unwrap(), b"hi");
    assert_eq!(as_nobody(&root, &["send", open, "all"]).unwrap(), ["ok"]);
    assert_eq!(b.read_message().unwrap(), b"all");
}
