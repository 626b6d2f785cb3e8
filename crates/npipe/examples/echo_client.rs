//! Sends its arguments to `echo_server` and prints what comes back.
//!
//! ```text
//! NPIPE_ROOT=/tmp/npipe-demo cargo run --example echo_client -- hello
//! ```
//!
//! Opening follows the Win32 client pattern: `CreateFile`, and on
//! `ERROR_PIPE_BUSY` a `WaitNamedPipe` for a free instance, then try again
//! (a free instance is not reserved for the waiter).

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use npipe::{ClientOptions, Error, NamedPipeClient, Namespace};

/// The pipe `echo_server` creates.
const NAME: &str = r"\\.\pipe\npipe-echo";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = if args.is_empty() {
        "hello".to_owned()
    } else {
        args.join(" ")
    };
    let namespace = Namespace::from_env();
    match echo(&namespace, &text) {
        Ok(reply) => {
            println!("{reply}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("echo_client: {err}");
            if let Error::FileNotFound { .. } = err {
                eprintln!(
                    "\nStart the server first, with the same namespace ({}):\n    \
                     cargo run --example echo_server",
                    namespace.path().display()
                );
            }
            ExitCode::from(2)
        }
    }
}

/// Sends `text` and reads back as many bytes.
fn echo(namespace: &Namespace, text: &str) -> npipe::Result<String> {
    let mut options = ClientOptions::new();
    options.namespace(namespace.clone());
    let mut pipe = open(&options)?;
    pipe.write_all(text.as_bytes())?; // WriteFile
    let mut reply = vec![0; text.len()];
    pipe.read_exact(&mut reply)?; // ReadFile, until all of it is back
    Ok(String::from_utf8_lossy(&reply).into_owned())
    // Dropping `pipe` closes it (CloseHandle); the server sees the end.
}

/// CreateFile, and WaitNamedPipe while every instance is busy.
fn open(options: &ClientOptions) -> npipe::Result<NamedPipeClient> {
    loop {
        match options.open(NAME) {
            Err(Error::PipeBusy { .. }) => options.wait(NAME, Duration::from_secs(5))?,
            other => return other,
        }
    }
}
