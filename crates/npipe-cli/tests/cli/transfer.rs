//! A large transfer through `serve` and `connect`, checked by length and
//! hash. Data is made in this process and hashed as it streams, so nothing
//! of that size is held in memory or on disk.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Instant;

use crate::util::{Proc, TestRoot};

const TOTAL: u64 = 200 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

#[test]
fn two_hundred_megabytes_arrive_intact() {
    let root = TestRoot::new("transfer");
    let mut cmd = root.npipe(&["serve", "bulk", "--count", "1"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut server = Proc::spawn_streaming(cmd);
    let mut server_out = server.take_stdout();
    root.wait_listed("bulk", &server);

    let mut cmd = root.npipe(&["connect", "bulk"]);
    cmd.stdin(Stdio::piped()).stderr(Stdio::piped());
    let mut client = Proc::spawn(cmd);
    let mut stdin = client.stdin();
    let start = Instant::now();
    let feeder = std::thread::spawn(move || {
        let mut data = Data::new();
        let mut hash = Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        let mut sent = 0;
        while sent < TOTAL {
            data.fill(&mut buf);
            hash.update(&buf);
            stdin.write_all(&buf).expect("write to connect's stdin");
            sent += CHUNK as u64;
        }
        hash.finish()
    });

    let mut hash = Hasher::new();
    let mut received = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = server_out.read(&mut buf).expect("read serve's stdout");
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        received += n as u64;
    }
    let sent_hash = feeder.join().unwrap();
    client.finish().expect_code(0);
    server.finish().expect_code(0);
    eprintln!("200 MB through serve and connect in {:?}", start.elapsed());
    assert_eq!(received, TOTAL);
    assert_eq!(hash.finish(), sent_hash);
}

/// Pseudo-random bytes (xorshift64*), eight at a time.
struct Data(u64);

impl Data {
    fn new() -> Data {
        Data(0x9E37_79B9_7F4A_7C15)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for word in buf.chunks_exact_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            word.copy_from_slice(&self.0.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
    }
}

/// A fast non-cryptographic hash over 8-byte words (bytes that do not fill
/// a word wait for the next update), good enough to catch lost, repeated or
/// reordered data.
struct Hasher {
    state: u64,
    carry: Vec<u8>,
}

impl Hasher {
    fn new() -> Hasher {
        Hasher {
            state: 0xCBF2_9CE4_8422_2325,
            carry: Vec::with_capacity(8),
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        if !self.carry.is_empty() {
            let take = (8 - self.carry.len()).min(data.len());
            self.carry.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.carry.len() < 8 {
                return;
            }
            let word = u64::from_le_bytes(self.carry[..].try_into().unwrap());
            self.mix(word);
            self.carry.clear();
        }
        let mut words = data.chunks_exact(8);
        for word in &mut words {
            self.mix(u64::from_le_bytes(word.try_into().unwrap()));
        }
        self.carry.extend_from_slice(words.remainder());
    }

    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word)
            .wrapping_mul(0x0000_0100_0000_01B3)
            .rotate_left(29);
    }

    fn finish(mut self) -> u64 {
        let tail = std::mem::take(&mut self.carry);
        for &b in &tail {
            self.mix(u64::from(b) | 0x100);
        }
        self.state
    }
}

#[test]
fn hasher_does_not_depend_on_how_data_is_split() {
    let mut data = vec![0u8; 1000];
    Data::new().fill(&mut data);
    let mut whole = Hasher::new();
    whole.update(&data);
    let mut pieces = Hasher::new();
    for piece in data.chunks(7) {
        pieces.update(piece);
    }
    assert_eq!(whole.finish(), pieces.finish());
    let mut other = Hasher::new();
    data.swap(0, 8);
    other.update(&data);
    let mut again = Hasher::new();
    data.swap(0, 8);
    again.update(&data);
    assert_ne!(other.finish(), again.finish());
}
