//! Two hosts made of network namespaces: npiped in one, a client process
//! in the other, joined by a veth pair with addresses in 10.213.7.0/24,
//! a subnet that exists only inside these namespaces. The guard deletes
//! both namespaces on drop, even on failure. Without root or iproute2 the
//! test prints SKIPPED (and fails when CI is set).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use npipe::{Error, PipeMode};

use crate::support::*;

/// The two namespaces; dropping them deletes them (and the veth pair).
struct TwoHosts {
    made: Vec<String>,
    server_ns: String,
    client_ns: String,
}

const SERVER_IP: &str = "10.213.7.1";
const CLIENT_IP: &str = "10.213.7.2";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl TwoHosts {
    fn build() -> Result<TwoHosts, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "npdx{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut hosts = TwoHosts {
            made: Vec::new(),
            server_ns: format!("{prefix}s"),
            client_ns: format!("{prefix}c"),
        };
        for ns in [hosts.server_ns.clone(), hosts.client_ns.clone()] {
            ip(&["netns", "add", &ns])?;
            hosts.made.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        let (s, c) = (&hosts.server_ns, &hosts.client_ns);
        ip(&[
            "-n", s, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", c,
        ])?;
        ip(&[
            "-n",
            s,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CLIENT_IP}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", s, "link", "set", "eth0", "up"])?;
        ip(&["-n", c, "link", "set", "eth0", "up"])?;
        Ok(hosts)
    }

    /// Cuts the link on the client's side.
    fn cut(&self) {
        ip(&["-n", &self.client_ns, "link", "set", "eth0", "down"]).unwrap();
    }
}

impl Drop for TwoHosts {
    fn drop(&mut self) {
        for ns in &self.made {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn two_hosts() -> Option<TwoHosts> {
    match TwoHosts::build() {
        Ok(hosts) => Some(hosts),
        Err(why) => {
            eprintln!("\n*** SKIPPED: cannot make network namespaces ({why}) ***\n");
            if std::env::var_os("CI").is_some() {
                panic!("network namespaces are required under CI: {why}");
            }
            None
        }
    }
}

#[test]
fn a_client_on_another_host_uses_a_pipe_then_the_link_is_cut() {
    let Some(hosts) = two_hosts() else { return };
    let dir = TestDir::new("netns");
    let root = dir.path.join("ns");
    std::fs::create_dir_all(&root).unwrap();
    let certs =
        npiped::generate_test_certificates(&dir.path.join("certs"), &[SERVER_IP.into()], "carol")
            .unwrap();
    let config = write_config(&dir.path, &root, &certs, &Auth::Ca);
    // npiped in the server's namespace; the pipe server here (namespaces
    // share the file system, so the pipe namespace is the same).
    let _daemon = Daemon::start(
        &config,
        SERVER_IP,
        &dir.path,
        &["--idle-timeout", "1.5"],
        Some(&hosts.server_ns),
    );
    let server = npipe::ServerOptions::new()
        .root(&root)
        .reject_remote_clients(false)
        .pipe_mode(PipeMode::Message)
        .create(r"\\.\pipe\across")
        .unwrap();
    let env = vec![
        ("T_PORT", _daemon.addr.port().to_string()),
        ("T_ADDRESS", SERVER_IP.to_string()),
        ("T_CA", certs.ca_cert.display().to_string()),
        ("T_CERT", certs.client_cert.display().to_string()),
        ("T_KEY", certs.client_key.display().to_string()),
        ("T_NAME", format!(r"\\{SERVER_IP}\pipe\across")),
    ];
    let child = ChildProc::spawn(
        "netns-client",
        &env,
        &["ip", "netns", "exec", &hosts.client_ns],
        None,
    );
    let echo = std::thread::spawn(move || {
        server.connect().unwrap();
        let remote = server.remote_client().unwrap().unwrap();
        assert!(remote.address.starts_with(CLIENT_IP), "{}", remote.address);
        let mut msg = Vec::new();
        for _ in 0..3 {
            msg.clear();
            server.read_message_to_end(&mut msg).unwrap();
            server.write_message(&msg).unwrap();
        }
        // The link is cut next: npiped's idle time-out frees the instance.
        let started = Instant::now();
        let err = server.read_message(&mut [0u8; 8]).unwrap_err();
        (err, started.elapsed())
    });
    for i in 0..3 {
        assert_eq!(
            child.expect(Duration::from_secs(30)),
            format!("reply ping {i}")
        );
    }
    assert_eq!(child.expect(Duration::from_secs(10)), "waiting");
    hosts.cut();
    let ended = child.expect(Duration::from_secs(20));
    assert!(ended.contains("ERROR_PIPE_NOT_CONNECTED"), "{ended}");
    let (err, took) = within(Duration::from_secs(20), move || echo.join().unwrap());
    assert!(matches!(err, Error::BrokenPipe), "{err}");
    assert!(took < Duration::from_secs(10), "the server waited {took:?}");
}
