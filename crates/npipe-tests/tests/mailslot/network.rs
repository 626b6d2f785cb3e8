//! Mailslots across the network, on a LAN of network namespaces: four
//! hosts, h1 to h3 in domain ALPHA and h4 in BETA, each running a reader of
//! `\\.\mailslot\news` in its own process; h2 also runs a reader of
//! `\\.\mailslot\secure` that requires signed datagrams (two mailslots
//! sharing the port on one host).

use npipe::mailslot::NetworkOptions;
use npipe::win32::ERROR_INVALID_PARAMETER;

use crate::netns::Lan;
use crate::support::{Peer, TestRoot};

const HOSTS: [(&str, &str); 4] = [
    ("h1", "ALPHA"),
    ("h2", "ALPHA"),
    ("h3", "ALPHA"),
    ("h4", "BETA"),
];
const KEY: &str = "shared-secret";
/// How long a reader waits for one more message before it reports.
const QUIET_MS: &str = "400";

struct Readers {
    news: Vec<Peer>,
    secure: Peer,
}

impl Readers {
    /// What each `news` reader received since the last call, in host order.
    fn news(&mut self) -> Vec<Vec<String>> {
        for r in &mut self.news {
            r.tell(&format!("collect {QUIET_MS}"));
        }
        self.news.iter().map(collected).collect()
    }

    fn secure(&mut self) -> Vec<String> {
        self.secure.tell(&format!("collect {QUIET_MS}"));
        collected(&self.secure)
    }
}

fn collected(reader: &Peer) -> Vec<String> {
    let mut got = Vec::new();
    loop {
        let line = reader.line();
        if let Some(msg) = line.strip_prefix("msg ") {
            got.push(msg.to_owned());
        } else {
            assert_eq!(line, format!("end {}", got.len()));
            return got;
        }
    }
}

fn dropped(reader: &mut Peer) -> String {
    reader.tell("info");
    let line = reader.line();
    line.rsplit(' ').next().unwrap().to_owned()
}

/// `expected[k]` lists what host k's reader must have received.
fn assert_news(readers: &mut Readers, step: &str, expected: [&[&str]; 4]) {
    let got = readers.news();
    for (k, want) in expected.iter().enumerate() {
        assert_eq!(got[k], *want, "{step}: what {} received", HOSTS[k].0);
    }
}

#[test]
fn datagrams_reach_exactly_the_hosts_and_domains_they_name() {
    let Some(lan) = Lan::build_or_skip("network mailslots", &HOSTS) else {
        return;
    };
    let roots = TestRoot::new("network");
    let send = |from: usize, args: &[&str]| -> Vec<String> {
        let mut all = vec!["send"];
        all.extend_from_slice(args);
        Peer::run(
            lan.peer(from, roots.path(), &all),
            &format!("sender on h{}", from + 1),
        )
    };

    let news: Vec<Peer> = (0..HOSTS.len())
        .map(|k| {
            let cmd = lan.peer(
                k,
                roots.path(),
                &["serve", r"\\.\mailslot\news", "--network"],
            );
            let reader = Peer::spawn(cmd, &format!("news reader on {}", HOSTS[k].0));
            reader.expect("ready");
            reader
        })
        .collect();
    let args = ["serve", r"\\.\mailslot\secure", "--network", "--key", KEY];
    let secure = Peer::spawn(lan.peer(1, roots.path(), &args), "secure reader on h2");
    secure.expect("ready");
    let mut readers = Readers { news, secure };

    // \\*: every mailslot of the name in the sender's domain, its own
    // host included.
    assert_eq!(send(0, &[r"\\*\mailslot\news", "alpha-wide"]), ["ok"]);
    assert_news(
        &mut readers,
        "* from h1",
        [&["alpha-wide"], &["alpha-wide"], &["alpha-wide"], &[]],
    );
    assert_eq!(send(3, &[r"\\*\mailslot\news", "beta-wide"]), ["ok"]);
    assert_news(&mut readers, "* from h4", [&[], &[], &[], &["beta-wide"]]);

    // \\HOST: that host only, whatever the case of its name.
    assert_eq!(send(0, &[r"\\H2\mailslot\NEWS", "for-h2"]), ["ok"]);
    assert_news(&mut readers, "directed to h2", [&[], &["for-h2"], &[], &[]]);

    // \\DOMAIN: every host of that domain, and only those.
    assert_eq!(send(0, &[r"\\beta\mailslot\news", "for-beta"]), ["ok"]);
    assert_news(
        &mut readers,
        "to domain BETA",
        [&[], &[], &[], &["for-beta"]],
    );
    assert_eq!(send(3, &[r"\\ALPHA\mailslot\news", "for-alpha"]), ["ok"]);
    assert_news(
        &mut readers,
        "to domain ALPHA",
        [&["for-alpha"], &["for-alpha"], &["for-alpha"], &[]],
    );

    // \\a.b.c.d: unicast to that address.
    let h3 = format!(r"\\{}\mailslot\news", lan.hosts[2].addr);
    assert_eq!(send(0, &[&h3, "by-address"]), ["ok"]);
    assert_news(
        &mut readers,
        "to h3's address",
        [&[], &[], &["by-address"], &[]],
    );

    // 424 bytes cross the network; 425 are refused before anything is sent.
    assert_eq!(
        send(0, &[r"\\*\mailslot\news", "@425"]),
        [format!("error {ERROR_INVALID_PARAMETER}")]
    );
    assert_eq!(send(0, &[r"\\*\mailslot\news", "@424"]), ["ok"]);
    let got = readers.news();
    for k in 0..3 {
        assert_eq!(got[k], ["x".repeat(424)], "424 bytes to {}", HOSTS[k].0);
    }
    assert!(got[3].is_empty());

    // A mailslot with a key takes only datagrams signed with it; the
    // others are dropped and counted. The news reader on the same host
    // neither receives nor counts them: they are not for it.
    assert_eq!(send(2, &[r"\\h2\mailslot\secure", "unsigned"]), ["ok"]);
    assert_eq!(
        send(2, &[r"\\h2\mailslot\secure", "--key", "guess", "forged"]),
        ["ok"]
    );
    assert_eq!(
        send(2, &[r"\\h2\mailslot\secure", "--key", KEY, "signed"]),
        ["ok"]
    );
    assert_eq!(readers.secure(), ["signed"]);
    assert_eq!(dropped(&mut readers.secure), "dropped=2");
    assert_news(
        &mut readers,
        "signed traffic to secure",
        [&[], &[], &[], &[]],
    );
    assert_eq!(dropped(&mut readers.news[1]), "dropped=0");

    // Garbage sent to h2's group is malformed for every mailslot there.
    let group = NetworkOptions::new().group_of("h2");
    let to = format!("{group}:{}", lan.port);
    let out = Peer::run(
        lan.peer(0, roots.path(), &["send-raw", &to, "NPMS garbage"]),
        "raw sender",
    );
    assert_eq!(out, ["ok"]);
    assert_news(&mut readers, "garbage", [&[], &[], &[], &[]]);
    assert_eq!(dropped(&mut readers.news[1]), "dropped=1");
    assert_eq!(dropped(&mut readers.secure), "dropped=3");
    assert_eq!(
        dropped(&mut readers.news[0]),
        "dropped=0",
        "h1 is not in h2's group"
    );
}
