//! What both ends of a named pipe share: the handle's modes and the I/O
//! methods (`ReadFile`, `WriteFile`, `PeekNamedPipe`, `TransactNamedPipe`,
//! `FlushFileBuffers`, `Get`/`SetNamedPipeHandleState`), written once and
//! given to [`NamedPipeServer`](crate::NamedPipeServer) and
//! [`NamedPipeClient`](crate::NamedPipeClient) by `impl_pipe_io!`.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use crate::name::PipeName;
use crate::namespace::PipeMeta;
use crate::pipe::conn::Conn;
use crate::pipe::{MessageRead, PeekInfo, PipeEnd, PipeInfo, PipeMode, ReadMode};
use crate::proto;
use crate::{Error, Result};

/// The state of one handle.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub name: PipeName,
    pub end: PipeEnd,
    pub meta: PipeMeta,
    read_mode: AtomicU8,
    nowait: AtomicBool,
    /// For clients: opened with read / write access.
    pub can_read: bool,
    pub can_write: bool,
}

impl Endpoint {
    pub fn new(
        name: PipeName,
        end: PipeEnd,
        meta: PipeMeta,
        read_mode: ReadMode,
        nowait: bool,
    ) -> Endpoint {
        let (can_read, can_write) = match end {
            PipeEnd::Server => (meta.access.server_reads(), meta.access.server_writes()),
            PipeEnd::Client => (meta.access.server_writes(), meta.access.server_reads()),
        };
        Endpoint {
            name,
            end,
            meta,
            read_mode: AtomicU8::new(read_mode as u8),
            nowait: AtomicBool::new(nowait),
            can_read,
            can_write,
        }
    }

    pub fn with_access(mut self, read: bool, write: bool) -> Endpoint {
        self.can_read &= read;
        self.can_write &= write;
        self
    }

    pub fn read_mode(&self) -> ReadMode {
        if self.read_mode.load(Ordering::Relaxed) == ReadMode::Message as u8 {
            ReadMode::Message
        } else {
            ReadMode::Byte
        }
    }

    pub fn nowait(&self) -> bool {
        self.nowait.load(Ordering::Relaxed)
    }

    pub fn is_message_pipe(&self) -> bool {
        self.meta.pipe_mode == PipeMode::Message
    }

    pub fn set_read_mode(&self, mode: ReadMode) -> Result<()> {
        proto::check_read_mode(self.is_message_pipe(), to_proto(mode)).map_err(Error::from)?;
        self.read_mode.store(mode as u8, Ordering::Relaxed);
        Ok(())
    }

    pub fn set_nowait(&self, nowait: bool) {
        self.nowait.store(nowait, Ordering::Relaxed);
    }

    fn denied(&self, what: &str) -> Error {
        Error::AccessDenied {
            name: self.name.to_string(),
            reason: format!("this handle may not {what}"),
        }
    }

    /// The check before a read or a peek: this handle may read.
    pub fn check_read(&self) -> Result<()> {
        if !self.can_read {
            return Err(self.denied("read"));
        }
        Ok(())
    }

    /// The check before a write: this handle may write.
    pub fn check_write(&self) -> Result<()> {
        if !self.can_write {
            return Err(self.denied("write"));
        }
        Ok(())
    }

    /// The checks `TransactNamedPipe` makes before it writes: both
    /// directions allowed, a message pipe in message read mode, nothing
    /// unread.
    pub fn check_transact(&self, conn: &Conn) -> Result<()> {
        if !self.can_read || !self.can_write {
            return Err(self.denied("both read and write"));
        }
        proto::check_transact(
            self.is_message_pipe(),
            to_proto(self.read_mode()),
            conn.unread()?,
        )
        .map_err(|refusal| refusal.into_error(self.name.as_str()))
    }

    pub fn read(&self, conn: &Conn, buf: &mut [u8]) -> Result<MessageRead> {
        self.check_read()?;
        conn.read(buf, self.read_mode(), self.nowait())
    }

    pub fn write(&self, conn: &Conn, buf: &[u8]) -> Result<usize> {
        self.check_write()?;
        conn.write(buf, self.nowait())
    }

    pub fn peek(&self, conn: &Conn, buf: &mut [u8]) -> Result<PeekInfo> {
        self.check_read()?;
        conn.peek(buf)
    }

    pub fn transact(&self, conn: &Conn, input: &[u8], output: &mut [u8]) -> Result<MessageRead> {
        self.check_transact(conn)?;
        conn.write(input, false)?;
        conn.read(output, ReadMode::Message, false)
    }

    pub fn flush(&self, conn: &Conn) -> Result<()> {
        conn.flush()
    }

    /// Appends the next whole message to `out`, however long.
    pub fn read_to_message_end(&self, conn: &Conn, out: &mut Vec<u8>) -> Result<usize> {
        let start = out.len();
        let mut chunk = 64 * 1024;
        loop {
            let at = out.len();
            out.resize(at + chunk, 0);
            match self.read(conn, &mut out[at..]) {
                Ok(MessageRead::Complete(n)) => {
                    out.truncate(at + n);
                    return Ok(out.len() - start);
                }
                Ok(MessageRead::MoreData(n)) => {
                    out.truncate(at + n);
                    // The rest waits whole in the connection: size it exactly.
                    chunk = conn.peek(&mut [])?.left_in_message.max(1);
                }
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
    }

    pub fn info(&self, current_instances: u32) -> PipeInfo {
        PipeInfo {
            end: self.end,
            pipe_mode: self.meta.pipe_mode,
            read_mode: self.read_mode(),
            nowait: self.nowait(),
            out_buffer_size: self.meta.out_buffer,
            in_buffer_size: self.meta.in_buffer,
            max_instances: self.meta.max_instances,
            current_instances,
        }
    }
}

fn to_proto(mode: ReadMode) -> proto::ReadMode {
    match mode {
        ReadMode::Byte => proto::ReadMode::Byte,
        ReadMode::Message => proto::ReadMode::Message,
    }
}

/// Turns a Win32-style read result into `std::io::Read`'s: "more data" is a
/// short read, and the peer closing is the end of the stream (`Ok(0)`), as
/// std's readers do. Other errors keep their Win32 identity.
pub(crate) fn io_read(result: Result<MessageRead>) -> std::io::Result<usize> {
    match result {
        Ok(read) => Ok(read.len()),
        Err(Error::BrokenPipe) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Writes the I/O methods shared by both ends. `$conn` is a method of the
/// type that yields the current connection.
macro_rules! impl_pipe_io {
    ($ty:ty) => {
        impl $ty {
            /// The pipe's name, as this handle opened or created it.
            pub fn name(&self) -> &$crate::PipeName {
                &self.endpoint.name
            }

            /// Reads one message in message read mode, or bytes in byte read
            /// mode (`ReadFile`). Blocks until data comes unless the handle
            /// is non-blocking.
            ///
            /// A message longer than `buf` fills it and returns
            /// [`MessageRead::MoreData`](crate::MessageRead::MoreData); the
            /// next read returns the rest. Zero-length messages return
            /// `Complete(0)` in message read mode and are skipped in byte
            /// read mode. A message whose writer died before finishing it is
            /// never delivered, not even in part.
            ///
            /// # Errors
            /// [`Error::BrokenPipe`](crate::Error::BrokenPipe) once the other
            /// end closed and everything it wrote has been read;
            /// [`Error::PipeNotConnected`](crate::Error::PipeNotConnected)
            /// after a disconnect; [`Error::WouldBlock`](crate::Error::WouldBlock)
            /// in non-blocking mode with nothing waiting;
            /// [`Error::AccessDenied`](crate::Error::AccessDenied) if this end
            /// may not read.
            #[doc(alias = "ReadFile")]
            pub fn read_message(&self, buf: &mut [u8]) -> $crate::Result<$crate::MessageRead> {
                self.endpoint.read(&*self.connection()?, buf)
            }

            /// Reads the next whole message, however long, appending it to
            /// `buf`, and returns its length: [`read_message`](Self::read_message)
            /// repeated while it says
            /// [`MoreData`](crate::MessageRead::MoreData). In byte read mode,
            /// appends what one read returns.
            ///
            /// # Errors
            /// As [`read_message`](Self::read_message); on an error nothing is
            /// appended.
            pub fn read_message_to_end(&self, buf: &mut Vec<u8>) -> $crate::Result<usize> {
                self.endpoint.read_to_message_end(&*self.connection()?, buf)
            }

            /// Ends this end's writing while it keeps reading: the other
            /// end reads what was written, then the end of the stream
            /// ([`Error::BrokenPipe`](crate::Error::BrokenPipe), or `Ok(0)`
            /// through `std::io::Read`). Later writes here fail with
            /// [`Error::NoData`](crate::Error::NoData). A Linux extra, like
            /// `shutdown(SHUT_WR)` on a socket; Win32 pipes have no
            /// half-close.
            pub fn close_write(&self) -> $crate::Result<()> {
                self.connection()?.close_write()
            }

            /// Writes `buf` (`WriteFile`): on a message-type pipe as one
            /// message, delivered whole or not at all; on a byte-type pipe as
            /// bytes. Returns the bytes written: all of them, except in
            /// non-blocking mode: a full byte pipe takes fewer (maybe 0), and a
            /// message that finds the pipe full is not written (0); one that
            /// fits in part is completed, blocking until the rest is out, so
            /// a message is never split.
            ///
            /// # Errors
            /// [`Error::NoData`](crate::Error::NoData) when the other end has
            /// closed; [`Error::PipeNotConnected`](crate::Error::PipeNotConnected)
            /// after a disconnect; [`Error::MessageTooLarge`](crate::Error::MessageTooLarge)
            /// above 1 GiB.
            #[doc(alias = "WriteFile")]
            pub fn write_message(&self, buf: &[u8]) -> $crate::Result<usize> {
                self.endpoint.write(&*self.connection()?, buf)
            }

            /// Copies waiting data into `buf` without consuming it, and says
            /// how much is waiting (`PeekNamedPipe`). Never blocks. On a
            /// message pipe only the first message is copied.
            #[doc(alias = "PeekNamedPipe")]
            pub fn peek(&self, buf: &mut [u8]) -> $crate::Result<$crate::PeekInfo> {
                self.endpoint.peek(&*self.connection()?, buf)
            }

            /// Writes one message and reads one reply (`TransactNamedPipe`).
            ///
            /// # Errors
            /// [`Error::BadPipe`](crate::Error::BadPipe) unless the pipe is
            /// message type and this handle in message read mode;
            /// [`Error::PipeBusy`](crate::Error::PipeBusy) if unread data is
            /// waiting.
            #[doc(alias = "TransactNamedPipe")]
            pub fn transact(
                &self,
                input: &[u8],
                output: &mut [u8],
            ) -> $crate::Result<$crate::MessageRead> {
                self.endpoint.transact(&*self.connection()?, input, output)
            }

            /// Waits until the other end has read everything written to it
            /// (`FlushFileBuffers`). `std::io::Write::flush` does the same.
            ///
            /// "Read" means taken out of the pipe by the other end's reads;
            /// for a message larger than the reader's buffer that happens
            /// when the reader starts reading it (it is assembled whole before
            /// its first part is returned). If the other end closed, the flush
            /// returns once the kernel has discarded what it did not read.
            ///
            /// Across `npiped` (a remote client, or a server with a remote
            /// client) it waits the same way for the remote reader: npiped
            /// passes the request on after the data, and the far end answers
            /// once its handle has read up to it. A remote client that closes
            /// having read everything counts as read; one that closes or is
            /// lost without reading it all fails the flush.
            #[doc(alias = "FlushFileBuffers")]
            pub fn flush_buffers(&self) -> $crate::Result<()> {
                self.endpoint.flush(&*self.connection()?)
            }

            /// Changes this handle's read mode (`SetNamedPipeHandleState`).
            ///
            /// # Errors
            /// [`Error::InvalidParameter`](crate::Error::InvalidParameter)
            /// for message read mode on a byte-type pipe.
            #[doc(alias = "SetNamedPipeHandleState")]
            #[doc(alias = "PIPE_READMODE_MESSAGE")]
            pub fn set_read_mode(&self, mode: $crate::ReadMode) -> $crate::Result<()> {
                self.endpoint.set_read_mode(mode)
            }

            /// Switches this handle between blocking and non-blocking mode
            /// (`PIPE_WAIT` / `PIPE_NOWAIT` through `SetNamedPipeHandleState`).
            #[doc(alias = "PIPE_NOWAIT")]
            pub fn set_nowait(&self, nowait: bool) {
                self.endpoint.set_nowait(nowait)
            }

            /// The pipe's fixed properties and this handle's modes
            /// (`GetNamedPipeInfo`, `GetNamedPipeHandleState`), with the number
            /// of instances that exist now.
            #[doc(alias = "GetNamedPipeInfo")]
            #[doc(alias = "GetNamedPipeHandleState")]
            pub fn info(&self) -> $crate::Result<$crate::PipeInfo> {
                Ok(self.endpoint.info(self.current_instances()?))
            }
        }

        impl std::io::Read for &$ty {
            /// Reads like [`read_message`](#method.read_message), the std
            /// way: a message longer than `buf` is a short read (the rest
            /// follows), and the other end closing is `Ok(0)`.
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                $crate::pipe::endpoint::io_read(self.read_message(buf))
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                (&*self).read(buf)
            }
        }

        impl std::io::Write for &$ty {
            /// Writes like [`write_message`](#method.write_message): one
            /// message per call on a message-type pipe.
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                match self.write_message(buf)? {
                    // A full non-blocking pipe: std's way to say "try later".
                    0 if !buf.is_empty() => Err(std::io::ErrorKind::WouldBlock.into()),
                    n => Ok(n),
                }
            }

            /// Waits until the other end has read everything
            /// ([`flush_buffers`](#method.flush_buffers)).
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(self.flush_buffers()?)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                (&*self).write(buf)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                (&*self).flush()
            }
        }
    };
}

pub(crate) use impl_pipe_io;
