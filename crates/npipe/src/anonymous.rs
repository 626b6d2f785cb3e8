//! Anonymous pipes: [`CreatePipe`] on Linux.
//!
//! An anonymous pipe is a one-way byte channel with a read end and a write
//! end and no name. On Linux it is a real kernel pipe (`pipe2(2)`), so the
//! ends are plain file descriptors that child processes understand without
//! npipe.
//!
//! | Win32 | npipe |
//! |---|---|
//! | [`CreatePipe`] | [`pipe`], [`AnonymousPipeOptions::create`] |
//! | `nSize` of `CreatePipe` | [`AnonymousPipeOptions::buffer_size`], [`PipeReader::buffer_size`] |
//! | `bInheritHandle` / [`SetHandleInformation`]`(HANDLE_FLAG_INHERIT)` | [`PipeReader::set_inheritable`], `Stdio::from(end)` |
//! | [`DuplicateHandle`] | [`PipeReader::try_clone`], [`PipeWriter::try_clone`] |
//! | `ReadFile` / `WriteFile` | [`std::io::Read`] / [`std::io::Write`] |
//! | `lpTotalBytesAvail` of [`PeekNamedPipe`] | [`PipeReader::bytes_available`] |
//! | `CloseHandle` | `drop` |
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let (mut reader, mut writer) = npipe::anonymous::pipe()?;
//! writer.write_all(b"hello")?;
//! drop(writer); // the last writer is gone: the reader sees the end of the data
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?;
//! assert_eq!(text, "hello");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Handing an end to a child process
//!
//! Both ends are close-on-exec when created, like handles created with
//! `bInheritHandle = FALSE`: a child process started by any thread does not
//! get them by accident. To give one to a child, turn it into its standard
//! input, output or error with `Stdio::from(end)`; `std::process::Command`
//! moves it onto fd 0, 1 or 2 in the child only, and closes the parent's copy
//! when the `Command` is dropped. To pass an end under another fd number,
//! call [`PipeReader::set_inheritable`]`(true)` (every child started while it
//! is set inherits it, as with `bInheritHandle = TRUE`) and tell the child
//! the number, for example on its command line.
//!
//! # End of data and broken pipes
//!
//! - Reading after every write end is closed returns `Ok(0)`, Rust's end of
//!   data, where `ReadFile` fails with `ERROR_BROKEN_PIPE`.
//! - Writing after every read end is closed fails with an [`io::Error`] of
//!   kind [`io::ErrorKind::BrokenPipe`] carrying [`Error::BrokenPipe`]
//!   (`ERROR_BROKEN_PIPE`); read it back with [`crate::win32_code_of`].
//!   Windows reports `ERROR_NO_DATA` for this case; both have the same
//!   `ErrorKind`.
//! - Such a write never kills the process with `SIGPIPE`, even in a host
//!   program (say, C code calling npipe) that left `SIGPIPE` at its default.
//!   When `SIGPIPE` is ignored, as in every Rust program, a write is a single
//!   `write(2)`; otherwise npipe blocks `SIGPIPE` in the writing thread
//!   around the write and discards the signal the write raised. If the host
//!   switches `SIGPIPE` from ignored back to its default later on, it should
//!   make (or clone) a write end afterwards: npipe looks at the disposition
//!   each time a write end is made and trusts "ignored" until the next time.
//!
//! [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
//! [`SetHandleInformation`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-sethandleinformation
//! [`DuplicateHandle`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-duplicatehandle
//! [`PeekNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-peeknamedpipe

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;

use crate::sys;
use crate::Error;

/// Creates an anonymous pipe with the system's default buffer size and
/// returns its read end and write end.
///
/// Same as `AnonymousPipeOptions::new().create()`, with the error as an
/// [`io::Error`]. Corresponds to [`CreatePipe`] with `nSize = 0` and no
/// inheritance.
///
/// # Errors
///
/// The error of `pipe2(2)`: too many open files in the process (`EMFILE`) or
/// the system (`ENFILE`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut reader, mut writer) = npipe::anonymous::pipe()?;
/// writer.write_all(b"ping")?;
/// let mut buf = [0; 4];
/// reader.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
#[doc(alias = "CreatePipe")]
pub fn pipe() -> io::Result<(PipeReader, PipeWriter)> {
    Ok(AnonymousPipeOptions::new().create()?)
}

/// Options for creating an anonymous pipe: the parameters of [`CreatePipe`].
///
/// [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
#[derive(Debug, Clone)]
pub struct AnonymousPipeOptions {
    // nSize
    buffer_size: usize,
}

impl AnonymousPipeOptions {
    /// Options with every default: the system's buffer size, ends not
    /// inherited by child processes.
    pub fn new() -> AnonymousPipeOptions {
        AnonymousPipeOptions { buffer_size: 0 }
    }

    /// Asks for a pipe buffer of at least `bytes` bytes; 0 keeps the
    /// system's default (64 KiB on Linux).
    ///
    /// Corresponds to `nSize` of [`CreatePipe`], and is a hint there as here.
    /// Default: 0.
    ///
    /// npipe applies it with `fcntl(F_SETPIPE_SZ)` right after creating the
    /// pipe. The kernel rounds it up to a power-of-two number of pages (so 1
    /// gives one page, 100 000 gives 128 KiB). A size the kernel refuses is
    /// clamped rather than reported:
    ///
    /// 1. sizes above `i32::MAX` are first lowered to `i32::MAX` (the kernel
    ///    then rounds to its 2 GiB ceiling);
    /// 2. if the kernel refuses (an unprivileged caller above
    ///    `/proc/sys/fs/pipe-max-size`, 1 MiB by default, or a ring too big to
    ///    allocate), npipe asks for `pipe-max-size` instead;
    /// 3. if that is refused too (the user is over
    ///    `/proc/sys/fs/pipe-user-pages-soft`), the pipe keeps the size the
    ///    kernel gave it.
    ///
    /// Processes with `CAP_SYS_RESOURCE` may go above `pipe-max-size`. Read
    /// the size chosen with [`PipeReader::buffer_size`].
    ///
    /// # Examples
    ///
    /// ```
    /// use npipe::anonymous::AnonymousPipeOptions;
    ///
    /// let (reader, _writer) = AnonymousPipeOptions::new().buffer_size(100_000).create()?;
    /// assert_eq!(reader.buffer_size()?, 128 * 1024);
    ///
    /// // Far too much: clamped, not refused.
    /// let (reader, _writer) = AnonymousPipeOptions::new().buffer_size(usize::MAX).create()?;
    /// assert!(reader.buffer_size()? >= 64 * 1024);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
    #[doc(alias = "nSize")]
    #[doc(alias = "F_SETPIPE_SZ")]
    pub fn buffer_size(&mut self, bytes: usize) -> &mut Self {
        self.buffer_size = bytes;
        self
    }

    /// Creates the pipe and returns its read end and write end.
    ///
    /// Corresponds to [`CreatePipe`]. Both ends are close-on-exec.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with the error of `pipe2(2)`: too many open files in the
    /// process (`EMFILE`) or the system (`ENFILE`). The buffer size never
    /// causes an error (see [`buffer_size`](Self::buffer_size)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (reader, writer) = npipe::anonymous::AnonymousPipeOptions::new().create()?;
    /// assert!(!reader.is_inheritable()? && !writer.is_inheritable()?);
    /// # Ok::<(), npipe::Error>(())
    /// ```
    ///
    /// [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
    #[doc(alias = "CreatePipe")]
    pub fn create(&self) -> crate::Result<(PipeReader, PipeWriter)> {
        let (read, write) = sys::pipe::create()?;
        if self.buffer_size != 0 {
            apply_size_hint(&read, self.buffer_size);
        }
        Ok((PipeReader::from(read), PipeWriter::from(write)))
    }
}

impl Default for AnonymousPipeOptions {
    fn default() -> Self {
        AnonymousPipeOptions::new()
    }
}

/// The read end of an anonymous pipe.
///
/// Read with [`std::io::Read`], through `&mut PipeReader` or `&PipeReader`.
/// A read blocks while the pipe is empty and a write end is open, and
/// returns `Ok(0)` once every write end is closed and the data is used up.
/// Closed on drop.
#[derive(Debug)]
pub struct PipeReader {
    fd: OwnedFd,
}

/// The write end of an anonymous pipe.
///
/// Write with [`std::io::Write`], through `&mut PipeWriter` or
/// `&PipeWriter`. A write blocks while the pipe is full; writes of at most
/// 4096 bytes (`PIPE_BUF`) are never interleaved with other writers'. A
/// write after every read end is closed fails with [`Error::BrokenPipe`],
/// without `SIGPIPE`. Closed on drop.
#[derive(Debug)]
pub struct PipeWriter {
    fd: OwnedFd,
}

impl PipeReader {
    /// The number of bytes in the pipe that a read would return without
    /// blocking.
    ///
    /// Corresponds to `lpTotalBytesAvail` of [`PeekNamedPipe`] on an
    /// anonymous pipe. Uses `ioctl(FIONREAD)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = npipe::anonymous::pipe()?;
    /// assert_eq!(reader.bytes_available()?, 0);
    /// writer.write_all(b"abc")?;
    /// assert_eq!(reader.bytes_available()?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`PeekNamedPipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-peeknamedpipe
    #[doc(alias = "PeekNamedPipe")]
    #[doc(alias = "FIONREAD")]
    pub fn bytes_available(&self) -> io::Result<usize> {
        sys::pipe::bytes_available(&self.fd)
    }
}

/// Methods both ends have; `$end` names the end in the docs.
macro_rules! common_methods {
    ($ty:ident, $end:literal) => {
        impl $ty {
            /// The capacity of the pipe's buffer in bytes: how much can be
            /// written before a writer blocks.
            ///
            /// Corresponds to the `nSize` that [`CreatePipe`] settled on;
            /// uses `fcntl(F_GETPIPE_SZ)`. Both ends report the same size.
            ///
            /// # Errors
            ///
            /// `EBADF` if this end was made from an fd that is not a pipe.
            ///
            /// # Examples
            ///
            /// ```
            /// let (reader, writer) = npipe::anonymous::pipe()?;
            /// assert_eq!(reader.buffer_size()?, writer.buffer_size()?);
            /// # Ok::<(), std::io::Error>(())
            /// ```
            ///
            /// [`CreatePipe`]: https://learn.microsoft.com/en-us/windows/win32/api/namedpipeapi/nf-namedpipeapi-createpipe
            #[doc(alias = "F_GETPIPE_SZ")]
            pub fn buffer_size(&self) -> io::Result<usize> {
                sys::pipe::size(&self.fd)
            }

            /// Lets child processes inherit this end across `exec`, or stops
            /// them (clears or sets `FD_CLOEXEC`).
            ///
            /// Corresponds to [`SetHandleInformation`] with
            /// `HANDLE_FLAG_INHERIT`, or `bInheritHandle` of `CreatePipe`'s
            /// security attributes. Default: not inherited. While set, every
            /// child that any thread starts gets this end under the same fd
            /// number, and a reader does not see the end of data while such
            /// a child keeps a write end. To give an end to one child as its
            /// standard input or output, prefer `Stdio::from(end)`, which
            /// needs no flag.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::os::fd::AsRawFd;
            ///
            /// let (reader, writer) = npipe::anonymous::pipe()?;
            /// # let _ = (&reader, &writer);
            #[doc = concat!($end, ".set_inheritable(true)?;")]
            #[doc = concat!("let status = std::process::Command::new(\"sh\")\n    .arg(\"-c\")\n    .arg(format!(\"test -e /proc/self/fd/{}\", ", $end, ".as_raw_fd()))\n    .status()?;")]
            #[doc = concat!($end, ".set_inheritable(false)?;")]
            /// assert!(status.success());
            /// # Ok::<(), std::io::Error>(())
            /// ```
            ///
            /// [`SetHandleInformation`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-sethandleinformation
            #[doc(alias = "SetHandleInformation")]
            #[doc(alias = "HANDLE_FLAG_INHERIT")]
            #[doc(alias = "FD_CLOEXEC")]
            pub fn set_inheritable(&self, inheritable: bool) -> io::Result<()> {
                sys::pipe::set_inheritable(&self.fd, inheritable)
            }

            /// Whether child processes inherit this end across `exec`
            /// (`FD_CLOEXEC` is clear).
            ///
            /// Corresponds to [`GetHandleInformation`] and
            /// `HANDLE_FLAG_INHERIT`. False for a new pipe.
            ///
            /// [`GetHandleInformation`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-gethandleinformation
            #[doc(alias = "GetHandleInformation")]
            pub fn is_inheritable(&self) -> io::Result<bool> {
                sys::pipe::is_inheritable(&self.fd)
            }
        }

        impl AsFd for $ty {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl IntoRawFd for $ty {
            fn into_raw_fd(self) -> RawFd {
                self.fd.into_raw_fd()
            }
        }

        impl From<$ty> for OwnedFd {
            fn from(end: $ty) -> OwnedFd {
                end.fd
            }
        }

        /// Makes the child's standard input, output or error this pipe end.
        ///
        /// The child gets it as fd 0, 1 or 2 without close-on-exec; the
        /// parent's copy closes when the `Command` is dropped. The flag on
        /// this fd is left alone, so other children do not inherit it.
        impl From<$ty> for Stdio {
            fn from(end: $ty) -> Stdio {
                Stdio::from(end.fd)
            }
        }
    };
}

common_methods!(PipeReader, "reader");
common_methods!(PipeWriter, "writer");

impl PipeReader {
    /// A second read end for the same pipe; the pipe stays readable until
    /// both are closed.
    ///
    /// Corresponds to [`DuplicateHandle`] within one process. The copy is
    /// close-on-exec, whatever this end is.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let (reader, mut writer) = npipe::anonymous::pipe()?;
    /// let copy = reader.try_clone()?;
    /// drop(reader);
    /// writer.write_all(b"kept open by the copy")?;
    /// assert_eq!(copy.bytes_available()?, 21);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`DuplicateHandle`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-duplicatehandle
    #[doc(alias = "DuplicateHandle")]
    pub fn try_clone(&self) -> io::Result<PipeReader> {
        Ok(PipeReader::from(sys::pipe::duplicate(&self.fd)?))
    }
}

impl PipeWriter {
    /// A second write end for the same pipe; readers see the end of the
    /// data only when both are closed.
    ///
    /// Corresponds to [`DuplicateHandle`] within one process. The copy is
    /// close-on-exec, whatever this end is.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (mut reader, mut writer) = npipe::anonymous::pipe()?;
    /// let mut copy = writer.try_clone()?;
    /// writer.write_all(b"one ")?;
    /// copy.write_all(b"two")?;
    /// drop((writer, copy));
    /// let mut text = String::new();
    /// reader.read_to_string(&mut text)?;
    /// assert_eq!(text, "one two");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// [`DuplicateHandle`]: https://learn.microsoft.com/en-us/windows/win32/api/handleapi/nf-handleapi-duplicatehandle
    #[doc(alias = "DuplicateHandle")]
    pub fn try_clone(&self) -> io::Result<PipeWriter> {
        Ok(PipeWriter::from(sys::pipe::duplicate(&self.fd)?))
    }
}

/// Takes ownership of an fd that is the read end of a pipe, such as an
/// inherited standard input. Its close-on-exec flag is left as it is.
impl From<OwnedFd> for PipeReader {
    fn from(fd: OwnedFd) -> PipeReader {
        PipeReader { fd }
    }
}

/// Takes ownership of an fd that is the write end of a pipe, such as an
/// inherited standard output. Its close-on-exec flag is left as it is.
impl From<OwnedFd> for PipeWriter {
    fn from(fd: OwnedFd) -> PipeWriter {
        // Each new writer refreshes what npipe knows of SIGPIPE (module docs).
        sys::signal::note_sigpipe_disposition();
        PipeWriter { fd }
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::pipe::read(&self.fd, buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        sys::pipe::read_vectored(&self.fd, bufs)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::pipe::write(&self.fd, buf).map_err(broken_pipe)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::pipe::write_vectored(&self.fd, bufs).map_err(broken_pipe)
    }

    /// Does nothing: a pipe has no buffer in the process to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

/// Applies the `nSize` hint as [`AnonymousPipeOptions::buffer_size`]
/// describes: ask, then clamp to `pipe-max-size`, then give up quietly.
fn apply_size_hint(fd: &OwnedFd, hint: usize) {
    let wanted = hint.min(i32::MAX as usize);
    if sys::pipe::set_size(fd, wanted).is_ok() {
        return;
    }
    if let Ok(max) = sys::pipe::max_size() {
        if max < wanted {
            let _ = sys::pipe::set_size(fd, max);
        }
    }
}

/// Gives `EPIPE` its Win32 identity, `ERROR_BROKEN_PIPE`.
pub(crate) fn broken_pipe(err: io::Error) -> io::Error {
    if err.kind() == io::ErrorKind::BrokenPipe {
        Error::BrokenPipe.into()
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::win32;

    fn options(bytes: usize) -> AnonymousPipeOptions {
        let mut options = AnonymousPipeOptions::new();
        options.buffer_size(bytes);
        options
    }

    #[test]
    fn bytes_written_are_read_back_in_order() {
        let (mut r, mut w) = pipe().unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let writer = std::thread::spawn(move || w.write_all(&data).map(|()| data));
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(got, writer.join().unwrap().unwrap());
    }

    #[test]
    fn shared_references_read_and_write() {
        let (r, w) = pipe().unwrap();
        (&w).write_all(b"xy").unwrap();
        let mut buf = [0; 2];
        (&r).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"xy");
    }

    #[test]
    fn reading_after_the_last_writer_is_gone_gives_end_of_data() {
        let (mut r, w) = pipe().unwrap();
        let w2 = w.try_clone().unwrap();
        (&w).write_all(b"z").unwrap();
        drop(w);
        assert_eq!(r.bytes_available().unwrap(), 1);
        drop(w2);
        let mut buf = [0; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 1);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
        assert_eq!(r.read(&mut buf).unwrap(), 0);
    }

    #[test]
    fn writing_after_the_last_reader_is_gone_gives_broken_pipe() {
        let (r, mut w) = pipe().unwrap();
        drop(r);
        for err in [
            w.write(b"x").unwrap_err(),
            w.write_vectored(&[IoSlice::new(b"x")]).unwrap_err(),
            w.write_all(b"x").unwrap_err(),
        ] {
            assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
            assert_eq!(crate::win32_code_of(&err), win32::ERROR_BROKEN_PIPE);
            assert!(matches!(Error::from_io(&err), Some(Error::BrokenPipe)));
        }
    }

    #[test]
    fn a_reader_clone_keeps_the_pipe_open() {
        let (r, mut w) = pipe().unwrap();
        let mut r2 = r.try_clone().unwrap();
        drop(r);
        w.write_all(b"still").unwrap();
        let mut buf = [0; 5];
        r2.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"still");
        assert_ne!(r2.as_raw_fd(), w.as_raw_fd());
    }

    #[test]
    fn ends_are_not_inherited_by_default_and_clones_neither() {
        let (r, w) = pipe().unwrap();
        assert!(!r.is_inheritable().unwrap());
        assert!(!w.is_inheritable().unwrap());
        w.set_inheritable(true).unwrap();
        assert!(w.is_inheritable().unwrap());
        assert!(!w.try_clone().unwrap().is_inheritable().unwrap());
        w.set_inheritable(false).unwrap();
        assert!(!w.is_inheritable().unwrap());
    }

    #[test]
    fn zero_keeps_the_default_size() {
        let (r, w) = options(0).create().unwrap();
        let (r0, _) = pipe().unwrap();
        assert_eq!(r.buffer_size().unwrap(), r0.buffer_size().unwrap());
        assert_eq!(w.buffer_size().unwrap(), r0.buffer_size().unwrap());
    }

    #[test]
    fn size_hint_is_rounded_up_to_a_power_of_two_of_pages() {
        let (r, w) = options(100_000).create().unwrap();
        assert_eq!(r.buffer_size().unwrap(), 128 * 1024);
        assert_eq!(w.buffer_size().unwrap(), 128 * 1024);
        let (r, _w) = options(1).create().unwrap();
        let one = r.buffer_size().unwrap();
        assert!(
            one.is_power_of_two() && (4096..=65536).contains(&one),
            "{one}"
        );
    }

    #[test]
    fn size_hint_may_shrink_the_buffer() {
        let (r, _w) = options(8192).create().unwrap();
        let (r0, _) = pipe().unwrap();
        assert!(r.buffer_size().unwrap() < r0.buffer_size().unwrap());
    }

    /// As root the kernel takes sizes above `pipe-max-size`; as a user it
    /// clamps to it. Either way `create` succeeds. The unprivileged case is
    /// checked exactly in `npipe-tests` (the helper drops to `nobody`).
    #[test]
    fn oversized_hints_are_clamped_not_refused() {
        let max = sys::pipe::max_size().unwrap();
        for hint in [max + 1, 1 << 40, usize::MAX] {
            let (r, mut w) = options(hint).create().unwrap();
            let size = r.buffer_size().unwrap();
            assert!(size >= max.min(64 * 1024), "hint {hint}: size {size}");
            w.write_all(b"works").unwrap();
        }
    }

    #[test]
    fn the_buffer_holds_its_size_and_no_more() {
        let (r, mut w) = options(4096).create().unwrap();
        let size = w.buffer_size().unwrap();
        w.write_all(&vec![7; size]).unwrap();
        assert_eq!(r.bytes_available().unwrap(), size);
    }

    #[test]
    fn owned_fd_round_trip_keeps_the_pipe() {
        let (r, w) = pipe().unwrap();
        let (r, mut w) = (
            PipeReader::from(OwnedFd::from(r)),
            PipeWriter::from(OwnedFd::from(w)),
        );
        w.write_all(b"q").unwrap();
        assert_eq!(r.bytes_available().unwrap(), 1);
        let _stdio: Stdio = r.into();
    }
}
