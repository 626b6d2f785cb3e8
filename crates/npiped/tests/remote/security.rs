//! Who may connect: each refusal, and the relay trust.

use std::io::{Read, Write};
use std::time::Duration;

use npipe::Error;

use crate::support::*;

fn denied(result: npipe::Result<npipe::NamedPipeClient>) -> String {
    match result {
        Err(Error::AccessDenied { reason, .. }) => reason,
        Err(other) => panic!("expected ERROR_ACCESS_DENIED, got {other}"),
        Ok(_) => panic!("expected ERROR_ACCESS_DENIED, got a connection"),
    }
}

#[test]
fn a_client_without_a_certificate_is_refused_and_learns_nothing() {
    let w = World::new("no-cert");
    let _server = w.server().create(r"\\.\pipe\exists").unwrap();
    let mut remote = w.remote();
    remote.client_cert_pem(Vec::new(), Vec::new());
    let mut options = npipe::ClientOptions::new();
    let mut bare = npipe::net::RemoteOptions::new();
    bare.port(w.daemon.addr.port())
        .address("127.0.0.1")
        .ca_file(&w.certs.ca_cert);
    options.remote(bare);
    // The same answer whether the pipe exists or not.
    let a = denied(options.open(r"\\localhost\pipe\exists"));
    let b = denied(options.open(r"\\localhost\pipe\nothing-here"));
    assert_eq!(a, b);
    assert!(matches!(
        options.wait(r"\\localhost\pipe\exists", Duration::from_millis(10)),
        Err(Error::AccessDenied { .. })
    ));
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let w = World::new("other-ca");
    let _server = w.server().create(r"\\.\pipe\p").unwrap();
    let other = TestDir::new("other-ca-certs");
    let foreign =
        npiped::generate_test_certificates(&other.path, &["localhost".into()], "mallory").unwrap();
    let mut remote = w.remote();
    remote.client_cert_files(&foreign.client_cert, &foreign.client_key);
    let mut options = npipe::ClientOptions::new();
    options.remote(remote);
    denied(options.open(r"\\localhost\pipe\p"));
    // And a client that does not trust the server's CA refuses the server.
    let mut remote = w.remote();
    remote.ca_file(&foreign.ca_cert);
    options.remote(remote);
    let reason = denied(options.open(r"\\localhost\pipe\p"));
    assert!(reason.contains("does not trust"), "{reason}");
}

#[test]
fn tokens_right_and_wrong() {
    let w = World::with("token", Auth::Token(TOKEN), &[]);
    let server = w.server().create(r"\\.\pipe\tok").unwrap();
    let mut remote = npipe::net::RemoteOptions::new();
    remote
        .port(w.daemon.addr.port())
        .address("127.0.0.1")
        .ca_file(&w.certs.ca_cert)
        .token("not-the-token-at-all");
    let mut options = npipe::ClientOptions::new();
    options.remote(remote.clone());
    denied(options.open(r"\\localhost\pipe\tok"));
    remote.token(TOKEN);
    options.remote(remote);
    let client = options.open(r"\\localhost\pipe\tok").unwrap();
    server.connect().unwrap();
    assert_eq!(server.remote_principal().unwrap().as_deref(), Some("ci"));
    (&client).write_all(b"t").unwrap();
    let mut b = [0u8; 1];
    (&server).read_exact(&mut b).unwrap();
}

/// Client options that authenticate with [`TOKEN`] alone, no certificate.
fn token_client(w: &World) -> npipe::ClientOptions {
    let mut remote = npipe::net::RemoteOptions::new();
    remote
        .port(w.daemon.addr.port())
        .address("127.0.0.1")
        .ca_file(&w.certs.ca_cert)
        .token(TOKEN);
    let mut options = npipe::ClientOptions::new();
    options.remote(remote);
    options
}

#[test]
fn token_name_is_the_principal_of_the_token_file() {
    let w = World::with("token-name", Auth::TokenFile(Some("alice")), &[]);
    let server = w
        .server()
        .allow_remote_principal("alice")
        .create(r"\\.\pipe\alice-only")
        .unwrap();
    let client = token_client(&w)
        .open(r"\\localhost\pipe\alice-only")
        .unwrap();
    server.connect().unwrap();
    assert_eq!(server.remote_principal().unwrap().as_deref(), Some("alice"));
    (&client).write_all(b"t").unwrap();
    let mut b = [0u8; 1];
    (&server).read_exact(&mut b).unwrap();
}

#[test]
fn without_token_name_the_token_file_is_not_alice() {
    let w = World::with("token-default-name", Auth::TokenFile(None), &[]);
    let _server = w
        .server()
        .allow_remote_principal("alice")
        .create(r"\\.\pipe\alice-only")
        .unwrap();
    let reason = denied(token_client(&w).open(r"\\localhost\pipe\alice-only"));
    assert!(reason.contains("\"token\""), "{reason}");
}

#[test]
fn a_pipe_that_rejects_remote_clients_refuses_them() {
    let w = World::new("reject");
    // The default: remote clients rejected.
    let _server = npipe::ServerOptions::new()
        .root(&w.root)
        .create(r"\\.\pipe\local-only")
        .unwrap();
    let reason = denied(w.client().open(r"\\localhost\pipe\local-only"));
    assert!(reason.contains("rejects remote clients"), "{reason}");
    // An authenticated client may learn that a name does not exist.
    assert!(matches!(
        w.client().open(r"\\localhost\pipe\no-such-pipe"),
        Err(Error::FileNotFound { .. })
    ));
}

#[test]
fn a_principal_not_on_the_pipes_list_is_refused() {
    let w = World::new("principals");
    let _bob_only = w
        .server()
        .allow_remote_principal("bob")
        .create(r"\\.\pipe\bob-only")
        .unwrap();
    let reason = denied(w.client().open(r"\\localhost\pipe\bob-only"));
    assert!(reason.contains("alice"), "{reason}");
    let alice_too = w
        .server()
        .allow_remote_principal("bob")
        .allow_remote_principal("alice")
        .create(r"\\.\pipe\alice-too")
        .unwrap();
    let _client = w.client().open(r"\\localhost\pipe\alice-too").unwrap();
    alice_too.connect().unwrap();
}

#[test]
fn plain_tcp_is_refused() {
    let w = World::new("plain");
    let mut tcp = std::net::TcpStream::connect(w.daemon.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A client hello without TLS.
    let mut hello = Vec::new();
    npipe::proto::remote::Frame::ClientHello(npipe::proto::remote::ClientHello {
        version: 1,
        max_frame: 65536,
        window: 65536,
        token: TOKEN.into(),
        computer_name: "plain".into(),
    })
    .encode(&mut hello);
    tcp.write_all(&hello).unwrap();
    let mut buf = [0u8; 64];
    // The daemon answers with a TLS alert at most, then closes; never a frame.
    let mut got = Vec::new();
    loop {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        got.is_empty() || got[0] == 0x15,
        "unexpected answer {got:?}"
    );
}

#[test]
fn only_a_trusted_relay_may_claim_a_remote_client() {
    let w = World::new("relay-trust");
    // A pipe everyone may reach locally, accepting remote clients.
    let server = w
        .server()
        .allow_everyone(true)
        .nowait(true)
        .create(r"\\.\pipe\claims")
        .unwrap();
    let env = vec![
        ("T_ROOT", w.root.display().to_string()),
        ("T_PATH", "claims".to_string()),
    ];
    // uid 65534 (nobody) is not a trusted relay: its claim is refused.
    let child = ChildProc::spawn("fake-claim", &env, &[], Some(65534));
    assert_eq!(child.expect(Duration::from_secs(20)), "opened");
    assert!(matches!(server.connect(), Err(Error::PipeListening)));
    let end = child.expect(Duration::from_secs(20));
    assert!(end.contains("server closed"), "{end}");
    drop(server);

    // The same process, trusted by the server, is believed.
    let server = w
        .server()
        .allow_everyone(true)
        .trust_relay_uid(65534)
        .create(r"\\.\pipe\claims")
        .unwrap();
    let child = ChildProc::spawn("fake-claim", &env, &[], Some(65534));
    assert_eq!(child.expect(Duration::from_secs(20)), "opened");
    server.connect().unwrap();
    let remote = server.remote_client().unwrap().unwrap();
    assert_eq!(remote.principal, "admin");
}
