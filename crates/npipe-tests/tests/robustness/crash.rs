//! SIGKILL at the worst moments: servers killed listening, connected and
//! mid-message; clients killed mid-message and between claiming an instance
//! and connecting. Nothing a dead process leaves may block the next user.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use npipe::win32::{
    ERROR_BROKEN_PIPE, ERROR_FILE_NOT_FOUND, ERROR_NO_DATA, ERROR_PIPE_BUSY, ERROR_SEM_TIMEOUT,
};
use npipe::{MessageRead, NamedPipeServer, PipeMode, ReadMode};

use crate::support::{assert_code, files_in, start, TestRoot};

const FOUR_MIB: usize = 4 << 20;

#[test]
fn killed_listening_server_leaves_the_name_free() {
    let root = TestRoot::new("kill-listening");
    let name = r"\\.\pipe\crash-listening";
    let mut server = root.peer(&["serve", name, "--max", "1", "--first"]);
    server.expect("listening");
    let listed = root.namespace().pipes().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].server_pids, vec![server.pid()]);

    server.kill();

    assert_code(root.client().open(name), ERROR_FILE_NOT_FOUND);
    assert_code(
        root.client().wait(name, Duration::from_secs(10)),
        ERROR_FILE_NOT_FOUND,
    );
    assert!(root.namespace().pipes().unwrap().is_empty());
    // The strictest creation there is succeeds at once.
    let again = root
        .server()
        .max_instances(1)
        .first_pipe_instance(true)
        .create(name)
        .unwrap();
    echo_once(&root, &again, name);
    drop(again);
    root.assert_empty();
}

#[test]
fn killed_connected_server_gives_the_client_broken_pipe() {
    let root = TestRoot::new("kill-connected");
    let name = r"\\.\pipe\crash-connected";
    let mut server = root.peer(&["serve", name, "--message", "--max", "1"]);
    server.expect("listening");
    let client = Arc::new(
        root.client()
            .read_mode(ReadMode::Message)
            .open(name)
            .unwrap(),
    );
    let mut buf = [0u8; 16];
    let got = client.transact(b"ping", &mut buf).unwrap();
    assert_eq!(&buf[..got.len()], b"ping");
    server.expect("connected 0");

    // A reader blocked when the server dies is woken with the error.
    let reader = {
        let client = Arc::clone(&client);
        start("blocked read", move || {
            client
                .read_message(&mut [0u8; 16])
                .map_err(|e| e.win32_code())
        })
    };
    std::thread::sleep(Duration::from_millis(100)); // let it block first
    server.kill();
    assert_eq!(reader.join(), Err(ERROR_BROKEN_PIPE));
    assert_code(client.read_message(&mut buf), ERROR_BROKEN_PIPE);
    assert_code(client.write_message(b"anyone?"), ERROR_NO_DATA);

    // The dead connection's files do not block a new server of the name,
    // even while the client still holds its end.
    assert_code(root.client().open(name), ERROR_FILE_NOT_FOUND);
    assert!(root.namespace().pipes().unwrap().is_empty());
    let again = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .first_pipe_instance(true)
        .create(name)
        .unwrap();
    echo_once(&root, &again, name);
    drop(client);
    drop(again);
    root.assert_empty();
}

#[test]
fn server_killed_mid_message_delivers_no_part_of_it() {
    let root = TestRoot::new("kill-mid-write");
    let name = r"\\.\pipe\crash-mid-write";
    let mut server = root.peer(&["serve-big", name, &FOUR_MIB.to_string()]);
    server.expect("listening");
    let client = root
        .client()
        .read_mode(ReadMode::Message)
        .open(name)
        .unwrap();
    server.expect("connected");
    let mut buf = vec![0u8; FOUR_MIB + 16];
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(5)
    );
    assert_eq!(&buf[..5], b"small");
    // The 4 MiB message does not fit in the socket: the server blocks
    // with part of it sent.
    server.expect("writing");
    server.wait_until_blocked();
    server.kill();

    buf.fill(0);
    assert_code(client.read_message(&mut buf), ERROR_BROKEN_PIPE);
    assert!(buf.iter().all(|&b| b == 0), "part of the message arrived");
    let peeked = client.peek(&mut buf).unwrap();
    assert_eq!((peeked.copied, peeked.total_available), (0, 0));
    assert_code(client.read_message(&mut buf), ERROR_BROKEN_PIPE);
    drop(client);
    root.server()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .first_pipe_instance(true)
        .create(name)
        .unwrap();
}

#[test]
fn server_killed_mid_message_gives_a_byte_mode_reader_no_part_either() {
    let root = TestRoot::new("kill-mid-write-bytes");
    let name = r"\\.\pipe\crash-mid-write-bytes";
    let mut server = root.peer(&["serve-big", name, &FOUR_MIB.to_string()]);
    server.expect("listening");
    // Byte read mode on a message pipe reads across message boundaries,
    // but still never sees a message its writer did not finish.
    let client = root.client().open(name).unwrap();
    server.expect("connected");
    let mut buf = vec![0u8; 64 * 1024];
    assert_eq!(
        client.read_message(&mut buf).unwrap(),
        MessageRead::Complete(5)
    );
    server.expect("writing");
    server.wait_until_blocked();
    server.kill();
    buf.fill(0);
    assert_code(client.read_message(&mut buf), ERROR_BROKEN_PIPE);
    assert!(buf.iter().all(|&b| b == 0), "part of the message arrived");
}

#[test]
fn client_killed_mid_message_leaves_the_instance_reusable() {
    let root = TestRoot::new("kill-client");
    let name = r"\\.\pipe\crash-client";
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(name)
        .unwrap();
    let mut client = root.peer(&["write", name, "100", &FOUR_MIB.to_string()]);
    client.expect("opened");
    server.connect().unwrap();
    let mut buf = vec![0u8; FOUR_MIB + 16];
    assert_eq!(
        server.read_message(&mut buf).unwrap(),
        MessageRead::Complete(100)
    );
    client.expect("writing 4194304");
    client.wait_until_blocked();
    client.kill();

    buf.fill(0);
    assert_code(server.read_message(&mut buf), ERROR_BROKEN_PIPE);
    assert!(buf.iter().all(|&b| b == 0), "part of the message arrived");
    assert_code(server.write_message(b"late"), ERROR_NO_DATA);

    // Disconnect and serve the next client on the same instance.
    server.disconnect().unwrap();
    let server = Arc::new(server);
    let serving = {
        let server = Arc::clone(&server);
        start("connect", move || {
            server.connect().map_err(|e| e.to_string())
        })
    };
    root.client()
        .wait(name, Duration::from_secs(20))
        .expect("the instance listens again");
    let next = root
        .client()
        .read_mode(ReadMode::Message)
        .open(name)
        .unwrap();
    serving.join().unwrap();
    next.write_message(b"next").unwrap();
    let got = server.read_message(&mut buf).unwrap();
    assert_eq!(&buf[..got.len()], b"next");
}

#[test]
fn waiting_client_learns_that_the_killed_server_is_gone() {
    let root = TestRoot::new("kill-while-waited");
    let name = r"\\.\pipe\crash-waited";
    let mut server = root.peer(&["serve", name, "--max", "1"]);
    server.expect("listening");
    let busy_maker = root.client().open(name).unwrap();
    server.expect("connected 0");
    assert_code(
        root.client().wait(name, Duration::from_millis(100)),
        ERROR_SEM_TIMEOUT,
    );
    assert_code(root.client().open(name), ERROR_PIPE_BUSY);

    let client = root.client();
    let waiter = start("wait", move || {
        client
            .wait(name, Duration::from_secs(20))
            .map_err(|e| e.win32_code())
    });
    std::thread::sleep(Duration::from_millis(200)); // let it block first
    server.kill();
    assert_eq!(waiter.join(), Err(ERROR_FILE_NOT_FOUND));
    drop(busy_maker);
}

#[test]
fn stale_claim_left_by_a_dead_client_does_not_block_the_next() {
    let root = TestRoot::new("stale-claim");
    let name = r"\\.\pipe\crash-stale-claim";
    let server = root.server().max_instances(1).create(name).unwrap();
    // What a client killed after linking its claim and before connecting
    // leaves: a claim with a token, unlocked, without the "+" marker.
    let claim = root.pipe_dir().join("000.claim");
    std::fs::write(&claim, "00000000c1a1e0ff\n").unwrap();

    root.client()
        .wait(name, Duration::from_secs(20))
        .expect("a stale claim counts as free");
    let mut client = root.client().open(name).unwrap();
    server.connect().unwrap();
    client.write_all(b"through").unwrap();
    let mut buf = [0u8; 7];
    std::io::Read::read_exact(&mut &server, &mut buf).unwrap();
    assert_eq!(&buf, b"through");
}

#[test]
fn client_killed_between_claiming_and_connecting_wakes_waiters() {
    let root = TestRoot::new("claim-holder");
    let name = r"\\.\pipe\crash-claim-holder";
    let server = root.server().max_instances(1).create(name).unwrap();
    let claim = root.pipe_dir().join("000.claim");
    let mut holder = root.peer(&["hold-claim", claim.to_str().unwrap()]);
    holder.expect("locked");
    // A claim whose lock is held is a client connecting now: busy.
    assert_code(root.client().open(name), ERROR_PIPE_BUSY);
    assert_code(
        root.client().wait(name, Duration::from_millis(100)),
        ERROR_SEM_TIMEOUT,
    );

    let client = root.client();
    let waiter = start("wait", move || {
        client
            .wait(name, Duration::from_secs(20))
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(200)); // let it block first
    holder.kill();
    waiter
        .join()
        .expect("the dead client's claim frees the instance");
    let client = root.client().open(name).unwrap();
    server.connect().unwrap();
    client.write_message(b"x").unwrap();
    let mut buf = [0u8; 1];
    std::io::Read::read_exact(&mut &server, &mut buf).unwrap();
    let leftovers: Vec<_> = files_in(&root.pipe_dir())
        .into_iter()
        .filter(|f| f.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn listening_again_keeps_the_claim_of_a_client_connecting_now() {
    let root = TestRoot::new("relisten-claim");
    let name = r"\\.\pipe\crash-relisten-claim";
    let server = Arc::new(root.server().max_instances(1).create(name).unwrap());
    echo_once(&root, &server, name);
    server.disconnect().unwrap();
    // A client that saw the instance listening before, claims it now, while
    // it is disconnected; it will connect once the instance listens again.
    let claim = root.pipe_dir().join("000.claim");
    let mut holder = root.peer(&["hold-claim", claim.to_str().unwrap()]);
    holder.expect("locked");
    let serving = {
        let server = Arc::clone(&server);
        start("connect", move || {
            server.connect().map_err(|e| e.to_string())
        })
    };
    let sock = root.pipe_dir().join("000.sock");
    let deadline = std::time::Instant::now() + crate::support::LIMIT;
    while !sock.exists() {
        assert!(std::time::Instant::now() < deadline, "never listened again");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    // The instance is that client's: nobody else may take it.
    assert_code(root.client().open(name), ERROR_PIPE_BUSY);
    holder.kill();
    let client = root.client().open(name).unwrap();
    serving.join().unwrap();
    client.write_message(b"x").unwrap();
}

/// One client connects to `server` and one message goes each way.
fn echo_once(root: &TestRoot, server: &NamedPipeServer, name: &str) {
    let client = root.client().open(name).unwrap();
    server.connect().unwrap();
    client.write_message(b"hello").unwrap();
    let mut buf = [0u8; 5];
    std::io::Read::read_exact(&mut &*server, &mut buf).unwrap();
    assert_eq!(&buf, b"hello");
    server.write_message(b"olleh").unwrap();
    std::io::Read::read_exact(&mut &client, &mut buf).unwrap();
    assert_eq!(&buf, b"olleh");
}
