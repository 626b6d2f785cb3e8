//! A mailslot lives as long as its reader: ERROR_ALREADY_EXISTS while it
//! does, ERROR_FILE_NOT_FOUND after, even when the reader is killed.

use npipe::mailslot::{MailslotOptions, MailslotWriterOptions};
use npipe::win32::{ERROR_ALREADY_EXISTS, ERROR_FILE_NOT_FOUND};

use crate::support::{Peer, TestRoot};

#[test]
fn a_name_that_was_never_created_is_not_found() {
    let root = TestRoot::new("not-found");
    let out = Peer::run(root.peer(&["open", r"\\.\mailslot\nobody"]), "writer");
    assert_eq!(out, [format!("error {ERROR_FILE_NOT_FOUND}")]);
}

#[test]
fn a_second_reader_of_a_live_name_gets_already_exists() {
    let root = TestRoot::new("exists");
    let name = r"\\.\mailslot\lifetime\exists";
    let _slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    let out = Peer::run(
        root.peer(&["serve", r"\\.\MailSlot\LIFETIME\exists"]),
        "second reader",
    );
    assert_eq!(out.len(), 1);
    assert!(
        out[0].starts_with(&format!("error {ERROR_ALREADY_EXISTS} ")),
        "{out:?}"
    );
}

#[test]
fn a_reader_killed_with_sigkill_frees_its_name_at_once() {
    let root = TestRoot::new("sigkill");
    let name = r"\\.\mailslot\lifetime\killed";
    let mut holder = Peer::spawn(root.peer(&["hold", name]), "holder");
    holder.expect("ready");

    let err = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap_err();
    assert_eq!(err.win32_code(), ERROR_ALREADY_EXISTS);
    let writer = MailslotWriterOptions::new()
        .root(root.path())
        .open(name)
        .unwrap();
    writer.write(b"to the holder").unwrap();

    holder.kill();

    // The holder's files are still there, but nothing blocks: writers see
    // no mailslot, and a new reader takes the name over.
    let err = writer.write(b"after death").unwrap_err();
    assert_eq!(err.win32_code(), ERROR_FILE_NOT_FOUND);
    let err = MailslotWriterOptions::new()
        .root(root.path())
        .open(name)
        .unwrap_err();
    assert_eq!(err.win32_code(), ERROR_FILE_NOT_FOUND);
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    let out = Peer::run(root.peer(&["send", name, "to the new reader"]), "writer");
    assert_eq!(out, ["ok"]);
    assert_eq!(slot.read_message().unwrap(), b"to the new reader");
    assert_eq!(
        slot.info().unwrap().message_count,
        0,
        "nothing of the old reader's"
    );
}

#[test]
fn closing_the_mailslot_frees_the_name() {
    let root = TestRoot::new("close");
    let name = r"\\.\mailslot\lifetime\closed";
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    drop(slot);
    let out = Peer::run(root.peer(&["open", name]), "writer");
    assert_eq!(out, [format!("error {ERROR_FILE_NOT_FOUND}")]);
    let reader = Peer::spawn(root.peer(&["serve", name]), "new reader");
    reader.expect("ready");
}
