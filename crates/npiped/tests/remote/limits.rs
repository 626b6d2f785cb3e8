//! The connection limit and the per-address rate of opens.

use std::time::Duration;

use npipe::Error;

use crate::support::*;

#[test]
fn connections_beyond_the_limit_are_closed_until_one_ends() {
    let w = World::with("max-conn", Auth::Ca, &["--max-connections", "2"]);
    let _servers: Vec<_> = (0..3)
        .map(|_| w.server().create(r"\\.\pipe\limited").unwrap())
        .collect();
    let options = w.client();
    let first = options.open(r"\\localhost\pipe\limited").unwrap();
    let _second = options.open(r"\\localhost\pipe\limited").unwrap();
    let third = options.open(r"\\localhost\pipe\limited");
    assert!(matches!(third, Err(Error::Io(_))), "{third:?}");
    assert!(w.daemon.log_text().contains("connection limit reached"));
    drop(first);
    // The slot frees once the relay has ended (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match options.open(r"\\localhost\pipe\limited") {
            Ok(_) => break,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("no slot came free: {e}"),
        }
    }
}

#[test]
fn too_many_opens_from_one_address_are_refused() {
    let w = World::with_limits(
        "rate",
        Auth::Ca,
        "opens_per_second = 1\nopen_burst = 2\n",
        &[],
    );
    let _server = w.server().create(r"\\.\pipe\rated").unwrap();
    let options = w.client();
    let mut refused = None;
    for _ in 0..4 {
        match options.wait(r"\\localhost\pipe\rated", Duration::from_millis(10)) {
            Ok(()) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let e = refused.expect("the rate limit never refused");
    assert_eq!(e.win32_code(), npipe::win32::ERROR_REQ_NOT_ACCEP, "{e}");
    assert!(e.to_string().contains("ERROR_REQ_NOT_ACCEP"), "{e}");
    assert!(w.daemon.log_text().contains("too many opens"));
    // Logs into a file (not a terminal) carry no colour codes.
    assert!(
        !w.daemon.log_text().contains('\u{1b}'),
        "ANSI codes in the log"
    );
}
