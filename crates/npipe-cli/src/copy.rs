//! Moving data between a pipe and the world: bytes as they come, or one
//! message per line. Shared by `serve` and `connect`.

use std::io::{self, BufRead, BufReader, Read};

use npipe::{Error, NamedPipeClient, NamedPipeServer};

use crate::flags::high::Framing;
use crate::progress::Progress;

/// Size of one read or write on the byte path.
const CHUNK: usize = 256 * 1024;

/// The I/O both pipe ends offer, so one copy loop serves both.
///
/// The library gives the server and the client the same methods but no
/// common trait; this is that trait.
pub trait PipeIo: Send + Sync {
    /// `ReadFile`.
    fn read_message(&self, buf: &mut [u8]) -> npipe::Result<npipe::MessageRead>;
    /// `ReadFile` until the message is whole, however long.
    fn read_message_to_end(&self, buf: &mut Vec<u8>) -> npipe::Result<usize>;
    /// `WriteFile`.
    fn write_message(&self, buf: &[u8]) -> npipe::Result<usize>;
}

macro_rules! pipe_io {
    ($ty:ty) => {
        impl PipeIo for $ty {
            fn read_message(&self, buf: &mut [u8]) -> npipe::Result<npipe::MessageRead> {
                <$ty>::read_message(self, buf)
            }
            fn read_message_to_end(&self, buf: &mut Vec<u8>) -> npipe::Result<usize> {
                <$ty>::read_message_to_end(self, buf)
            }
            fn write_message(&self, buf: &[u8]) -> npipe::Result<usize> {
                <$ty>::write_message(self, buf)
            }
        }
    };
}

pipe_io!(NamedPipeServer);
pipe_io!(NamedPipeClient);

/// Why a copy stopped early.
#[derive(Debug)]
pub enum CopyError {
    /// The pipe failed (other than by its peer going away, which ends a
    /// copy normally).
    Pipe(Error),
    /// The local side (stdin, stdout, a child process) failed.
    Local(io::Error),
}

/// Whether an error from the pipe means the other end is gone: it closed
/// (`ERROR_BROKEN_PIPE`, `ERROR_NO_DATA`) or the server disconnected this
/// client (`ERROR_PIPE_NOT_CONNECTED`).
pub fn peer_gone(err: &Error) -> bool {
    matches!(
        err,
        Error::BrokenPipe | Error::NoData | Error::PipeNotConnected
    )
}

/// Reads the pipe until the other end is gone and hands each piece to
/// `sink`: chunks of bytes, or (with [`Framing::Lines`]) whole messages.
pub fn from_pipe(
    pipe: &dyn PipeIo,
    framing: Framing,
    progress: &Progress,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<(), CopyError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let got = match framing {
            Framing::Bytes => pipe.read_message(&mut buf).map(|r| r.len()),
            Framing::Lines => {
                buf.clear();
                pipe.read_message_to_end(&mut buf)
            }
        };
        let n = match got {
            Ok(n) => n,
            Err(e) if peer_gone(&e) => return Ok(()),
            Err(e) => return Err(CopyError::Pipe(e)),
        };
        progress.received(n as u64);
        sink(&buf[..n]).map_err(CopyError::Local)?;
    }
}

/// Reads `input` to its end and writes it to the pipe: in chunks of bytes,
/// or (with [`Framing::Lines`]) each line as one message, without its
/// newline. A last line without a newline is a message too.
///
/// The other end going away is an error here ([`CopyError::Pipe`] with
/// [`peer_gone`] true): input was left unsent.
pub fn to_pipe(
    input: impl Read,
    framing: Framing,
    pipe: &dyn PipeIo,
    progress: &Progress,
) -> Result<(), CopyError> {
    match framing {
        Framing::Bytes => {
            let mut input = input;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CopyError::Local(e)),
                };
                write_all(pipe, &buf[..n])?;
                progress.sent(n as u64);
            }
        }
        Framing::Lines => {
            let mut input = BufReader::with_capacity(CHUNK, input);
            let mut line = Vec::new();
            loop {
                line.clear();
                if input
                    .read_until(b'\n', &mut line)
                    .map_err(CopyError::Local)?
                    == 0
                {
                    return Ok(());
                }
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                pipe.write_message(&line).map_err(CopyError::Pipe)?;
                progress.sent(line.len() as u64);
            }
        }
    }
}

/// Writes all of `buf` to a byte pipe.
fn write_all(pipe: &dyn PipeIo, mut buf: &[u8]) -> Result<(), CopyError> {
    while !buf.is_empty() {
        let n = pipe.write_message(buf).map_err(CopyError::Pipe)?;
        buf = &buf[n..];
    }
    Ok(())
}
