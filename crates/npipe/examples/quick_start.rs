//! The README's library example: a named pipe server and client in one
//! process, in a private namespace directory, so it runs anywhere.
//!
//! ```text
//! cargo run --example quick_start
//! ```
//!
//! Each line carries the Win32 call it stands for. `cargo test` runs this
//! example too (see the test at the bottom).

use std::io::{Read, Write};

use npipe::{ClientOptions, ServerOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A private namespace; real programs use the default (NPIPE_ROOT).
    let root = std::env::temp_dir().join(format!("npipe-quick-start-{}", std::process::id()));

    let name = r"\\.\pipe\quick-start";
    let server = ServerOptions::new().root(&root).create(name)?; // CreateNamedPipe
    let mut client = ClientOptions::new().root(&root).open(name)?; // CreateFile
    server.connect()?; // ConnectNamedPipe
    client.write_all(b"hello")?; // WriteFile
    let mut buf = [0; 5];
    (&server).read_exact(&mut buf)?; // ReadFile
    assert_eq!(&buf, b"hello");

    drop((client, server)); // CloseHandle: the pipe is gone with its last instance
    std::fs::remove_dir_all(&root)?;
    println!(
        "quick_start: the server read {:?}",
        String::from_utf8_lossy(&buf)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quick_start_runs_to_completion() {
        super::main().unwrap();
    }
}
