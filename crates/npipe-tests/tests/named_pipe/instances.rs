//! Instance limits, the rules later instances must follow, and names, with
//! the instances spread over several processes.

use npipe::win32::*;
use npipe::{PipeMode, ReadMode};
use npipe_tests::{expect_err, TestRoot};

use crate::peer;

#[test]
fn max_instances_of_the_first_instance_holds_in_other_processes() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut first = peer(&root, &["serve", &name, "--max", "2", "hang"]);
    first.expect("listening");

    let _second = root.server().max_instances(2).create(&name).unwrap();
    expect_err(
        root.server().max_instances(2).create(&name),
        ERROR_PIPE_BUSY,
    );
    let mut third = peer(&root, &["serve", &name, "--max", "2"]);
    third.expect("err ERROR_PIPE_BUSY");
}

#[test]
fn an_instance_closed_in_another_process_frees_its_place() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut other = peer(
        &root,
        &["serve", &name, "--max", "1", "await", "close", "hang"],
    );
    other.expect("listening");
    expect_err(
        root.server().max_instances(1).create(&name),
        ERROR_PIPE_BUSY,
    );

    other.resume();
    other.expect_all(&["resumed", "closed"]);
    root.server().max_instances(1).create(&name).unwrap();
}

#[test]
fn later_instances_with_another_type_access_or_limit_are_access_denied() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut first = peer(&root, &["serve", &name, "--message", "--max", "4", "hang"]);
    first.expect("listening");

    let byte_type = root.server().max_instances(4).create(&name);
    expect_err(byte_type, ERROR_ACCESS_DENIED);
    let outbound = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(4)
        .access_inbound(false)
        .create(&name);
    expect_err(outbound, ERROR_ACCESS_DENIED);
    let other_limit = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(3)
        .create(&name);
    expect_err(other_limit, ERROR_ACCESS_DENIED);

    let same = root
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(4)
        .create(&name);
    assert_eq!(same.unwrap().info().unwrap().current_instances, 2);
}

#[test]
fn first_pipe_instance_is_access_denied_when_another_process_has_one() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut owner = peer(&root, &["serve", &name, "hang"]);
    owner.expect("listening");
    expect_err(
        root.server().first_pipe_instance(true).create(&name),
        ERROR_ACCESS_DENIED,
    );

    let fresh = root.pipe_named("fresh");
    let _mine = root
        .server()
        .first_pipe_instance(true)
        .create(&fresh)
        .unwrap();
    let mut squatter = peer(&root, &["serve", &fresh, "--first"]);
    squatter.expect("err ERROR_ACCESS_DENIED");
}

#[test]
fn zero_or_256_instances_is_invalid_parameter() {
    let root = TestRoot::new();
    let name = root.pipe();
    for instances in [0, 256] {
        let created = root.server().max_instances(instances).create(&name);
        expect_err(created, ERROR_INVALID_PARAMETER);
    }
    let mut other = peer(&root, &["serve", &name, "--max", "0"]);
    other.expect("err ERROR_INVALID_PARAMETER");
    expect_err(root.client().open(&name), ERROR_FILE_NOT_FOUND);
}

#[test]
fn message_read_mode_on_a_byte_pipe_is_invalid_parameter() {
    let root = TestRoot::new();
    let name = root.pipe();
    let server = root.server().read_mode(ReadMode::Message).create(&name);
    expect_err(server, ERROR_INVALID_PARAMETER);

    let mut server = peer(&root, &["serve", &name, "hang"]);
    server.expect("listening");
    let client = root.client().read_mode(ReadMode::Message).open(&name);
    expect_err(client, ERROR_INVALID_PARAMETER);
}

#[test]
fn opening_a_name_nobody_serves_is_file_not_found() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut client = peer(&root, &["open", &name]);
    client.expect("err ERROR_FILE_NOT_FOUND");

    // Once its only server process is gone, the name is gone too.
    let mut server = peer(&root, &["serve", &name, "exit"]);
    server.expect_all(&["listening", "exiting"]);
    server.wait_exit();
    expect_err(root.client().open(&name), ERROR_FILE_NOT_FOUND);
}

#[test]
fn a_killed_server_process_leaves_the_name_free_for_anyone() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "--message", "--max", "1", "hang"]);
    server.expect_all(&["listening", "hanging"]);
    server.kill();

    expect_err(root.client().open(&name), ERROR_FILE_NOT_FOUND);
    // The dead instance fixes nothing: not the type, not the limit.
    let fresh = root
        .server()
        .first_pipe_instance(true)
        .max_instances(2)
        .create(&name)
        .unwrap();
    let info = fresh.info().unwrap();
    assert_eq!(
        (info.pipe_mode, info.max_instances, info.current_instances),
        (PipeMode::Byte, 2, 1)
    );
}

#[test]
fn second_client_gets_pipe_busy() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut server = peer(&root, &["serve", &name, "--max", "1", "hang"]);
    server.expect("listening");
    let _first = root.client().open(&name).unwrap();

    let mut second = peer(&root, &["open", &name]);
    second.expect("err ERROR_PIPE_BUSY");
    expect_err(root.client().open(&name), ERROR_PIPE_BUSY);
}

#[test]
fn every_instance_of_every_server_process_taken_gives_pipe_busy() {
    let root = TestRoot::new();
    let name = root.pipe();
    let mut a = peer(&root, &["serve", &name, "--max", "3", "hang"]);
    a.expect("listening");
    let mut b = peer(
        &root,
        &[
            "serve", &name, "--max", "3", "serve", &name, "--max", "3", "hang",
        ],
    );
    b.expect_all(&["listening", "listening"]);

    let clients: Vec<_> = (0..3).map(|_| root.client().open(&name).unwrap()).collect();
    let mut servers: Vec<u32> = clients
        .iter()
        .map(|c| c.server_process_id().unwrap())
        .collect();
    servers.sort_unstable();
    let mut expected = vec![a.pid(), b.pid(), b.pid()];
    expected.sort_unstable();
    assert_eq!(servers, expected, "each instance got one client");
    expect_err(root.client().open(&name), ERROR_PIPE_BUSY);
}

#[test]
fn names_are_case_insensitive_across_processes() {
    let root = TestRoot::new();
    let name = root.pipe_named("Foo");
    let mut server = peer(&root, &["serve", &name, "hang"]);
    server.expect("listening");

    let shouted = name.replace(r"\pipe\", r"\PIPE\").to_uppercase();
    let client = root.client().open(&shouted).unwrap();
    assert_eq!(client.server_process_id().unwrap(), server.pid());
    let lower = root.server().create(name.to_lowercase()).unwrap();
    assert_eq!(lower.info().unwrap().current_instances, 2);
}

#[test]
fn bad_names_are_bad_pathname() {
    let root = TestRoot::new();
    let bad = [
        "",
        r"\\.\pipe\",
        "//./pipe/x",
        r"\\.\pip\x",
        r"pipe\x",
        r"\\.\pipe",
    ];
    for name in bad {
        expect_err(root.server().create(name), ERROR_BAD_PATHNAME);
        expect_err(root.client().open(name), ERROR_BAD_PATHNAME);
    }
    // Servers only create local pipes.
    expect_err(root.server().create(r"\\host\pipe\x"), ERROR_BAD_PATHNAME);
    expect_err(root.server().create(r"\\.\mailslot\x"), ERROR_BAD_PATHNAME);
    expect_err(root.client().open(r"\\.\mailslot\x"), ERROR_BAD_PATHNAME);

    let mut other = peer(&root, &["open", "//./pipe/x"]);
    other.expect("err ERROR_BAD_PATHNAME");
}
