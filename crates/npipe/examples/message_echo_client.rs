//! Sends messages to `message_echo_server` with `TransactNamedPipe`, then
//! makes one `CallNamedPipe`.
//!
//! ```text
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example message_echo_client
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example message_echo_client -- one "two words" ""
//! ```
//!
//! Each argument is one message (an empty argument is a zero-length
//! message). Replies are read into a 16-byte buffer: a longer reply comes
//! back as [`MessageRead::MoreData`] (`ERROR_MORE_DATA`) and the rest is
//! read with [`NamedPipeClient::read_message`], as on Windows.

use std::process::ExitCode;
use std::time::Duration;

use npipe::{ClientOptions, Error, MessageRead, NamedPipeClient, Namespace, ReadMode};

/// The pipe `message_echo_server` creates.
const NAME: &str = r"\\.\pipe\npipe-message-echo";

/// Small on purpose, to show replies read in pieces.
const REPLY_BUFFER: usize = 16;

fn main() -> ExitCode {
    let mut messages: Vec<String> = std::env::args().skip(1).collect();
    if messages.is_empty() {
        messages = vec![
            "hello".into(),
            "a message longer than the reply buffer".into(),
            String::new(),
        ];
    }
    let namespace = Namespace::from_env();
    match run(&namespace, &messages) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("message_echo_client: {err}");
            if let Error::FileNotFound { .. } = err {
                eprintln!(
                    "\nStart the server first, with the same namespace ({}):\n    \
                     cargo run --example message_echo_server",
                    namespace.path().display()
                );
            }
            ExitCode::from(2)
        }
    }
}

fn run(namespace: &Namespace, messages: &[String]) -> npipe::Result<()> {
    let mut options = ClientOptions::new();
    options
        .namespace(namespace.clone())
        .read_mode(ReadMode::Message); // SetNamedPipeHandleState(PIPE_READMODE_MESSAGE)

    let pipe = open(&options)?;
    for message in messages {
        let reply = transact(&pipe, message.as_bytes())?;
        println!(
            "sent {message:?}, got back {:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    drop(pipe); // CloseHandle: the server disconnects us and serves the next client

    // CallNamedPipe: wait up to 5 s for the instance, connect, one
    // transaction, close. The server's single instance needs a moment to
    // disconnect the previous client; `call` waits for it.
    let mut out = [0; 64];
    let read = options.call(NAME, b"one call", &mut out, Duration::from_secs(5))?;
    println!(
        "call got back {:?}",
        String::from_utf8_lossy(&out[..read.len()])
    );
    Ok(())
}

/// TransactNamedPipe, then ReadFile for the rest of a long reply.
fn transact(pipe: &NamedPipeClient, message: &[u8]) -> npipe::Result<Vec<u8>> {
    let mut buf = [0; REPLY_BUFFER];
    let mut read: MessageRead = pipe.transact(message, &mut buf)?;
    let mut reply = buf[..read.len()].to_vec();
    while !read.is_complete() {
        read = pipe.read_message(&mut buf)?;
        reply.extend_from_slice(&buf[..read.len()]);
    }
    Ok(reply)
}

/// CreateFile, and WaitNamedPipe while the server's instance is busy.
fn open(options: &ClientOptions) -> npipe::Result<NamedPipeClient> {
    loop {
        match options.open(NAME) {
            Err(Error::PipeBusy { .. }) => options.wait(NAME, Duration::from_secs(5))?,
            other => return other,
        }
    }
}
