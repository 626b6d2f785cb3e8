//! The entry point of helper processes: this test binary run again with
//! `NPIPED_TEST_CHILD` set (see `support::ChildProc`). Each role reports
//! on stdout with lines starting `CHILD: `.

use std::io::Write;
use std::time::{Duration, Instant};

use npipe::net::relay::RelayPipe;
use npipe::net::{RemoteClient, RemoteOptions};
use npipe::proto::remote::{FrameDecoder, Link, LinkConfig, Role};
use npipe::{ClientOptions, PipeMode, ReadMode};

fn say(line: impl std::fmt::Display) {
    println!("CHILD: {line}");
    let _ = std::io::stdout().flush();
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// Remote settings from the environment the parent set.
fn remote() -> RemoteOptions {
    let mut r = RemoteOptions::new();
    r.port(var("T_PORT").parse().unwrap())
        .address(var("T_ADDRESS"))
        .ca_file(var("T_CA"))
        .client_cert_files(var("T_CERT"), var("T_KEY"))
        .connect_timeout(Duration::from_secs(5));
    r
}

#[test]
fn entry() {
    let Ok(role) = std::env::var("NPIPED_TEST_CHILD") else {
        return; // an ordinary test run: nothing to do
    };
    match role.as_str() {
        "fake-claim" => fake_claim(),
        "write-big" => write_big(),
        "netns-client" => netns_client(),
        other => panic!("unknown role {other}"),
    }
}

/// A local process (not a trusted relay) that claims to speak for a
/// remote client.
fn fake_claim() {
    let mut options = ClientOptions::new();
    options.root(var("T_ROOT"));
    let client = RemoteClient::new("admin", "forged", "192.0.2.1:1");
    let pipe = match RelayPipe::open(&options, &var("T_PATH"), true, true, &client) {
        Ok(pipe) => pipe,
        Err(e) => return say(format!("open failed: {e}")),
    };
    say("opened");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let end = rt.block_on(async {
        let (near, _far) = tokio::io::duplex(1 << 16);
        let link = Link::new(
            LinkConfig {
                role: Role::Server,
                max_send_frame: 1 << 16,
                recv_window: 1 << 16,
                send_window: 1 << 16,
                idle_timeout: Duration::from_secs(30),
                ping_interval: None,
            },
            FrameDecoder::new(1 << 16),
            Instant::now(),
        );
        tokio::time::timeout(
            Duration::from_secs(10),
            pipe.relay(near, link, std::future::pending()),
        )
        .await
    });
    match end {
        Ok(end) => say(format!("ended: {end}")),
        Err(_) => say("still connected"),
    }
}

/// Opens a remote message pipe and writes a message far larger than the
/// network window; the parent kills it midway.
fn write_big() {
    let mut options = ClientOptions::new();
    options.remote(remote());
    let client = options.open(var("T_NAME")).unwrap();
    say("writing");
    let big = vec![0x5a_u8; 32 << 20];
    let _ = client.write_message(&big);
    say("written");
    std::thread::sleep(Duration::from_secs(60));
}

/// Runs in the client's network namespace: a few transactions, then a
/// read that waits while the parent cuts the link.
fn netns_client() {
    let mut options = ClientOptions::new();
    options.remote(remote()).read_mode(ReadMode::Message);
    let client = match options.open_timeout(var("T_NAME"), Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => return say(format!("open failed: {e}")),
    };
    for i in 0..3 {
        let mut out = [0u8; 64];
        let msg = format!("ping {i}");
        match client.transact(msg.as_bytes(), &mut out) {
            Ok(got) => say(format!(
                "reply {}",
                String::from_utf8_lossy(&out[..got.len()])
            )),
            Err(e) => return say(format!("transact failed: {e}")),
        }
    }
    let info = client.info().unwrap();
    assert_eq!(info.pipe_mode, PipeMode::Message);
    say("waiting");
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let result = client.read_message(&mut buf);
    say(format!(
        "read ended after {} ms: {}",
        started.elapsed().as_millis(),
        match result {
            Ok(r) => format!("data {r:?}"),
            Err(e) => format!("{} {e}", e.win32_name()),
        }
    ));
}
