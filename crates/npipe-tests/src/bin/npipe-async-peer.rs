//! Peer process for `tests/async_pipe/`: one end of a message-pipe echo,
//! blocking or async, reporting on stdout one `key value` line per fact.
//!
//! ```text
//! npipe-async-peer blocking-server NAME   create, "listening", echo one client, "served N"
//! npipe-async-peer async-server NAME      the same with npipe::tokio
//! npipe-async-peer blocking-client NAME N open (waiting), N echoes checked, "exchanged N"
//! npipe-async-peer async-client NAME N    the same with npipe::tokio
//! ```
//!
//! Servers also print `client-pid P`, clients `server-pid P`. The
//! namespace root comes from `NPIPE_ROOT`. Message `i` has size
//! `SIZES[i % SIZES.len()]` and content `payload(i, size)`; the tests use
//! the same rule.

use std::io::Write;
use std::time::Duration;

use npipe::{ClientOptions, Error, PipeMode, ReadMode, ServerOptions, WaitTimeout};

/// Message sizes, cycled: empty, small, a page, larger than a socket
/// buffer (so writes go out in parts).
const SIZES: [usize; 6] = [0, 1, 100, 4096, 65_536, 300_000];

fn payload(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|k| ((i * 31 + k) % 251) as u8).collect()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("stdout");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.get(1).expect("NAME").clone();
    let count = |n: usize| -> usize { args.get(n).and_then(|s| s.parse().ok()).unwrap_or(0) };
    match args[0].as_str() {
        "blocking-server" => blocking_server(&name),
        "blocking-client" => blocking_client(&name, count(2)),
        "async-server" => runtime().block_on(async_server(&name)),
        "async-client" => runtime().block_on(async_client(&name, count(2))),
        other => panic!("unknown command {other}"),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn server_options() -> ServerOptions {
    let mut options = ServerOptions::new();
    options.pipe_mode(PipeMode::Message).max_instances(1);
    options
}

fn client_options() -> ClientOptions {
    let mut options = ClientOptions::new();
    options.read_mode(ReadMode::Message);
    options
}

fn blocking_server(name: &str) {
    let server = server_options().create(name).expect("create");
    say("listening");
    server.connect().expect("connect");
    say(&format!(
        "client-pid {}",
        server.client_process_id().expect("pid")
    ));
    let mut buf = vec![0u8; 1 << 20];
    let mut served = 0;
    loop {
        match server.read_message(&mut buf) {
            Ok(got) => {
                assert!(got.is_complete());
                server.write_message(&buf[..got.len()]).expect("echo");
                served += 1;
            }
            Err(Error::BrokenPipe) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    say(&format!("served {served}"));
}

async fn async_server(name: &str) {
    let server = npipe::tokio::NamedPipeServer::create(&server_options(), name).expect("create");
    say("listening");
    server.connect().await.expect("connect");
    say(&format!(
        "client-pid {}",
        server.client_process_id().expect("pid")
    ));
    let mut buf = vec![0u8; 1 << 20];
    let mut served = 0;
    loop {
        match server.read_message(&mut buf).await {
            Ok(got) => {
                assert!(got.is_complete());
                server.write_message(&buf[..got.len()]).await.expect("echo");
                served += 1;
            }
            Err(Error::BrokenPipe) => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    say(&format!("served {served}"));
}

fn blocking_client(name: &str, count: usize) {
    let options = client_options();
    let client = loop {
        match options.open(name) {
            Ok(client) => break client,
            Err(Error::PipeBusy { .. }) => options
                .wait(name, WaitTimeout::Duration(Duration::from_secs(20)))
                .expect("wait"),
            Err(e) => panic!("open: {e}"),
        }
    };
    say(&format!(
        "server-pid {}",
        client.server_process_id().expect("pid")
    ));
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..count {
        let msg = payload(i, SIZES[i % SIZES.len()]);
        client.write_message(&msg).expect("write");
        let got = client.read_message(&mut buf).expect("read");
        assert_eq!(got, npipe::MessageRead::Complete(msg.len()), "message {i}");
        assert!(buf[..msg.len()] == msg[..], "message {i} differs");
    }
    say(&format!("exchanged {count}"));
}

async fn async_client(name: &str, count: usize) {
    let client =
        npipe::tokio::NamedPipeClient::open_wait(&client_options(), name, Duration::from_secs(20))
            .await
            .expect("open");
    say(&format!(
        "server-pid {}",
        client.server_process_id().expect("pid")
    ));
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..count {
        let msg = payload(i, SIZES[i % SIZES.len()]);
        client.write_message(&msg).await.expect("write");
        let got = client.read_message(&mut buf).await.expect("read");
        assert_eq!(got, npipe::MessageRead::Complete(msg.len()), "message {i}");
        assert!(buf[..msg.len()] == msg[..], "message {i} differs");
    }
    say(&format!("exchanged {count}"));
}
