//! Child process for `tests/mailslot`: does one scripted thing with
//! mailslots and reports on stdout, one line per fact. The namespace root
//! and the network settings come from the environment (`NPIPE_ROOT`,
//! `NPIPE_MAILSLOT_*`).
//!
//! ```text
//! npipe-mailslot-peer hold NAME                    create NAME, print "ready", sleep 60 s
//! npipe-mailslot-peer open NAME                    open NAME for writing: "ok" or "error CODE"
//! npipe-mailslot-peer send NAME [--key K] TEXT...  open NAME, write each TEXT (or
//!                                                  "@N": N bytes of 'x'): "ok" or "error CODE"
//! npipe-mailslot-peer write-many NAME ID COUNT MAX write COUNT messages of 0..=MAX bytes
//!                                                  (see `message`), then one of MAX+1:
//!                                                  "done", "oversize CODE"
//! npipe-mailslot-peer serve NAME [--network] [--key K] [--max N]
//!     create NAME, print "ready", then obey stdin, one command a line:
//!       collect MS   print "msg TEXT" for each message until none comes for MS ms,
//!                    then "end COUNT"
//!       info         print "info count=C next=S dropped=D" (S is "none" or a size)
//! npipe-mailslot-peer send-raw ADDR:PORT TEXT      send TEXT as a raw UDP datagram
//! ```

use std::io::{self, BufRead, Write};
use std::time::Duration;

use npipe::mailslot::{MailslotOptions, MailslotTimeout, MailslotWriterOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args.split_first().expect("a command");
    match command.as_str() {
        "hold" => {
            let _slot = MailslotOptions::new().create(&rest[0]).expect("create");
            say("ready");
            std::thread::sleep(Duration::from_secs(60));
        }
        "open" => match MailslotWriterOptions::new().open(&rest[0]) {
            Ok(_) => say("ok"),
            Err(e) => say(&format!("error {}", e.win32_code())),
        },
        "send" => send(&rest[0], &rest[1..]),
        "write-many" => {
            let num = |i: usize| rest[i].parse::<usize>().expect("a number");
            write_many(&rest[0], num(1), num(2), num(3));
        }
        "serve" => serve(&rest[0], &rest[1..]),
        "send-raw" => {
            let sock = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
            sock.send_to(rest[1].as_bytes(), &rest[0]).expect("send");
            say("ok");
        }
        other => {
            eprintln!("npipe-mailslot-peer: unknown command {other:?}");
            std::process::exit(2);
        }
    }
}

/// The `i`th message of writer `id`: a length in 0..=max and bytes that
/// depend on both, so a torn or mixed message cannot match another.
fn message(id: usize, i: usize, max: usize) -> Vec<u8> {
    let len = (id * 7919 + i * 104_729) % (max + 1);
    (0..len).map(|j| (id * 31 + i * 7 + j) as u8).collect()
}

fn write_many(name: &str, id: usize, count: usize, max: usize) {
    let writer = MailslotWriterOptions::new().open(name).expect("open");
    for i in 0..count {
        writer.write(&message(id, i, max)).expect("write");
    }
    match writer.write(&vec![0; max + 1]) {
        Ok(()) => say("oversize accepted"),
        Err(e) => say(&format!("oversize {}", e.win32_code())),
    }
    say("done");
}

fn send(name: &str, args: &[String]) {
    let mut options = MailslotWriterOptions::new();
    let mut texts = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--key" => {
                options.network_key(it.next().expect("a key").as_bytes());
            }
            text => texts.push(match text.strip_prefix('@') {
                Some(n) => "x".repeat(n.parse().expect("a size")),
                None => text.to_owned(),
            }),
        }
    }
    let result = options
        .open(name)
        .and_then(|w| texts.iter().try_for_each(|t| w.write(t.as_bytes())));
    match result {
        Ok(()) => say("ok"),
        Err(e) => say(&format!("error {}", e.win32_code())),
    }
}

fn serve(name: &str, args: &[String]) {
    let mut options = MailslotOptions::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--network" => {
                options.accept_network(true);
            }
            "--key" => {
                options.network_key(it.next().expect("a key").as_bytes());
            }
            "--max" => {
                options.max_message_size(it.next().expect("a size").parse().expect("a size"));
            }
            other => panic!("unknown option {other}"),
        }
    }
    let slot = match options.create(name) {
        Ok(slot) => slot,
        Err(e) => {
            say(&format!("error {} {e}", e.win32_code()));
            return;
        }
    };
    say("ready");
    for line in io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["collect", ms] => {
                slot.set_read_timeout(MailslotTimeout::Millis(ms.parse().expect("ms")));
                let mut count = 0;
                while let Ok(m) = slot.read_message() {
                    count += 1;
                    say(&format!("msg {}", String::from_utf8_lossy(&m)));
                }
                say(&format!("end {count}"));
            }
            ["info"] => {
                let info = slot.info().expect("info");
                let next = info.next_size.map_or("none".into(), |n| n.to_string());
                say(&format!(
                    "info count={} next={next} dropped={}",
                    info.message_count, info.dropped_datagrams
                ));
            }
            ["quit"] => return,
            other => panic!("unknown command {other:?}"),
        }
    }
}

fn say(line: &str) {
    let mut out = io::stdout().lock();
    // The test may have gone; nothing to do about it.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
