//! The I/O methods both async ends share (`ReadFile`, `WriteFile`,
//! `PeekNamedPipe`, `TransactNamedPipe`, `FlushFileBuffers`, handle
//! state), written once and given to [`NamedPipeServer`](super::NamedPipeServer)
//! and [`NamedPipeClient`](super::NamedPipeClient) by `impl_async_pipe_io!`,
//! as `pipe/endpoint.rs` does for the blocking ends.
//!
//! A type using the macro provides `fn endpoint(&self) -> &Endpoint` (the
//! handle's modes and checks) and `fn io(&self) -> Result<Arc<AsyncConn>>`
//! (the current connection, registered with the runtime).

use std::sync::{Arc, Mutex};

use crate::pipe::conn::{lock, Conn};
use crate::tokio::conn::AsyncConn;
use crate::Result;

/// The registration of a handle's current connection, made on first use
/// (so handles can be made outside a runtime) and again when the
/// connection changes (a server instance serving its next client).
#[derive(Debug, Default)]
pub(crate) struct IoSlot(Mutex<Option<Arc<AsyncConn>>>);

impl IoSlot {
    /// The registration of `conn`, made now if it is not the one held.
    pub fn get(&self, conn: Arc<Conn>) -> Result<Arc<AsyncConn>> {
        let mut slot = lock(&self.0);
        if let Some(io) = &*slot {
            if Arc::ptr_eq(&io.conn, &conn) {
                return Ok(Arc::clone(io));
            }
        }
        let io = Arc::new(AsyncConn::new(conn)?);
        *slot = Some(Arc::clone(&io));
        Ok(io)
    }

    /// Drops the registration (the connection ended).
    pub fn clear(&self) {
        lock(&self.0).take();
    }
}

/// Writes the async I/O methods and the `AsyncRead` / `AsyncWrite` impls.
macro_rules! impl_async_pipe_io {
    ($ty:ty) => {
        impl $ty {
            /// The pipe's name, as this handle opened or created it.
            pub fn name(&self) -> &$crate::PipeName {
                &self.endpoint().name
            }

            /// Reads one message in message read mode, or bytes in byte read
            /// mode (`ReadFile`), waiting until data comes.
            ///
            /// Same results as the blocking
            /// [`read_message`](crate::NamedPipeClient::read_message): a
            /// message longer than `buf` fills it and returns
            /// [`MessageRead::MoreData`](crate::MessageRead::MoreData), and
            /// the next read returns the rest; zero-length messages are
            /// `Complete(0)` in message read mode. In non-blocking mode
            /// ([`set_nowait`](Self::set_nowait)) it resolves at once, with
            /// [`Error::WouldBlock`](crate::Error::WouldBlock) if nothing is
            /// waiting. While it waits, it also sends the rest of a message
            /// an earlier write left half sent.
            ///
            /// # Cancellation
            /// Cancel safe. Dropping the future before it resolves consumes
            /// nothing the caller has not been given: bytes of a message
            /// that arrived meanwhile stay in the connection, and the next
            /// read returns the whole message.
            ///
            /// # Errors
            /// As the blocking read: [`Error::BrokenPipe`](crate::Error::BrokenPipe)
            /// once the other end closed and everything was read,
            /// [`Error::PipeNotConnected`](crate::Error::PipeNotConnected) after
            /// a disconnect, [`Error::AccessDenied`](crate::Error::AccessDenied)
            /// if this end may not read.
            #[doc(alias = "ReadFile")]
            pub async fn read_message(
                &self,
                buf: &mut [u8],
            ) -> $crate::Result<$crate::MessageRead> {
                self.endpoint().check_read()?;
                let io = self.io()?;
                let mode = self.endpoint().read_mode();
                if self.endpoint().nowait() {
                    return io.conn.try_read(buf, mode);
                }
                io.read(buf, mode).await
            }

            /// Reads the next whole message, however long, appending it to
            /// `buf`, and returns its length: [`read_message`](Self::read_message)
            /// repeated while it says [`MoreData`](crate::MessageRead::MoreData).
            /// In byte read mode, appends what one read returns.
            ///
            /// # Cancellation
            /// Cancel safe in the same way as `read_message`: the pieces of
            /// the message appended before the future was dropped stay in
            /// `buf` (compare its length), and the next read returns the
            /// rest of that message.
            ///
            /// # Errors
            /// As [`read_message`](Self::read_message); on an error nothing is
            /// appended.
            pub async fn read_message_to_end(&self, buf: &mut Vec<u8>) -> $crate::Result<usize> {
                let start = buf.len();
                let mut piece = vec![0u8; 64 * 1024];
                loop {
                    match self.read_message(&mut piece).await {
                        Ok($crate::MessageRead::MoreData(n)) => {
                            buf.extend_from_slice(&piece[..n]);
                            // The rest waits whole in the connection.
                            let left = self.peek(&mut [])?.left_in_message;
                            if left > piece.len() {
                                piece.resize(left, 0);
                            }
                        }
                        Ok(read) => {
                            buf.extend_from_slice(&piece[..read.len()]);
                            return Ok(buf.len() - start);
                        }
                        Err(e) => {
                            buf.truncate(start);
                            return Err(e);
                        }
                    }
                }
            }

            /// Ends this end's writing while it keeps reading (a half-close,
            /// like the blocking [`close_write`](crate::NamedPipeClient::close_write)):
            /// first sends the rest of a message a write left half sent.
            ///
            /// # Cancellation
            /// Dropping it before it resolves leaves the writing side open.
            pub async fn close_write(&self) -> $crate::Result<()> {
                let io = self.io()?;
                io.push_unsent().await?;
                io.conn.close_write()
            }

            /// Reads what is there without waiting: the `PIPE_NOWAIT` read.
            /// [`Error::WouldBlock`](crate::Error::WouldBlock) when no whole
            /// message (byte pipe: no byte) is waiting.
            pub fn try_read_message(&self, buf: &mut [u8]) -> $crate::Result<$crate::MessageRead> {
                self.endpoint().check_read()?;
                self.io()?.conn.try_read(buf, self.endpoint().read_mode())
            }

            /// Writes `buf` (`WriteFile`): on a message-type pipe as one
            /// message, on a byte-type pipe as bytes, all of them. Resolves
            /// once everything is handed to the kernel (not yet read: see
            /// [`flush`](Self::flush)). In non-blocking mode it resolves at
            /// once with the bytes taken: a whole message or 0.
            ///
            /// # Cancellation
            /// Dropping the future before the message was taken sends
            /// nothing of it. Once it was taken, it is delivered whole: if
            /// the socket could take only part of a large message, the rest
            /// stays in the connection and goes out before anything else,
            /// pushed by the next read, write or flush on this handle (or
            /// the rest of this future). A message is never split, doubled
            /// or interleaved with another. Closing the handle with a rest
            /// unsent drops that message whole: the reader never sees part
            /// of it. On a byte pipe, bytes the future reported written
            /// were written; dropped before that, some may have been.
            ///
            /// # Errors
            /// As the blocking write: [`Error::NoData`](crate::Error::NoData)
            /// when the other end has closed,
            /// [`Error::PipeNotConnected`](crate::Error::PipeNotConnected)
            /// after a disconnect,
            /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge)
            /// above 1 GiB.
            #[doc(alias = "WriteFile")]
            pub async fn write_message(&self, buf: &[u8]) -> $crate::Result<usize> {
                self.endpoint().check_write()?;
                let io = self.io()?;
                if self.endpoint().nowait() {
                    return match io.conn.try_write(buf) {
                        Err($crate::Error::WouldBlock) => Ok(0),
                        other => other,
                    };
                }
                if !self.endpoint().is_message_pipe() {
                    let mut written = 0;
                    while written < buf.len() {
                        written += io.write(&buf[written..]).await?;
                    }
                    return Ok(written);
                }
                io.write(buf).await
            }

            /// Writes without waiting: the `PIPE_NOWAIT` write. A whole
            /// message or [`Error::WouldBlock`](crate::Error::WouldBlock);
            /// on a byte pipe, the bytes that fit.
            pub fn try_write_message(&self, buf: &[u8]) -> $crate::Result<usize> {
                self.endpoint().check_write()?;
                self.io()?.conn.try_write(buf)
            }

            /// Copies waiting data into `buf` without consuming it, and says
            /// how much is waiting (`PeekNamedPipe`). Never waits. On a
            /// message pipe only the first message is copied.
            #[doc(alias = "PeekNamedPipe")]
            pub fn peek(&self, buf: &mut [u8]) -> $crate::Result<$crate::PeekInfo> {
                let io = self.io()?;
                self.endpoint().peek(&io.conn, buf)
            }

            /// Writes one message and reads one reply (`TransactNamedPipe`),
            /// with the blocking [`transact`](crate::NamedPipeClient::transact)'s
            /// checks.
            ///
            /// # Cancellation
            /// Dropped before the request was taken: nothing was sent.
            /// Dropped after: the request is delivered whole (as with
            /// [`write_message`](Self::write_message)) and the reply, when
            /// it comes, waits for the next
            /// [`read_message`](Self::read_message).
            ///
            /// # Errors
            /// [`Error::BadPipe`](crate::Error::BadPipe) unless the pipe is
            /// message type and this handle in message read mode;
            /// [`Error::PipeBusy`](crate::Error::PipeBusy) if unread data is
            /// waiting.
            #[doc(alias = "TransactNamedPipe")]
            pub async fn transact(
                &self,
                input: &[u8],
                output: &mut [u8],
            ) -> $crate::Result<$crate::MessageRead> {
                let io = self.io()?;
                io.transact(self.endpoint(), input, output).await
            }

            /// Resolves once the other end has read everything written to it
            /// (`FlushFileBuffers`), first sending the rest of a half-sent
            /// message. Waits on the socket's writability edges (each read
            /// by the peer makes one) and the kernel's count of unread bytes
            /// (`SIOCOUTQ`), with a 2 ms re-check after each wake-up for a
            /// race in the kernel's count. `AsyncWriteExt::flush` does the same.
            ///
            /// # Cancellation
            /// Cancel safe: dropping it loses nothing; it only waits.
            #[doc(alias = "FlushFileBuffers")]
            pub async fn flush(&self) -> $crate::Result<()> {
                self.io()?.flush().await
            }

            /// Changes this handle's read mode (`SetNamedPipeHandleState`).
            ///
            /// # Errors
            /// [`Error::InvalidParameter`](crate::Error::InvalidParameter)
            /// for message read mode on a byte-type pipe.
            #[doc(alias = "SetNamedPipeHandleState")]
            pub fn set_read_mode(&self, mode: $crate::ReadMode) -> $crate::Result<()> {
                self.endpoint().set_read_mode(mode)
            }

            /// Switches this handle between waiting and non-blocking mode
            /// (`PIPE_WAIT` / `PIPE_NOWAIT`): in non-blocking mode
            /// `read_message`, `write_message` and a server's `connect`
            /// resolve at once. `AsyncRead` and `AsyncWrite` always wait.
            #[doc(alias = "PIPE_NOWAIT")]
            pub fn set_nowait(&self, nowait: bool) {
                self.endpoint().set_nowait(nowait)
            }
        }

        impl ::tokio::io::AsyncRead for &$ty {
            /// Reads like [`read_message`](#method.read_message), the std
            /// way: a message longer than `buf` is a short read (the rest
            /// follows), and the other end closing is the end of the stream.
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut ::tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let this: &$ty = *self;
                let result = match this.endpoint().check_read().and_then(|()| this.io()) {
                    Ok(io) => std::task::ready!(io.poll_read(
                        cx,
                        buf.initialize_unfilled(),
                        this.endpoint().read_mode()
                    )),
                    Err(e) => Err(e),
                };
                let n = $crate::pipe::endpoint::io_read(result)?;
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl ::tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut ::tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_read(cx, buf)
            }
        }

        impl ::tokio::io::AsyncWrite for &$ty {
            /// Writes like [`write_message`](#method.write_message): one
            /// message per call on a message-type pipe. Resolves once the
            /// message is taken; a rest that did not fit goes out with the
            /// next write, read or flush.
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let this: &$ty = *self;
                let io = match this.endpoint().check_write().and_then(|()| this.io()) {
                    Ok(io) => io,
                    Err(e) => return std::task::Poll::Ready(Err(e.into())),
                };
                io.poll_write(cx, buf).map_err(Into::into)
            }

            /// Waits until the other end has read everything
            /// ([`flush`](#method.flush)).
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                match self.io() {
                    Ok(io) => io.poll_flush(cx).map_err(Into::into),
                    Err(e) => std::task::Poll::Ready(Err(e.into())),
                }
            }

            /// Sends the rest of a half-sent message; the pipe itself closes
            /// when the handle is dropped.
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                match self.io() {
                    Ok(io) => io.poll_push_unsent(cx).map_err(Into::into),
                    Err(e) => std::task::Poll::Ready(Err(e.into())),
                }
            }
        }

        impl ::tokio::io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_shutdown(cx)
            }
        }
    };
}

pub(crate) use impl_async_pipe_io;
