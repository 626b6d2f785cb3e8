//! Anonymous pipe ends for tokio: [`crate::anonymous`]'s ends with
//! `AsyncRead` / `AsyncWrite`.
//!
//! An end is registered with the runtime's reactor and switched to
//! non-blocking mode (`O_NONBLOCK`). That flag belongs to the pipe end's
//! open file description, so a child process that shares the same end
//! (given it by inheritance while it was async) sees it too;
//! [`PipeReader::into_blocking`] and [`PipeWriter::into_blocking`] switch
//! it back. Ends handed to children with `Stdio::from` are best made
//! blocking first.
//!
//! ```
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # rt.block_on(async {
//! let (mut reader, mut writer) = npipe::tokio::anonymous::pipe()?;
//! writer.write_all(b"hello").await?;
//! drop(writer);
//! let mut text = String::new();
//! reader.read_to_string(&mut text).await?;
//! assert_eq!(text, "hello");
//! # Ok::<(), std::io::Error>(())
//! # })?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::anonymous;
use crate::sys;
use crate::tokio::conn::register_with;

/// Creates an anonymous pipe (`CreatePipe`) with async ends.
///
/// # Errors
/// As [`anonymous::pipe`], or no tokio runtime with I/O enabled.
#[doc(alias = "CreatePipe")]
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    let (reader, writer) = anonymous::pipe()?;
    Ok((PipeReader::new(reader)?, PipeWriter::new(writer)?))
}

/// The read end of an anonymous pipe, for tokio. Reads return `Ok(0)` at
/// the end of data (every write end closed).
#[derive(Debug)]
pub struct PipeReader {
    fd: AsyncFd<OwnedFd>,
}

/// The write end of an anonymous pipe, for tokio. A write after every read
/// end closed fails with `ERROR_BROKEN_PIPE`, without `SIGPIPE`.
#[derive(Debug)]
pub struct PipeWriter {
    fd: AsyncFd<OwnedFd>,
}

impl PipeReader {
    /// Makes `end` async: sets `O_NONBLOCK` and registers it with the
    /// current runtime.
    ///
    /// # Errors
    /// No tokio runtime with I/O enabled, or `fcntl(2)` failed.
    pub fn new(end: anonymous::PipeReader) -> io::Result<PipeReader> {
        sys::pipe::set_nonblocking(&end, true)?;
        let fd = register_with(OwnedFd::from(end), Interest::READABLE)?;
        Ok(PipeReader { fd })
    }

    /// The blocking end back, with `O_NONBLOCK` cleared.
    pub fn into_blocking(self) -> io::Result<anonymous::PipeReader> {
        let end = self.fd.into_inner();
        sys::pipe::set_nonblocking(&end, false)?;
        Ok(anonymous::PipeReader::from(end))
    }

    /// Bytes a read would return now (`lpTotalBytesAvail` of
    /// `PeekNamedPipe`).
    #[doc(alias = "PeekNamedPipe")]
    pub fn bytes_available(&self) -> io::Result<usize> {
        sys::pipe::bytes_available(self.fd.get_ref())
    }

    /// The capacity of the pipe's buffer in bytes.
    pub fn buffer_size(&self) -> io::Result<usize> {
        sys::pipe::size(self.fd.get_ref())
    }
}

impl PipeWriter {
    /// Makes `end` async: sets `O_NONBLOCK` and registers it with the
    /// current runtime.
    ///
    /// # Errors
    /// No tokio runtime with I/O enabled, or `fcntl(2)` failed.
    pub fn new(end: anonymous::PipeWriter) -> io::Result<PipeWriter> {
        sys::pipe::set_nonblocking(&end, true)?;
        let fd = register_with(OwnedFd::from(end), Interest::WRITABLE)?;
        Ok(PipeWriter { fd })
    }

    /// The blocking end back, with `O_NONBLOCK` cleared.
    pub fn into_blocking(self) -> io::Result<anonymous::PipeWriter> {
        let end = self.fd.into_inner();
        sys::pipe::set_nonblocking(&end, false)?;
        Ok(anonymous::PipeWriter::from(end))
    }

    /// The capacity of the pipe's buffer in bytes.
    pub fn buffer_size(&self) -> io::Result<usize> {
        sys::pipe::size(self.fd.get_ref())
    }
}

impl AsyncRead for PipeReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|end| sys::pipe::read(end.get_ref(), unfilled)) {
                Ok(result) => {
                    buf.advance(result?);
                    return Poll::Ready(Ok(()));
                }
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for PipeWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|end| sys::pipe::write(end.get_ref(), buf)) {
                Ok(result) => return Poll::Ready(result.map_err(anonymous::broken_pipe)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Does nothing: a pipe has no buffer in the process to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Does nothing: the write end closes when dropped.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

macro_rules! fd_impls {
    ($ty:ty) => {
        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.get_ref().as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.get_ref().as_raw_fd()
            }
        }
    };
}

fd_impls!(PipeReader);
fd_impls!(PipeWriter);
