//! A byte-mode echo server: each client gets back every byte it sends.
//!
//! ```text
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example echo_server
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example echo_client -- hello   # another terminal
//! ```
//!
//! The pipe lives in the namespace of [`Namespace::from_env`]: `NPIPE_ROOT`
//! if set, otherwise the machine-wide `/tmp/.npipe`. Stop the server with
//! Ctrl-C; the files it leaves are stale and the next server of the name
//! removes them.
//!
//! # Why one instance is always listening
//!
//! This is the shape of Microsoft's "Multithreaded Pipe Server". The main
//! thread creates an instance and waits in [`NamedPipeServer::connect`]
//! (`ConnectNamedPipe`). As soon as a client is connected it creates the
//! *next* instance, hands the connected one to a worker thread and goes back
//! to waiting. So while one client is being served another can connect at
//! once instead of getting `ERROR_PIPE_BUSY`. A worker echoes until its
//! client closes (a read returns `Ok(0)`) and then drops the instance
//! (`CloseHandle`); instances are never reused, so no `DisconnectNamedPipe`
//! is needed. `message_echo_server` shows the other way: one instance that
//! serves its clients one after another with disconnect and connect.

use std::io::{Read, Write};
use std::process::ExitCode;

use npipe::{NamedPipeServer, Namespace, ServerOptions};

/// The pipe `echo_client` connects to.
const NAME: &str = r"\\.\pipe\npipe-echo";

fn main() -> ExitCode {
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("echo_server: {err}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> npipe::Result<()> {
    let namespace = Namespace::from_env();
    let mut options = ServerOptions::new();
    options.namespace(namespace.clone());

    // The first instance refuses to join a name another server is using
    // (FILE_FLAG_FIRST_PIPE_INSTANCE); the later ones join our own.
    let mut listening = options.first_pipe_instance(true).create(NAME)?;
    options.first_pipe_instance(false);
    println!(
        "echo_server: listening on {NAME} in {} (Ctrl-C to stop)",
        namespace.path().display()
    );

    loop {
        listening.connect()?; // ConnectNamedPipe: wait for the next client
        let next = options.create(NAME)?; // keep an instance listening
        let connected = std::mem::replace(&mut listening, next);
        std::thread::spawn(move || {
            let pid = connected.client_process_id().unwrap_or(0);
            match echo(connected) {
                Ok(bytes) => println!("echo_server: client {pid}: echoed {bytes} byte(s)"),
                Err(err) => eprintln!("echo_server: client {pid}: {err}"),
            }
        });
    }
}

/// Echoes until the client closes its end, then closes this instance.
fn echo(mut pipe: NamedPipeServer) -> std::io::Result<usize> {
    let mut buf = [0; 4096];
    let mut total = 0;
    loop {
        // std::io::Read: Ok(0) once the client has closed and everything it
        // wrote has been read (ReadFile would fail with ERROR_BROKEN_PIPE).
        let n = pipe.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        pipe.write_all(&buf[..n])?;
        total += n;
    }
}
