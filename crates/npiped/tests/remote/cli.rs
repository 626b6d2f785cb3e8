//! The npiped binary's command line: `certs`, and configuration errors.

use std::process::Command;

use crate::support::*;

#[test]
fn certs_writes_a_ca_a_server_and_a_client_certificate() {
    let dir = TestDir::new("cli-certs");
    let out = dir.path.join("certs");
    let status = Command::new(env!("CARGO_BIN_EXE_npiped"))
        .args(["certs", "--out"])
        .arg(&out)
        .args([
            "--host", "build01", "--host", "10.0.0.5", "--client", "alice",
        ])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    for file in [
        "ca.pem",
        "ca.key",
        "server.pem",
        "server.key",
        "client.pem",
        "client.key",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
}

#[test]
fn a_bad_configuration_names_the_file_and_the_key() {
    let dir = TestDir::new("cli-config");
    let path = dir.path.join("npiped.toml");
    std::fs::write(
        &path,
        "listen = \"not an address\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[auth]\nclient_ca = \"ca\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_npiped"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("npiped: "), "{err}");
    assert!(
        err.contains("npiped.toml") && err.contains("`listen`"),
        "{err}"
    );
}
