//! A message-mode echo server: each message a client writes comes back as
//! one message.
//!
//! ```text
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example message_echo_server
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example message_echo_client   # another terminal
//! ```
//!
//! # Why one instance, serving clients in turn
//!
//! `echo_server` keeps an instance listening while others are busy. This
//! server shows the other Win32 lifecycle: a single instance
//! (`max_instances(1)`) that connects a client (`ConnectNamedPipe`), serves
//! it until it closes its end, then disconnects it (`DisconnectNamedPipe`)
//! and connects the next. Meanwhile other clients get `ERROR_PIPE_BUSY` and
//! wait with `WaitNamedPipe`, as `message_echo_client` does. That is simple
//! and keeps the order of clients, at the price of serving one at a time.
//!
//! Messages are read with a deliberately small buffer, so long messages
//! arrive in pieces: each piece but the last is
//! [`MessageRead::MoreData`] (`ERROR_MORE_DATA` on Windows).

use std::process::ExitCode;

use npipe::{Error, MessageRead, NamedPipeServer, Namespace, PipeMode, ServerOptions};

/// The pipe `message_echo_client` connects to.
const NAME: &str = r"\\.\pipe\npipe-message-echo";

/// Small on purpose, to show messages read in pieces.
const READ_BUFFER: usize = 16;

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("message_echo_server: {err}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> npipe::Result<()> {
    let namespace = Namespace::from_env();
    let server = ServerOptions::new()
        .namespace(namespace.clone())
        .pipe_mode(PipeMode::Message) // PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE
        .max_instances(1) // nMaxInstances
        .first_pipe_instance(true) // FILE_FLAG_FIRST_PIPE_INSTANCE
        .create(NAME)?; // CreateNamedPipe
    println!(
        "message_echo_server: listening on {NAME} in {} (Ctrl-C to stop)",
        namespace.path().display()
    );

    loop {
        server.connect()?; // ConnectNamedPipe
        let pid = server.client_process_id()?; // GetNamedPipeClientProcessId
        match serve_client(&server) {
            Ok(count) => println!("message_echo_server: client {pid}: echoed {count} message(s)"),
            Err(err) => eprintln!("message_echo_server: client {pid}: {err}"),
        }
        server.disconnect()?; // DisconnectNamedPipe: free the instance for the next client
    }
}

/// Echoes messages until the client closes its end; returns how many.
fn serve_client(server: &NamedPipeServer) -> npipe::Result<usize> {
    let mut count = 0;
    while let Some(message) = read_whole_message(server)? {
        server.write_message(&message)?; // WriteFile: one call, one message
        count += 1;
    }
    Ok(count)
}

/// Reads one message, piece by piece; `None` once the client has closed.
fn read_whole_message(server: &NamedPipeServer) -> npipe::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut buf = [0; READ_BUFFER];
    loop {
        let read: MessageRead = match server.read_message(&mut buf) {
            Ok(read) => read,
            // ReadFile's ERROR_BROKEN_PIPE: the client closed its handle.
            Err(Error::BrokenPipe) => return Ok(None),
            Err(err) => return Err(err),
        };
        message.extend_from_slice(&buf[..read.len()]);
        if read.is_complete() {
            return Ok(Some(message));
        }
        // MoreData: the buffer is full and the message goes on.
    }
}
