//! What a handle and the namespace report about a pipe and the processes
//! on it: GetNamedPipeInfo, the process ids, credentials, and the list of
//! pipes.

use npipe::{Access, Namespace, PipeEnd, PipeMode, ReadMode};
use npipe_tests::{my_uid, TestRoot};

use crate::peer;

#[test]
fn info_counts_instances_in_every_process() {
    let root = TestRoot::new();
    let name = root.pipe();
    let script = [
        "serve",
        &name,
        "--message",
        "--max",
        "4",
        "serve",
        &name,
        "--message",
        "--max",
        "4",
        "hang",
    ];
    let mut other = peer(&root, &script);
    other.expect_all(&["listening", "listening"]);
    let server = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(4)
        .create(&name)
        .unwrap();

    let info = server.info().unwrap();
    assert_eq!(info.end, PipeEnd::Server);
    assert_eq!(info.pipe_mode, PipeMode::Message);
    assert_eq!(info.read_mode, ReadMode::Message);
    assert!(!info.nowait);
    assert_eq!(info.max_instances, 4);
    assert_eq!(info.current_instances, 3);

    let mut client = peer(&root, &["open", &name, "info", "hang"]);
    client.expect_all(&[
        "opened",
        "info end=client type=message read-mode=byte nowait=false max=4 current=3",
    ]);
    drop(other);
    assert_eq!(server.info().unwrap().current_instances, 1);
}

#[test]
fn process_ids_and_credentials_are_those_of_the_real_processes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "connect", "ids", "hang"]);
    server.expect("listening");
    let client = root.client().open(&name).unwrap();
    let me = std::process::id();
    server.expect_all(&[
        "connected",
        &format!("ids self={} peer={me} peer-uid={}", server.pid(), my_uid()),
    ]);

    assert_eq!(client.server_process_id().unwrap(), server.pid());
    assert_eq!(client.client_process_id().unwrap(), me);
    let credentials = client.server_credentials().unwrap();
    assert_eq!((credentials.pid, credentials.uid), (server.pid(), my_uid()));

    let name2 = root.pipe_named("back");
    let ours = root.server().create(&name2).unwrap();
    let mut client = peer(&root, &["open", &name2, "ids", "hang"]);
    client.expect_all(&[
        "opened",
        &format!("ids self={} peer={me} peer-uid={}", client.pid(), my_uid()),
    ]);
    ours.connect().unwrap();
    assert_eq!(ours.client_process_id().unwrap(), client.pid());
    assert_eq!(ours.server_process_id().unwrap(), me);
    assert_eq!(ours.client_credentials().unwrap().uid, my_uid());
}

#[test]
fn the_pipe_list_shows_live_pipes_and_not_one_whose_server_was_killed() {
    let root = TestRoot::new();
    let (live, killed) = (root.pipe_named("live"), root.pipe_named("killed"));
    let script = [
        "serve", &live, "--max", "3", "serve", &live, "--max", "3", "hang",
    ];
    let mut a = peer(&root, &script);
    a.expect_all(&["listening", "listening"]);
    let _client = root.client().open(&live).unwrap();
    let mut b = peer(&root, &["serve", &killed, "--outbound", "hang"]);
    b.expect_all(&["listening", "hanging"]);
    let _ours = root.server().max_instances(3).create(&live).unwrap();

    let names: Vec<String> = Namespace::at(root.path())
        .pipes()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    b.kill();

    let pipes = Namespace::at(root.path()).pipes().unwrap();
    assert_eq!(pipes.len(), 1, "{pipes:#?}");
    let entry = &pipes[0];
    assert_eq!(entry.name, live);
    assert_eq!(entry.pipe_mode, PipeMode::Byte);
    assert_eq!(entry.access, Access::Duplex);
    assert_eq!(entry.current_instances, 3);
    assert_eq!(entry.listening_instances, 2);
    assert_eq!(entry.max_instances, 3);
    assert_eq!(entry.owner_uid, my_uid());
    let mut pids = vec![a.pid(), std::process::id()];
    pids.sort_unstable();
    assert_eq!(entry.server_pids, pids);
}
