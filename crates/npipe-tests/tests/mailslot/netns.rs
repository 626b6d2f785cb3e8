//! A small LAN made of network namespaces: a switch namespace holding a
//! bridge, and one namespace per host, each with a veth port on the bridge,
//! an address in 10.213.77.0/24 and a route for multicast. The namespaces
//! are this test's own; nothing is added to the machine's own network
//! namespace, and the guard deletes them all on drop, even on failure.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::PEER;

/// One host of the LAN.
pub struct Host {
    pub ns: String,
    pub name: String,
    pub domain: String,
    pub addr: Ipv4Addr,
}

/// The LAN; dropping it deletes every namespace it made.
pub struct Lan {
    made: Vec<String>,
    pub hosts: Vec<Host>,
    pub port: u16,
}

impl Lan {
    /// Builds the LAN, or says why it cannot. `hosts` are (name, domain).
    pub fn build(hosts: &[(&str, &str)]) -> Result<Lan, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "npms{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut lan = Lan {
            made: Vec::new(),
            hosts: Vec::new(),
            port: 47138,
        };
        let sw = format!("{prefix}sw");
        lan.add_ns(&sw)?;
        ip(&["-n", &sw, "link", "set", "lo", "up"])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        // Flood multicast to every port: there is no IGMP querier here.
        ip(&[
            "-n",
            &sw,
            "link",
            "set",
            "br0",
            "type",
            "bridge",
            "mcast_snooping",
            "0",
        ])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for (k, (name, domain)) in hosts.iter().enumerate() {
            let ns = format!("{prefix}h{k}");
            let port = format!("p{k}");
            let addr = Ipv4Addr::new(10, 213, 77, k as u8 + 1);
            lan.add_ns(&ns)?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &sw, "link", "set", &port, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "route", "add", "224.0.0.0/4", "dev", "eth0"])?;
            lan.hosts.push(Host {
                ns,
                name: name.to_string(),
                domain: domain.to_string(),
                addr,
            });
        }
        for host in &lan.hosts {
            wait_link_up(&host.ns)?;
        }
        Ok(lan)
    }

    /// The LAN, or `None` after saying loudly why the test is skipped. On
    /// CI (`CI` set) a LAN that cannot be built fails the test instead.
    pub fn build_or_skip(test: &str, hosts: &[(&str, &str)]) -> Option<Lan> {
        match Lan::build(hosts) {
            Ok(lan) => Some(lan),
            Err(why) if std::env::var_os("CI").is_some() => {
                panic!("{test}: cannot build the test LAN on CI: {why}")
            }
            Err(why) => {
                eprintln!();
                eprintln!("**********************************************************");
                eprintln!("SKIPPED: {test}: cannot build network namespaces: {why}");
                eprintln!("(needs root and iproute2; on CI this is a failure)");
                eprintln!("**********************************************************");
                None
            }
        }
    }

    /// A command running the helper on host `k`, with its own namespace
    /// root under `roots` and its own name, domain and port.
    pub fn peer(&self, k: usize, roots: &Path, args: &[&str]) -> Command {
        let host = &self.hosts[k];
        let root: PathBuf = roots.join(&host.name);
        std::fs::create_dir_all(&root).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.ns, PEER])
            .args(args)
            .env("NPIPE_ROOT", root)
            .env("NPIPE_MAILSLOT_HOST", &host.name)
            .env("NPIPE_MAILSLOT_DOMAIN", &host.domain)
            .env("NPIPE_MAILSLOT_PORT", self.port.to_string())
            .env_remove("NPIPE_MAILSLOT_INTERFACE")
            .env_remove("NPIPE_MAILSLOT_GROUP_BASE");
        cmd
    }

    fn add_ns(&mut self, ns: &str) -> Result<(), String> {
        ip(&["netns", "add", ns])?;
        self.made.push(ns.to_owned());
        Ok(())
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Deleting a namespace deletes its interfaces, bridge and veths.
        for ns in self.made.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
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

/// Waits (at most 5 s) until `eth0` in `ns` has a carrier.
fn wait_link_up(ns: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show", "eth0"])
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&out.stdout).contains("LOWER_UP") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("eth0 in {ns} never came up"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
