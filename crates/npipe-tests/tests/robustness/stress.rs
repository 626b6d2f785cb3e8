//! Several processes creating instances of and opening the same few names
//! at once: every operation gives a Win32 answer that fits, every connected
//! pair exchanges data intact, and the namespace ends up empty.

use crate::support::TestRoot;

const PROCESSES: usize = 4;
const OPS_PER_PROCESS: usize = 200;

#[test]
fn concurrent_creates_and_opens_keep_the_namespace_consistent() {
    let root = TestRoot::new("stress");
    let ops = OPS_PER_PROCESS.to_string();
    let mut peers: Vec<_> = (0..PROCESSES)
        .map(|i| root.peer(&["stress", &ops, &(i + 1).to_string()]))
        .collect();
    // The peers check every answer and every echo themselves and print
    // "fail ..." on anything unexpected, which `expect` reports.
    let summaries: Vec<String> = peers
        .iter_mut()
        .map(|peer| peer.expect_value("clients-done"))
        .collect();
    // Only now may the servers close their idle instances: no client is
    // left that could find its server gone mid-exchange.
    for peer in &mut peers {
        peer.close_stdin();
    }
    let mut opened = 0;
    let mut created = 0;
    for peer in &mut peers {
        let done = peer.expect_value("done");
        println!("peer {}: {done}", peer.pid());
        opened += count(&done, "opened");
        created += count(&done, "created");
        peer.finish();
    }
    assert!(opened > 0 && created > 0, "nothing happened: {summaries:?}");
    root.assert_empty();
}

/// The number after `key=` in a summary line.
fn count(summary: &str, key: &str) -> usize {
    summary
        .split_whitespace()
        .find_map(|field| field.strip_prefix(&format!("{key}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {summary:?}"))
}
