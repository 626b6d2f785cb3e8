//! Many writer processes, one reader: whole messages, exact counts and
//! sizes, refused oversize messages, small buffers, time-outs.

use std::time::{Duration, Instant};

use npipe::mailslot::{MailslotOptions, MailslotTimeout};
use npipe::win32::{ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_PARAMETER, ERROR_SEM_TIMEOUT};
use npipe::Error;

use crate::support::{message, Peer, TestRoot, LIMIT};

const WRITERS: usize = 4;
const MESSAGES: usize = 60;
const MAX: usize = 3000;

#[test]
fn every_message_of_many_writers_arrives_whole_and_is_counted() {
    let root = TestRoot::new("many-writers");
    let name = r"\\.\mailslot\delivery\many";
    let slot = MailslotOptions::new()
        .root(root.path())
        .max_message_size(MAX)
        .read_timeout(MailslotTimeout::Immediate)
        .create(name)
        .unwrap();
    let mut writers: Vec<Peer> = (0..WRITERS)
        .map(|id| {
            let args = [
                "write-many",
                // Names ignore case: writers spell it their own way.
                r"\\.\MAILSLOT\Delivery\Many",
                &id.to_string(),
                &MESSAGES.to_string(),
                &MAX.to_string(),
            ];
            Peer::spawn(root.peer(&args), &format!("writer {id}"))
        })
        .collect();
    // While the writers run, keep asking for info: each call moves what
    // has arrived into the reader's queue, so no writer waits on a full
    // socket buffer, and counting races with writing.
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let count = slot.info().unwrap().message_count;
                assert!(count <= WRITERS * MESSAGES);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // Stops the thread above even if an assertion below fails.
        let _stop = StopOnDrop(&done);
        for (id, w) in writers.iter_mut().enumerate() {
            let oversize = w.line();
            assert_eq!(
                oversize,
                format!("oversize {ERROR_INVALID_PARAMETER}"),
                "writer {id}: a message over the maximum must be refused"
            );
            w.expect("done");
            assert!(w.wait().success());
        }
    });

    // Every writer has exited: all its messages are queued, and the count
    // is exact.
    let info = slot.info().unwrap();
    assert_eq!(info.message_count, WRITERS * MESSAGES);
    assert_eq!(info.max_message_size, MAX);
    assert_eq!(info.dropped_datagrams, 0);

    let mut got = Vec::new();
    let mut buf = vec![0u8; MAX];
    loop {
        let info = slot.info().unwrap();
        assert_eq!(info.message_count, WRITERS * MESSAGES - got.len());
        let Some(next) = info.next_size else { break };
        let n = slot.read(&mut buf).unwrap();
        assert_eq!(n, next, "next_size announced the message's size");
        got.push(buf[..n].to_vec());
    }
    assert!(matches!(slot.read(&mut buf), Err(Error::Timeout)));

    let mut expected: Vec<Vec<u8>> = (0..WRITERS)
        .flat_map(|id| (0..MESSAGES).map(move |i| message(id, i, MAX)))
        .collect();
    assert!(
        expected.iter().any(Vec::is_empty),
        "zero-length messages are part of the test"
    );
    assert!(
        expected.iter().any(|m| m.len() > MAX - 200),
        "and large ones"
    );
    expected.sort();
    got.sort();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "some message arrived torn, mixed or twice");
}

struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn one_writers_messages_keep_their_order() {
    let root = TestRoot::new("order");
    let name = r"\\.\mailslot\delivery\order";
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    let w = Peer::run(root.peer(&["write-many", name, "9", "40", "500"]), "writer");
    assert_eq!(w.last().map(String::as_str), Some("done"));
    for i in 0..40 {
        assert_eq!(
            slot.read_message().unwrap(),
            message(9, i, 500),
            "message {i}"
        );
    }
}

#[test]
fn a_buffer_too_small_leaves_the_message_in_place() {
    let root = TestRoot::new("small-buffer");
    let name = r"\\.\mailslot\delivery\small";
    let slot = MailslotOptions::new()
        .root(root.path())
        .create(name)
        .unwrap();
    let out = Peer::run(root.peer(&["send", name, "hello world", ""]), "writer");
    assert_eq!(out, ["ok"]);

    let mut small = [0u8; 4];
    let err = slot.read(&mut small).unwrap_err();
    assert_eq!(err.win32_code(), ERROR_INSUFFICIENT_BUFFER);
    assert!(matches!(
        err,
        Error::InsufficientBuffer {
            needed: 11,
            buffer: 4
        }
    ));
    let info = slot.info().unwrap();
    assert_eq!((info.message_count, info.next_size), (2, Some(11)));

    let mut buf = [0u8; 11];
    assert_eq!(slot.read(&mut buf).unwrap(), 11);
    assert_eq!(&buf, b"hello world");
    // The zero-length message fits any buffer, even an empty one.
    assert_eq!(slot.read(&mut []).unwrap(), 0);
    assert_eq!(slot.info().unwrap().next_size, None);
}

#[test]
fn reads_time_out_as_set_and_wait_forever_for_a_late_writer() {
    let root = TestRoot::new("timeouts");
    let name = r"\\.\mailslot\delivery\timeouts";
    let slot = MailslotOptions::new()
        .root(root.path())
        .read_timeout(MailslotTimeout::Immediate)
        .create(name)
        .unwrap();
    let mut buf = [0u8; 16];

    let start = Instant::now();
    let err = slot.read(&mut buf).unwrap_err();
    assert_eq!(err.win32_code(), ERROR_SEM_TIMEOUT);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "immediate means immediate"
    );

    slot.set_read_timeout(MailslotTimeout::Millis(150));
    assert_eq!(
        slot.info().unwrap().read_timeout,
        MailslotTimeout::Millis(150)
    );
    let start = Instant::now();
    assert!(matches!(slot.read(&mut buf), Err(Error::Timeout)));
    assert!(start.elapsed() >= Duration::from_millis(150));

    slot.set_read_timeout(MailslotTimeout::Forever);
    let late = {
        let cmd_root = root.path().to_owned();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut cmd = std::process::Command::new(crate::support::PEER);
            cmd.args(["send", r"\\.\mailslot\delivery\timeouts", "late"])
                .env("NPIPE_ROOT", cmd_root);
            Peer::run(cmd, "late writer")
        })
    };
    let start = Instant::now();
    let n = slot.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"late");
    assert!(start.elapsed() < LIMIT);
    assert_eq!(late.join().unwrap(), ["ok"]);
}
