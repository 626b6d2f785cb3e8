//! The two front ends talk to each other across processes: the async
//! server with a blocking client process, and a blocking server process
//! with the async client, each exchanging messages of every size class
//! (empty to larger than a socket buffer) and reading the other's pid.

use npipe::tokio::{NamedPipeClient, NamedPipeServer};
use npipe::{Error, MessageRead};

use crate::support::{payload, run, Peer, TestRoot, PEER_SIZES};

const COUNT: usize = 24;

#[test]
fn async_server_serves_a_blocking_client_process() {
    let root = TestRoot::new("interop-async-server");
    let name = r"\\.\pipe\interop-async-server";
    run(async {
        let server = NamedPipeServer::create(root.server().max_instances(1), name).unwrap();
        let peer = Peer::spawn(&root, &["blocking-client", name, &COUNT.to_string()]);
        server.connect().await.unwrap();
        assert_eq!(server.client_process_id().unwrap(), peer.pid());
        assert_eq!(peer.expect("server-pid"), std::process::id().to_string());
        let mut buf = vec![0u8; 1 << 20];
        for i in 0..COUNT {
            let got = server.read_message(&mut buf).await.unwrap();
            let want = payload(i, PEER_SIZES[i % PEER_SIZES.len()]);
            assert_eq!(got, MessageRead::Complete(want.len()), "message {i}");
            assert!(buf[..want.len()] == want[..], "message {i} differs");
            server.write_message(&want).await.unwrap();
        }
        assert_eq!(peer.expect("exchanged"), COUNT.to_string());
        let err = server.read_message(&mut buf).await.unwrap_err();
        assert!(matches!(err, Error::BrokenPipe), "{err}");
        tokio::task::spawn_blocking(move || peer.finish())
            .await
            .unwrap();
    });
}

#[test]
fn blocking_server_process_serves_an_async_client() {
    let root = TestRoot::new("interop-async-client");
    let name = r"\\.\pipe\interop-async-client";
    let peer = Peer::spawn(&root, &["blocking-server", name]);
    assert_eq!(peer.expect("listening"), "");
    run(async {
        let client = NamedPipeClient::open(&root.client(), name).unwrap();
        assert_eq!(client.server_process_id().unwrap(), peer.pid());
        let mut buf = vec![0u8; 1 << 20];
        for i in 0..COUNT {
            let msg = payload(i, PEER_SIZES[i % PEER_SIZES.len()]);
            client.write_message(&msg).await.unwrap();
            let got = client.read_message(&mut buf).await.unwrap();
            assert_eq!(got, MessageRead::Complete(msg.len()), "message {i}");
            assert!(buf[..msg.len()] == msg[..], "message {i} differs");
        }
        client.flush().await.unwrap();
    });
    assert_eq!(peer.expect("client-pid"), std::process::id().to_string());
    assert_eq!(peer.expect("served"), COUNT.to_string());
    peer.finish();
}

#[test]
fn async_server_process_serves_an_async_client_process() {
    let root = TestRoot::new("interop-async-both");
    let name = r"\\.\pipe\interop-async-both";
    let server = Peer::spawn(&root, &["async-server", name]);
    assert_eq!(server.expect("listening"), "");
    let client = Peer::spawn(&root, &["async-client", name, &COUNT.to_string()]);
    assert_eq!(client.expect("server-pid"), server.pid().to_string());
    assert_eq!(client.expect("exchanged"), COUNT.to_string());
    assert_eq!(server.expect("client-pid"), client.pid().to_string());
    client.finish();
    assert_eq!(server.expect("served"), COUNT.to_string());
    server.finish();
}

#[test]
fn blocking_client_waits_for_the_async_server_instance() {
    // The blocking client's WaitNamedPipe wakes when the async server
    // listens again after a disconnect.
    let root = TestRoot::new("interop-wait");
    let name = r"\\.\pipe\interop-wait";
    run(async {
        let server = NamedPipeServer::create(root.server().max_instances(1), name).unwrap();
        let first = NamedPipeClient::open(&root.client(), name).unwrap();
        server.connect().await.unwrap();
        let peer = Peer::spawn(&root, &["blocking-client", name, "3"]);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        server.disconnect().unwrap();
        drop(first);
        server.connect().await.unwrap();
        assert_eq!(server.client_process_id().unwrap(), peer.pid());
        let mut buf = vec![0u8; 1 << 20];
        for _ in 0..3 {
            let got = server.read_message(&mut buf).await.unwrap();
            server.write_message(&buf[..got.len()]).await.unwrap();
        }
        assert_eq!(peer.expect("server-pid"), std::process::id().to_string());
        assert_eq!(peer.expect("exchanged"), "3");
        tokio::task::spawn_blocking(move || peer.finish())
            .await
            .unwrap();
    });
}
