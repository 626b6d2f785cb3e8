//! Hostile input: random and truncated frames to a live daemon, which
//! closes each bad connection and keeps serving everyone else.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use npipe::proto::remote::{ClientHello, Frame, OpenRequest, WireWait};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::support::*;

/// A TLS client speaking raw bytes to the daemon.
fn tls_client(w: &World) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&w.certs.ca_cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(&w.certs.client_cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&w.certs.client_key).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    config.alpn_protocols = vec![npipe::net::ALPN.to_vec()];
    let conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let tcp = std::net::TcpStream::connect(w.daemon.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn hello() -> Vec<u8> {
    let mut out = Vec::new();
    Frame::ClientHello(ClientHello {
        version: 1,
        max_frame: 65536,
        window: 65536,
        token: String::new(),
        computer_name: "fuzz".into(),
    })
    .encode(&mut out);
    out
}

fn open(path: &str) -> Vec<u8> {
    let mut out = Vec::new();
    Frame::Open(OpenRequest {
        read: true,
        write: true,
        wait: WireWait::No,
        path: path.into(),
    })
    .encode(&mut out);
    out
}

/// Sends `bytes`, then reads until the daemon closes; fails if it does
/// not within the read time-out.
fn expect_closed(
    mut s: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    bytes: &[u8],
) {
    if s.write_all(bytes).and_then(|_| s.flush()).is_err() {
        return; // already closed
    }
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("the daemon kept a bad connection open: {e}")
            }
            Err(_) => return,
        }
    }
}

/// A small deterministic generator (xorshift), so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_and_truncated_frames_are_closed_and_others_still_served() {
    let w = World::new("hostile");
    let server = w.server().create(r"\\.\pipe\victim").unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut cases: Vec<Vec<u8>> = vec![
        // Not a hello at all.
        rng.bytes(3000),
        // A header announcing 4 GiB.
        vec![1, 0xff, 0xff, 0xff, 0xff],
        // A hello cut short, then silence is covered by the handshake
        // time-out; here the stream ends with it.
        hello()[..10].to_vec(),
        // A data frame before any request.
        [hello(), vec![8, 3, 0, 0, 0, 1, 2, 3]].concat(),
        // An unknown frame type after the hello.
        [hello(), vec![99, 0, 0, 0, 0]].concat(),
        // Open with a malformed path.
        [hello(), vec![3, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 9, 0]].concat(),
    ];
    for _ in 0..20 {
        let n = (rng.next() % 400) as usize;
        let mut bytes = hello();
        bytes.extend(rng.bytes(n));
        cases.push(bytes);
    }
    for (i, case) in cases.iter().enumerate() {
        let s = tls_client(&w);
        within(Duration::from_secs(30), {
            let case = case.clone();
            move || {
                let started = std::time::Instant::now();
                expect_closed(s, &case);
                eprintln!("case {i} closed after {:?}", started.elapsed());
            }
        });
        assert!(
            w.daemon.log_text().lines().count() > i,
            "nothing was logged for case {i}"
        );
    }
    // Garbage inside an open pipe: the relay refuses a bad message header
    // before the server sees it.
    let msg_server = w
        .server()
        .pipe_mode(npipe::PipeMode::Message)
        .create(r"\\.\pipe\framed")
        .unwrap();
    let mut s = tls_client(&w);
    s.write_all(&[hello(), open("framed")].concat()).unwrap();
    s.flush().unwrap();
    let mut data = Vec::new();
    Frame::Data(vec![0xff, 0xff, 0xff, 0x7f, 1, 2]).encode(&mut data);
    within(Duration::from_secs(30), move || expect_closed(s, &data));
    // The log line follows the close (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !w.daemon.log_text().contains("bad message stream") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            w.daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(msg_server);

    // The daemon is alive and serves a good client.
    let client = w.client().open(r"\\localhost\pipe\victim").unwrap();
    server.connect().unwrap();
    (&client).write_all(b"fine").unwrap();
    let mut buf = [0u8; 4];
    (&server).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"fine");
}

#[test]
fn random_bytes_over_plain_tcp_never_hurt_the_daemon() {
    let w = World::new("hostile-tcp");
    let mut rng = Rng(42);
    for round in 0..30 {
        let mut tcp = std::net::TcpStream::connect(w.daemon.addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let n = (rng.next() % 5000) as usize + 1;
        let bytes = rng.bytes(n);
        let _ = tcp.write_all(&bytes);
        let mut buf = [0u8; 512];
        loop {
            match tcp.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if round % 10 == 0 {
            // Truncated TLS: a real ClientHello's first bytes, then EOF.
            let mut tcp = std::net::TcpStream::connect(w.daemon.addr).unwrap();
            let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
        }
    }
    let server = w.server().create(r"\\.\pipe\after").unwrap();
    let _client = w.client().open(r"\\localhost\pipe\after").unwrap();
    server.connect().unwrap();
}
