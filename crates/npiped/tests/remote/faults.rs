//! Failures: the daemon or a client killed mid-message, and shutdown.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use npipe::{Error, PipeMode, ReadMode};

use crate::support::*;

#[test]
fn the_daemon_killed_mid_message_gives_a_clear_error_never_part_of_it() {
    let mut w = World::new("kill-daemon");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\big")
        .unwrap();
    let mut options = w.client();
    options.read_mode(ReadMode::Message);
    let client = options.open(r"\\localhost\pipe\big").unwrap();
    server.connect().unwrap();
    // A message far larger than the network window: it is mid-way when
    // the daemon dies, whatever the timing.
    let writer = std::thread::spawn(move || server.write_message(&vec![1u8; 32 << 20]));
    std::thread::sleep(Duration::from_millis(300));
    w.daemon.kill();
    let (err, got) = within(Duration::from_secs(20), move || {
        let mut got = Vec::new();
        let err = client.read_message_to_end(&mut got).unwrap_err();
        (err, got)
    });
    assert!(matches!(err, Error::PipeNotConnected), "{err}");
    assert!(
        got.is_empty(),
        "{} bytes of a partial message delivered",
        got.len()
    );
    // The server's write fails too, instead of hanging.
    let written = within(Duration::from_secs(20), move || writer.join().unwrap());
    assert!(written.is_err());
}

#[test]
fn a_client_killed_mid_message_frees_the_server_instance() {
    let w = World::new("kill-client");
    let server = w
        .server()
        .pipe_mode(PipeMode::Message)
        .max_instances(1)
        .create(r"\\.\pipe\victim")
        .unwrap();
    let env = vec![
        ("T_PORT", w.daemon.addr.port().to_string()),
        ("T_ADDRESS", "127.0.0.1".to_string()),
        ("T_CA", w.certs.ca_cert.display().to_string()),
        ("T_CERT", w.certs.client_cert.display().to_string()),
        ("T_KEY", w.certs.client_key.display().to_string()),
        ("T_NAME", r"\\localhost\pipe\victim".to_string()),
    ];
    let mut child = ChildProc::spawn("write-big", &env, &[], None);
    assert_eq!(child.expect(Duration::from_secs(20)), "writing");
    server.connect().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child.kill();
    let err = within(Duration::from_secs(20), move || {
        let mut got = Vec::new();
        let err = server.read_message_to_end(&mut got).unwrap_err();
        assert!(got.is_empty(), "a partial message was delivered");
        (err, server)
    });
    let (err, server) = err;
    assert!(matches!(err, Error::BrokenPipe), "{err}");
    // The instance serves the next client once it listens again.
    server.disconnect().unwrap();
    let listening = std::thread::spawn(move || {
        server.connect().unwrap();
        server
    });
    let next = w
        .client()
        .open_timeout(r"\\localhost\pipe\victim", Duration::from_secs(10))
        .unwrap();
    let server = within(Duration::from_secs(10), move || listening.join().unwrap());
    next.write_message(b"next").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(server.read_message(&mut buf).unwrap().len(), 4);
}

#[test]
fn sigterm_lets_open_connections_finish_within_the_grace_period() {
    let mut w = World::new("sigterm");
    let server = w.server().create(r"\\.\pipe\graceful").unwrap();
    let client = w.client().open(r"\\localhost\pipe\graceful").unwrap();
    server.connect().unwrap();
    let pid = w.daemon.child.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    // Wait (bounded) until it stopped accepting.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.daemon.log_text().contains("no new connections") {
        assert!(Instant::now() < deadline, "{}", w.daemon.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The open connection still works during the grace period (2 s) ...
    (&client).write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    (&server).read_exact(&mut buf).unwrap();
    // ... a new one does not ...
    assert!(w.client().open(r"\\localhost\pipe\graceful").is_err());
    // ... and after it the connection is ended and npiped exits.
    let err = within(Duration::from_secs(15), move || {
        let mut b = [0u8; 4];
        client.read_message(&mut b).unwrap_err()
    });
    assert!(matches!(err, Error::PipeNotConnected), "{err}");
    assert!(
        w.daemon.terminate(Duration::from_secs(10)),
        "npiped did not exit"
    );
}
