//! WaitNamedPipe across processes: time-outs, and the events that end a
//! wait early (an instance listening again, a new instance, the last
//! instance closing).

use std::time::{Duration, Instant};

use npipe::win32::*;
use npipe::WaitTimeout;
use npipe_tests::{expect_err, within, Background, TestRoot};

use crate::peer;

/// Far longer than any test: a wait that returns did not time out.
const LONG: Duration = Duration::from_secs(600);

/// Waits for `name` in the background, with the time-out [`LONG`].
fn wait_in_background(root: &TestRoot, name: &str) -> Background<npipe::Result<()>> {
    let (options, name) = (root.client(), name.to_string());
    Background::start("WaitNamedPipe", move || options.wait(&name, LONG))
}

/// A server process with one instance, and a client holding it.
fn busy_pipe(root: &TestRoot, script: &[&str]) -> (crate::Peer, npipe::NamedPipeClient) {
    let mut server = peer(root, script);
    server.expect("listening");
    let client = root.client().open(root.pipe()).unwrap();
    server.expect("connected");
    (server, client)
}

#[test]
fn wait_times_out_with_sem_timeout_while_every_instance_is_busy() {
    let root = TestRoot::new();
    let name = root.pipe();
    let (_server, _client) = busy_pipe(&root, &["serve", &name, "--max", "1", "connect", "hang"]);

    let started = Instant::now();
    let options = root.client();
    let n = name.clone();
    let waited = within("wait", move || options.wait(&n, Duration::from_millis(300)));
    expect_err(waited, ERROR_SEM_TIMEOUT);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "gave up early"
    );
}

#[test]
fn wait_returns_at_once_when_an_instance_is_listening() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "hang"]);
    server.expect("listening");
    let (options, n) = (root.client(), name.clone());
    within("wait", move || options.wait(&n, WaitTimeout::Forever)).unwrap();
}

#[test]
fn wait_wakes_when_the_server_process_disconnects_and_listens_again() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--max",
        "1",
        "connect",
        "await",
        "disconnect",
        "connect",
        "hang",
    ];
    let (mut server, _client) = busy_pipe(&root, &script);

    let waiting = wait_in_background(&root, &name);
    waiting.expect_blocked();
    server.resume();
    server.expect_all(&["resumed", "disconnected"]);
    waiting.join().unwrap();
    let next = root.client().open(&name).unwrap();
    server.expect("connected");
    assert_eq!(next.server_process_id().unwrap(), server.pid());
}

#[test]
fn wait_wakes_when_another_process_creates_an_instance() {
    let root = TestRoot::new();
    let name = root.pipe();
    let (_first, _client) = busy_pipe(&root, &["serve", &name, "--max", "2", "connect", "hang"]);

    let waiting = wait_in_background(&root, &name);
    waiting.expect_blocked();
    let mut second = peer(&root, &["serve", &name, "--max", "2", "hang"]);
    second.expect("listening");
    waiting.join().unwrap();
    let next = root.client().open(&name).unwrap();
    assert_eq!(next.server_process_id().unwrap(), second.pid());
}

/// Windows cancels the waiters of a name with `STATUS_OBJECT_NAME_NOT_FOUND`
/// when its last instance is deleted.
#[test]
fn wait_ends_with_file_not_found_when_the_last_instance_closes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve", &name, "--max", "1", "connect", "await", "close", "hang",
    ];
    let (mut server, _client) = busy_pipe(&root, &script);

    let waiting = wait_in_background(&root, &name);
    waiting.expect_blocked();
    server.resume();
    server.expect_all(&["resumed", "closed"]);
    expect_err(waiting.join(), ERROR_FILE_NOT_FOUND);
}

#[test]
fn wait_ends_with_file_not_found_when_the_server_process_is_killed() {
    let root = TestRoot::new();
    let name = root.pipe();
    let (mut server, _client) =
        busy_pipe(&root, &["serve", &name, "--max", "1", "connect", "hang"]);

    let waiting = wait_in_background(&root, &name);
    waiting.expect_blocked();
    server.kill();
    expect_err(waiting.join(), ERROR_FILE_NOT_FOUND);
}

#[test]
fn wait_gives_file_not_found_at_once_when_no_instance_exists() {
    let root = TestRoot::new();
    let name = root.pipe();
    let (options, n) = (root.client(), name.clone());
    let waited = within("wait", move || options.wait(&n, WaitTimeout::Forever));
    expect_err(waited, ERROR_FILE_NOT_FOUND);

    // Also when a killed server left its files behind.
    let mut server = peer(&root, &["serve", &name, "hang"]);
    server.expect_all(&["listening", "hanging"]);
    server.kill();
    let (options, n) = (root.client(), name.clone());
    let waited = within("wait", move || options.wait(&n, WaitTimeout::Forever));
    expect_err(waited, ERROR_FILE_NOT_FOUND);
}

#[test]
fn default_wait_uses_the_servers_default_timeout() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--max",
        "1",
        "--timeout",
        "400",
        "connect",
        "hang",
    ];
    let (_server, _client) = busy_pipe(&root, &script);

    let started = Instant::now();
    let (options, n) = (root.client(), name.clone());
    let waited = within("wait", move || options.wait(&n, WaitTimeout::Default));
    expect_err(waited, ERROR_SEM_TIMEOUT);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "timed out before the server's default time-out"
    );

    let mut seen_by_peer = peer(&root, &["wait-pipe", &name, "default"]);
    seen_by_peer.expect("err ERROR_SEM_TIMEOUT");
}
