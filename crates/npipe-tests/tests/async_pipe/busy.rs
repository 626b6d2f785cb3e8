//! Busy instances, waits and their time-outs, and disconnects while many
//! clients are busy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use npipe::tokio::{NamedPipeClient, NamedPipeServer, PipeListener};
use npipe::{win32, Error, MessageRead, WaitTimeout};

use crate::support::{run, TestRoot};

#[test]
fn busy_instance_then_open_wait_takes_the_next_one() {
    let root = TestRoot::new("busy-open-wait");
    let name = r"\\.\pipe\busy-open-wait";
    run(async {
        let server = NamedPipeServer::create(root.server().max_instances(1), name).unwrap();
        let first = NamedPipeClient::open(&root.client(), name).unwrap();
        server.connect().await.unwrap();
        let err = NamedPipeClient::open(&root.client(), name).unwrap_err();
        assert_eq!(err.win32_code(), win32::ERROR_PIPE_BUSY, "{err}");
        let waiting = tokio::spawn({
            let options = root.client();
            async move { NamedPipeClient::open_wait(&options, name, Duration::from_secs(10)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "waits while the only instance is busy"
        );
        server.disconnect().unwrap();
        drop(first);
        let (connected, second) = tokio::join!(server.connect(), waiting);
        connected.unwrap();
        let second = second.unwrap().unwrap();
        second.write_message(b"next").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::Complete(4)
        );
    });
}

#[test]
fn waits_time_out_with_sem_timeout_and_missing_pipes_fail_at_once() {
    let root = TestRoot::new("busy-timeouts");
    let name = r"\\.\pipe\busy-timeouts";
    run(async {
        let start = Instant::now();
        let err = NamedPipeClient::wait(&root.client(), r"\\.\pipe\nobody", WaitTimeout::Forever)
            .await
            .unwrap_err();
        assert_eq!(err.win32_code(), win32::ERROR_FILE_NOT_FOUND, "{err}");
        assert!(start.elapsed() < Duration::from_secs(1));

        let mut options = root.server();
        options
            .max_instances(1)
            .default_timeout(Duration::from_millis(120));
        let server = NamedPipeServer::create(&options, name).unwrap();
        let _client = NamedPipeClient::open(&root.client(), name).unwrap();
        server.connect().await.unwrap();

        let start = Instant::now();
        let err = NamedPipeClient::wait(&root.client(), name, Duration::from_millis(80))
            .await
            .unwrap_err();
        assert_eq!(err.win32_code(), win32::ERROR_SEM_TIMEOUT, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(80));

        let start = Instant::now();
        let err = NamedPipeClient::wait(&root.client(), name, WaitTimeout::Default)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        assert!(
            start.elapsed() >= Duration::from_millis(120),
            "the pipe's default time-out"
        );

        let err = NamedPipeClient::open_wait(&root.client(), name, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        let mut out = [0u8; 4];
        let err = NamedPipeClient::call(
            &root.client(),
            name,
            b"x",
            &mut out,
            Duration::from_millis(50),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
    });
}

#[test]
fn a_nowait_server_reports_pipe_listening() {
    let root = TestRoot::new("busy-nowait");
    let name = r"\\.\pipe\busy-nowait";
    run(async {
        let server = NamedPipeServer::create(root.server().nowait(true), name).unwrap();
        assert!(matches!(server.connect().await, Err(Error::PipeListening)));
        assert!(!server.is_connected());
        let _client = NamedPipeClient::open(&root.client(), name).unwrap();
        server.connect().await.unwrap();
        assert!(server.is_connected());
    });
}

#[test]
fn the_listener_stays_within_max_instances() {
    let root = TestRoot::new("busy-listener-limit");
    let name = r"\\.\pipe\busy-listener-limit";
    run(async {
        let mut options = root.server();
        options.max_instances(3);
        let mut listener = PipeListener::bind(&options, name).unwrap();
        let clients: Vec<_> = (0..12u8)
            .map(|id| {
                let options = root.client();
                tokio::spawn(async move {
                    let client =
                        NamedPipeClient::open_wait(&options, name, Duration::from_secs(20))
                            .await
                            .unwrap();
                    let mut out = [0u8; 4];
                    let got = client.transact(&[id], &mut out).await.unwrap();
                    assert_eq!(&out[..got.len()], &[id]);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                })
            })
            .collect();
        let mut handlers = Vec::new();
        for _ in 0..12 {
            let server = listener.accept().await.unwrap();
            assert!(server.info().unwrap().current_instances <= 3);
            handlers.push(tokio::spawn(async move {
                let mut buf = [0u8; 4];
                let got = server.read_message(&mut buf).await.unwrap();
                server.write_message(&buf[..got.len()]).await.unwrap();
                let err = server.read_message(&mut buf).await.unwrap_err();
                assert!(matches!(err, Error::BrokenPipe), "{err}");
            }));
        }
        for c in clients {
            c.await.unwrap();
        }
        for h in handlers {
            h.await.unwrap();
        }
    });
}

#[test]
fn disconnects_under_load_end_only_their_own_clients() {
    let root = TestRoot::new("busy-disconnect-load");
    let name = r"\\.\pipe\busy-disconnect-load";
    run(async {
        let mut listener = PipeListener::bind(&root.server(), name).unwrap();
        const CLIENTS: usize = 40;
        const MESSAGES: usize = 200;
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let options = root.client();
                tokio::spawn(async move {
                    let client =
                        NamedPipeClient::open_wait(&options, name, Duration::from_secs(20))
                            .await
                            .unwrap();
                    client.write_message(&[id as u8]).await.unwrap();
                    let mut buf = vec![0u8; 70_000];
                    let mut got_messages = 0;
                    loop {
                        match client.read_message(&mut buf).await {
                            Ok(MessageRead::Complete(n)) => {
                                assert_eq!(n, 1000 + got_messages * 300);
                                assert!(buf[..n].iter().all(|&b| b == id as u8));
                                got_messages += 1;
                                if got_messages == MESSAGES {
                                    return (id, got_messages, None);
                                }
                            }
                            Ok(other) => panic!("{other:?}"),
                            Err(e) => return (id, got_messages, Some(e)),
                        }
                    }
                })
            })
            .collect();
        let mut servers = Vec::new();
        for _ in 0..CLIENTS {
            let server = Arc::new(listener.accept().await.unwrap());
            let mut hello = [0u8; 1];
            let _ = server.read_message(&mut hello).await.unwrap();
            let id = hello[0] as usize;
            let writer = Arc::clone(&server);
            let task = tokio::spawn(async move {
                for i in 0..MESSAGES {
                    let msg = vec![id as u8; 1000 + i * 300];
                    if writer.write_message(&msg).await.is_err() {
                        break;
                    }
                }
            });
            servers.push((id, server, task));
        }
        // Disconnect every third client while the data flows.
        tokio::time::sleep(Duration::from_millis(5)).await;
        for (id, server, _) in &servers {
            if id % 3 == 0 {
                server.disconnect().unwrap();
            }
        }
        for c in clients {
            let (id, got, err) = c.await.unwrap();
            if id % 3 == 0 {
                if let Some(err) = err {
                    assert!(matches!(err, Error::PipeNotConnected), "client {id}: {err}");
                } // or it had read everything before the disconnect
            } else {
                assert!(err.is_none(), "client {id} got {err:?} after {got}");
                assert_eq!(got, MESSAGES);
            }
        }
        for (_, _, task) in servers {
            task.await.unwrap();
        }
    });
}
