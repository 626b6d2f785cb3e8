//! The async front end's `wait`, `open_wait` and `call` with remote names:
//! `npiped` waits next to the pipe while the task awaits, never blocking
//! its runtime's thread.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use npipe::tokio::NamedPipeClient;
use npipe::{Error, PipeMode, WaitTimeout};

use crate::support::*;

#[test]
fn async_wait_and_open_wait_reach_a_remote_pipe() {
    let w = World::new("async-wait");
    let server = w
        .server()
        .max_instances(1)
        .create(r"\\.\pipe\await")
        .unwrap();
    let options = w.client();
    let first = options.open(r"\\localhost\pipe\await").unwrap();
    server.connect().unwrap();
    // One thread: a wait that blocked it would stop the ticker too.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ticks = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let err = NamedPipeClient::wait(
            &options,
            r"\\localhost\pipe\await",
            Duration::from_millis(500),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        assert!(
            ticks.load(Ordering::Relaxed) >= 3,
            "the runtime's thread was blocked during the remote wait"
        );
        ticker.abort();

        let err = NamedPipeClient::wait(&options, r"\\localhost\pipe\nobody", WaitTimeout::Forever)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::FileNotFound { .. }), "{err}");
        let err = NamedPipeClient::open_wait(
            &options,
            r"\\localhost\pipe\nobody",
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::FileNotFound { .. }), "{err}");
        let err = NamedPipeClient::open_wait(
            &options,
            r"\\localhost\pipe\await",
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
    });

    // The instance frees up while a task waits in open_wait.
    let freer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(first);
        server.disconnect().unwrap();
        server.connect().unwrap();
        let mut buf = [0u8; 5];
        (&server).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"again");
        (&server).write_all(b"ok").unwrap();
        server
    });
    rt.block_on(async {
        NamedPipeClient::wait(&options, r"\\localhost\pipe\await", Duration::from_secs(10))
            .await
            .unwrap();
        let client = NamedPipeClient::open_wait(
            &options,
            r"\\localhost\pipe\await",
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        client.write_message(b"again").await.unwrap();
        let mut buf = [0u8; 2];
        let got = tokio::time::timeout(Duration::from_secs(10), client.read_message(&mut buf))
            .await
            .expect("the read timed out")
            .unwrap();
        assert_eq!(&buf[..got.len()], b"ok");
    });
    freer.join().unwrap();
}

#[test]
fn async_call_reaches_a_remote_pipe() {
    let w = World::new("async-call");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\acall")
        .unwrap();
    let echo = reversing_echo(server, 1);
    let options = w.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = [0u8; 8];
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            NamedPipeClient::call(
                &options,
                r"\\localhost\pipe\acall",
                b"abc",
                &mut out,
                Duration::from_secs(5),
            ),
        )
        .await
        .expect("the call timed out")
        .unwrap();
        assert_eq!(&out[..got.len()], b"cba");
    });
    echo.join().unwrap();
}
