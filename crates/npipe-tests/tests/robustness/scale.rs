//! Limits at full size: 255 instances of one name serving 255 clients at
//! once, and many connect/disconnect cycles without a descriptor leak.

use npipe::win32::ERROR_PIPE_BUSY;
use npipe::PipeMode;

use crate::support::{assert_code, TestRoot};

/// Client processes; each opens `INSTANCES / CLIENT_PROCESSES` clients.
const CLIENT_PROCESSES: usize = 5;
const INSTANCES: usize = 255;

#[test]
fn all_255_instances_serve_at_once_and_the_next_is_busy() {
    let root = TestRoot::new("scale-255");
    let name = r"\\.\pipe\scale-255";
    let mut server = root.peer(&["serve", name, "--message", "--instances", "255"]);
    server.expect("listening 255");
    let listed = &root.namespace().pipes().unwrap()[0];
    assert_eq!(
        (listed.current_instances, listed.listening_instances),
        (255, 255)
    );
    // No 256th instance, in this process or any other.
    assert_code(
        root.server().pipe_mode(PipeMode::Message).create(name),
        ERROR_PIPE_BUSY,
    );

    let per_process = INSTANCES / CLIENT_PROCESSES;
    let mut clients: Vec<_> = (0..CLIENT_PROCESSES)
        .map(|_| root.peer(&["clients", name, &per_process.to_string()]))
        .collect();
    for client in &mut clients {
        assert_eq!(client.expect_value("connected"), per_process.to_string());
    }

    let listed = &root.namespace().pipes().unwrap()[0];
    assert_eq!(
        (listed.current_instances, listed.listening_instances),
        (255, 0)
    );
    assert_code(root.client().open(name), ERROR_PIPE_BUSY);
    assert_code(
        root.server().pipe_mode(PipeMode::Message).create(name),
        ERROR_PIPE_BUSY,
    );
    // Every instance took exactly one client.
    let mut slots: Vec<usize> = (0..INSTANCES)
        .map(|_| server.expect_value("connected").parse().unwrap())
        .collect();
    slots.sort_unstable();
    assert_eq!(slots, (0..INSTANCES).collect::<Vec<_>>());

    drop(clients);
    drop(server);
    // What the killed processes left does not show, and the next server of
    // the name cleans it up.
    assert!(root.namespace().pipes().unwrap().is_empty());
    drop(root.server().create(name).unwrap());
    root.assert_empty();
}

#[test]
fn a_thousand_connect_disconnect_cycles_leak_no_descriptors() {
    let root = TestRoot::new("scale-cycles");
    let name = r"\\.\pipe\scale-cycles";
    let mut peer = root.peer(&["cycles", name, "1000"]);
    let fds = peer.expect_value("fds");
    let (before, after) = fds.split_once(' ').unwrap();
    assert_eq!(
        before, after,
        "open descriptors before and after 1000 cycles"
    );
    // After the last disconnect only the instance's own files are left: no
    // claim, no socket, no temporary files.
    let files = peer.expect_value("files");
    assert_eq!(files, "000.alive,lock,meta");
    peer.finish();
    root.assert_empty();
}
