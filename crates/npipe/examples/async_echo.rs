//! A message-mode echo server on tokio: serves any number of clients of
//! one pipe name, each in its own task, none in its own thread.
//!
//! ```text
//! cargo run -p npipe --features tokio --example async_echo [NAME]
//! ```
//!
//! NAME defaults to `\\.\pipe\npipe-echo`; the namespace is `NPIPE_ROOT`
//! (or the default root). Every message a client writes comes back to it
//! whole, long ones included. At most 255 clients are connected at once
//! (the instance limit); later ones wait for a free instance, as with
//! `WaitNamedPipe`.

use npipe::tokio::{NamedPipeServer, PipeListener};
use npipe::{Error, PipeMode, ServerOptions};

#[tokio::main]
async fn main() -> npipe::Result<()> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| r"\\.\pipe\npipe-echo".to_string());
    let mut options = ServerOptions::new();
    options.pipe_mode(PipeMode::Message);
    let mut listener = PipeListener::bind(&options, &name)?;
    eprintln!("echoing messages on {name}");
    loop {
        let server = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(&server).await {
                eprintln!("client {:?}: {e}", server.client_process_id().ok());
            }
            // Dropping the instance hands it back to the listener.
        });
    }
}

/// Echoes every message until the client closes.
async fn echo(server: &NamedPipeServer) -> npipe::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut message = Vec::new();
    loop {
        match server.read_message(&mut buf).await {
            Ok(got) => {
                message.extend_from_slice(&buf[..got.len()]);
                // A message longer than the buffer comes in pieces
                // (ERROR_MORE_DATA); echo it once it is whole.
                if got.is_complete() {
                    server.write_message(&message).await?;
                    message.clear();
                }
            }
            Err(Error::BrokenPipe) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
