//! The mailslot itself, the reading end: CreateMailslot, ReadFile,
//! GetMailslotInfo, SetMailslotInfo.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::inbox::{Inbox, Waitable};
use super::meta::MailslotMeta;
use super::options::{MailslotOptions, MailslotTimeout};
use super::slot_dir::{self, Claim};
use super::MAX_LOCAL_MESSAGE;
use crate::name::{NameKind, PipeName};
use crate::proto::datagram::{fold, Policy};
use crate::sys::{fs, poll, socket, udp::Udp};
use crate::{Error, Result};

/// A mailslot: a one-way inbox of whole messages with one reader (its
/// creator) and any number of writers ([`MailslotWriter`](super::MailslotWriter)).
///
/// Created by [`MailslotOptions::create`] or [`Mailslot::create`]. Dropping
/// it deletes the mailslot (`CloseHandle`): its name is free again at once,
/// writers get [`Error::FileNotFound`], and messages not read are lost. A
/// reader killed with SIGKILL frees the name as well.
///
/// All methods take `&self`; the mailslot is `Send + Sync`.
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::mailslot::{MailslotOptions, MailslotWriterOptions};
/// let name = r"\\.\mailslot\doc-mailslot";
/// let slot = MailslotOptions::new().root(root.path()).create(name)?;
/// let writer = MailslotWriterOptions::new().root(root.path()).open(name)?;
/// writer.write(b"first")?;
/// writer.write(b"")?;
/// let info = slot.info()?;
/// assert_eq!((info.message_count, info.next_size), (2, Some(5)));
/// let mut buf = [0; 64];
/// let n = slot.read(&mut buf)?;
/// assert_eq!(&buf[..n], b"first");
/// assert_eq!(slot.read(&mut buf)?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mailslot {
    name: PipeName,
    max_message_size: usize,
    read_timeout: Mutex<MailslotTimeout>,
    inbox: Mutex<Inbox>,
    /// Waiting readers, woken through `wake_tx` when another thread moves
    /// messages into the queue (their poll would not see them otherwise).
    waiting: Mutex<usize>,
    wake_tx: OwnedFd,
    wake_rx: std::sync::Arc<OwnedFd>,
    _claim: Claim,
}

/// What [`Mailslot::info`] reports (`GetMailslotInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailslotInfo {
    /// The largest message accepted (`lpMaxMessageSize`); 0 means any size
    /// up to [`MAX_LOCAL_MESSAGE`].
    pub max_message_size: usize,
    /// The size of the next message (`lpNextSize`); `None` when none waits
    /// (`MAILSLOT_NO_MESSAGE`).
    pub next_size: Option<usize>,
    /// How many messages wait (`lpMessageCount`).
    pub message_count: usize,
    /// The read time-out (`lpReadTimeout`).
    pub read_timeout: MailslotTimeout,
    /// Network datagrams (and local records) dropped since creation:
    /// malformed, unsigned or forged when a key is required, or larger than
    /// the maximum message size. No Win32 counterpart.
    pub dropped_datagrams: u64,
}

impl MailslotOptions {
    /// Creates the mailslot `name` (`\\.\mailslot\NAME`) and makes this
    /// process its reader (`CreateMailslot`).
    ///
    /// # Errors
    /// - [`Error::BadPathname`]: not a local mailslot name.
    /// - [`Error::AlreadyExists`] (`ERROR_ALREADY_EXISTS`): a live mailslot
    ///   has this name.
    /// - [`Error::InvalidParameter`]: a maximum size above
    ///   [`MAX_LOCAL_MESSAGE`], an empty network key, or bad network
    ///   settings.
    /// - [`Error::AccessDenied`]: another user's dead mailslot left the
    ///   name's directory behind.
    /// - [`Error::Io`]: the network port or groups could not be set up.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// use npipe::mailslot::MailslotOptions;
    /// let name = r"\\.\mailslot\doc-create";
    /// let _slot = MailslotOptions::new().root(root.path()).create(name)?;
    /// let err = MailslotOptions::new().root(root.path()).create(name).unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_ALREADY_EXISTS);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "CreateMailslot")]
    pub fn create(&self, name: impl AsRef<str>) -> Result<Mailslot> {
        let name = PipeName::parse(name.as_ref())?;
        if name.kind() != NameKind::Mailslot || !name.is_local() {
            return Err(Error::BadPathname {
                name: name.to_string(),
                reason: r"a mailslot is created on this computer: \\.\mailslot\NAME".into(),
            });
        }
        if self.max_message_size > MAX_LOCAL_MESSAGE {
            return Err(Error::InvalidParameter {
                reason: format!(
                    "max_message_size is {}; at most {MAX_LOCAL_MESSAGE} bytes are allowed",
                    self.max_message_size
                ),
            });
        }
        if self.network_key.as_ref().is_some_and(|k| k.0.is_empty()) {
            return Err(Error::InvalidParameter {
                reason: "the network key is empty".into(),
            });
        }
        let net = if self.accept_network {
            let options = match &self.network {
                Some(options) => options.clone(),
                None => super::NetworkOptions::from_env()?,
            };
            options.check()?;
            Some(options)
        } else {
            None
        };
        let me = fs::identity();
        let meta = MailslotMeta {
            name: name.to_string(),
            key: name.key().to_string(),
            pid: me.pid,
            owner_uid: me.uid,
            max_message_size: self.max_message_size,
            allow: self.allow.clone(),
        };
        let (claim, listener) = slot_dir::claim(&self.ns(), &name, &meta)?;
        let net = match net {
            None => None,
            Some(options) => {
                let mut groups = vec![options.group_of(&options.host)];
                let domain_group = options.group_of(&options.domain);
                if !groups.contains(&domain_group) {
                    groups.push(domain_group);
                }
                let udp = Udp::receiver(options.port, &groups, options.interface)?;
                let policy = Policy {
                    name: fold(name.path()),
                    host: options.host.clone(),
                    domain: options.domain.clone(),
                    key: self.network_key.as_ref().map(|k| k.0.clone()),
                    max_message_size: self.max_message_size,
                };
                Some((udp, policy))
            }
        };
        let (wake_tx, wake_rx) = socket::seqpacket_pair()?;
        Ok(Mailslot {
            name,
            max_message_size: self.max_message_size,
            read_timeout: Mutex::new(self.read_timeout),
            inbox: Mutex::new(Inbox::new(
                listener,
                net,
                me.uid,
                self.allow.clone(),
                self.max_message_size,
            )),
            waiting: Mutex::new(0),
            wake_tx,
            wake_rx: std::sync::Arc::new(wake_rx),
            _claim: claim,
        })
    }
}

impl Mailslot {
    /// Creates the mailslot `name` with the default options
    /// ([`MailslotOptions::new`]) in the default namespace.
    ///
    /// # Errors
    /// As [`MailslotOptions::create`].
    #[doc(alias = "CreateMailslot")]
    pub fn create(name: impl AsRef<str>) -> Result<Mailslot> {
        MailslotOptions::new().create(name)
    }

    /// The mailslot's name as given to `create`.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Reads the next message into `buf` and returns its length: one whole
    /// message per call (`ReadFile`). Waits up to the read time-out for one
    /// to come.
    ///
    /// # Errors
    /// - [`Error::InsufficientBuffer`] (`ERROR_INSUFFICIENT_BUFFER`): the
    ///   next message is longer than `buf`; it stays queued.
    /// - [`Error::Timeout`] (`ERROR_SEM_TIMEOUT`): no message came in time
    ///   (at once for [`MailslotTimeout::Immediate`]).
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// use npipe::mailslot::{MailslotOptions, MailslotTimeout, MailslotWriterOptions};
    /// let name = r"\\.\mailslot\doc-read";
    /// let slot = MailslotOptions::new().root(root.path())
    ///     .read_timeout(MailslotTimeout::Immediate).create(name)?;
    /// let mut buf = [0; 4];
    /// assert_eq!(slot.read(&mut buf).unwrap_err().win32_code(), npipe::win32::ERROR_SEM_TIMEOUT);
    /// MailslotWriterOptions::new().root(root.path()).open(name)?.write(b"too long")?;
    /// let err = slot.read(&mut buf).unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_INSUFFICIENT_BUFFER);
    /// assert_eq!(slot.read_message()?, b"too long");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "ReadFile")]
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.next_with(|queue| {
            let next = queue.front().map_or(0, Vec::len);
            if next > buf.len() {
                return Err(Error::InsufficientBuffer {
                    needed: next,
                    buffer: buf.len(),
                });
            }
            let message = queue.pop_front().unwrap_or_default();
            buf[..message.len()].copy_from_slice(&message);
            Ok(message.len())
        })
    }

    /// Reads the next message into a new vector, whatever its size.
    ///
    /// # Errors
    /// [`Error::Timeout`] as for [`read`](Self::read).
    pub fn read_message(&self) -> Result<Vec<u8>> {
        self.next_with(|queue| Ok(queue.pop_front().unwrap_or_default()))
    }

    /// The mailslot's state (`GetMailslotInfo`): its limits, and the size
    /// and number of messages waiting now, counted exactly (every message
    /// that has arrived is first moved into the reader's queue).
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let slot = npipe::mailslot::MailslotOptions::new().root(root.path())
    ///     .create(r"\\.\mailslot\doc-info")?;
    /// let info = slot.info()?;
    /// assert_eq!((info.message_count, info.next_size), (0, None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "GetMailslotInfo")]
    pub fn info(&self) -> Result<MailslotInfo> {
        let mut inbox = self.pumped()?;
        let queue = inbox.queue();
        Ok(MailslotInfo {
            max_message_size: self.max_message_size,
            next_size: queue.front().map(Vec::len),
            message_count: queue.len(),
            read_timeout: *lock(&self.read_timeout),
            dropped_datagrams: inbox.dropped(),
        })
    }

    /// Network datagrams (and local records) dropped since creation; see
    /// [`MailslotInfo::dropped_datagrams`].
    pub fn dropped_datagrams(&self) -> Result<u64> {
        Ok(self.info()?.dropped_datagrams)
    }

    /// Changes the read time-out (`SetMailslotInfo`). Reads already waiting
    /// keep the time-out they started with.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// use npipe::mailslot::{MailslotOptions, MailslotTimeout};
    /// let slot = MailslotOptions::new().root(root.path()).create(r"\\.\mailslot\doc-set-info")?;
    /// slot.set_read_timeout(MailslotTimeout::Millis(10));
    /// assert_eq!(slot.info()?.read_timeout, MailslotTimeout::Millis(10));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "SetMailslotInfo")]
    pub fn set_read_timeout(&self, timeout: MailslotTimeout) {
        *lock(&self.read_timeout) = timeout;
    }

    /// The inbox after a pump, waking waiting readers if messages came.
    fn pumped(&self) -> Result<MutexGuard<'_, Inbox>> {
        let mut inbox = lock(&self.inbox);
        if inbox.pump()? > 0 && *lock(&self.waiting) > 0 {
            // Full or not, a queued byte wakes every waiter; ignore errors.
            let _ = socket::send(self.wake_tx.as_fd(), b"w", true);
        }
        Ok(inbox)
    }

    /// Waits for a message and hands the queue to `take` once one is there.
    fn next_with<T>(
        &self,
        take: impl FnOnce(&mut std::collections::VecDeque<Vec<u8>>) -> Result<T>,
    ) -> Result<T> {
        let timeout = lock(&self.read_timeout).as_duration();
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let (waitables, remaining): (Vec<Waitable>, _) = {
                let mut inbox = self.pumped()?;
                if !inbox.queue().is_empty() {
                    return take(inbox.queue());
                }
                let remaining = match deadline {
                    None => None,
                    Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                        Some(left) if !left.is_zero() => Some(left),
                        _ => return Err(Error::Timeout),
                    },
                };
                // Counted while the inbox is locked, so a pump by another
                // thread after this point knows to wake us.
                *lock(&self.waiting) += 1;
                (inbox.waitables(), remaining)
            };
            let mut fds: Vec<BorrowedFd<'_>> = waitables.iter().map(|w| w.as_fd()).collect();
            fds.push(self.wake_rx.as_fd());
            let woke = poll::wait_any_readable(&fds, remaining);
            *lock(&self.waiting) -= 1;
            let mut drain = [0u8; 16];
            while matches!(socket::recv(self.wake_rx.as_fd(), &mut drain, true), Ok(n) if n > 0) {}
            woke?;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc_support::TempRoot;
    use crate::mailslot::MailslotWriterOptions;
    use std::sync::Arc;
    use std::time::Duration;

    fn create(root: &TempRoot, name: &str) -> Mailslot {
        MailslotOptions::new()
            .root(root.path())
            .create(name)
            .unwrap()
    }

    fn writer(root: &TempRoot, name: &str) -> crate::MailslotWriter {
        MailslotWriterOptions::new()
            .root(root.path())
            .open(name)
            .unwrap()
    }

    #[test]
    fn a_waiting_read_wakes_when_a_message_comes() {
        let root = TempRoot::new().unwrap();
        let slot = create(&root, r"\\.\mailslot\t-wake");
        let w = writer(&root, r"\\.\mailslot\t-wake");
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w.write(b"late").unwrap();
        });
        assert_eq!(slot.read_message().unwrap(), b"late");
        t.join().unwrap();
    }

    #[test]
    fn a_waiting_read_wakes_when_another_thread_pumps_the_message() {
        let root = TempRoot::new().unwrap();
        let slot = Arc::new(create(&root, r"\\.\mailslot\t-pump"));
        slot.set_read_timeout(MailslotTimeout::Millis(5000));
        let reader = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || {
                let start = Instant::now();
                (slot.read_message(), start.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        writer(&root, r"\\.\mailslot\t-pump").write(b"m").unwrap();
        // info moves the message into the queue before the reader's poll
        // sees it on the socket; the reader must still wake at once.
        let _ = slot.info().unwrap();
        let (got, waited) = reader.join().unwrap();
        assert_eq!(got.unwrap(), b"m");
        assert!(waited < Duration::from_secs(4), "{waited:?}");
    }

    #[test]
    fn closing_frees_the_name_and_writers_see_it_gone() {
        let root = TempRoot::new().unwrap();
        let name = r"\\.\mailslot\t-close";
        let slot = create(&root, name);
        let w = writer(&root, name);
        drop(slot);
        let err = w.write(b"x").unwrap_err();
        assert_eq!(err.win32_code(), crate::win32::ERROR_FILE_NOT_FOUND);
        let err = MailslotWriterOptions::new()
            .root(root.path())
            .open(name)
            .unwrap_err();
        assert_eq!(err.win32_code(), crate::win32::ERROR_FILE_NOT_FOUND);
        let _again = create(&root, name);
    }

    #[test]
    fn timed_reads_give_sem_timeout_after_the_wait() {
        let root = TempRoot::new().unwrap();
        let slot = create(&root, r"\\.\mailslot\t-timeout");
        slot.set_read_timeout(MailslotTimeout::Millis(60));
        let start = Instant::now();
        let err = slot.read(&mut [0; 8]).unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err}");
        assert!(start.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn bad_names_and_sizes_are_refused() {
        let root = TempRoot::new().unwrap();
        let options = || {
            let mut o = MailslotOptions::new();
            o.root(root.path());
            o
        };
        for name in [r"\\.\pipe\x", r"\\*\mailslot\x", r"\\host\mailslot\x"] {
            let err = options().create(name).unwrap_err();
            assert!(matches!(err, Error::BadPathname { .. }), "{name}: {err}");
        }
        let err = options()
            .max_message_size(MAX_LOCAL_MESSAGE + 1)
            .create(r"\\.\mailslot\t-big")
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
        let err = options()
            .network_key(Vec::new())
            .create(r"\\.\mailslot\t-key")
            .unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{err}");
    }

    #[test]
    fn a_writer_with_a_full_buffer_waits_until_the_reader_reads() {
        let root = TempRoot::new().unwrap();
        let name = r"\\.\mailslot\t-full";
        let slot = create(&root, name);
        let w = writer(&root, name);
        // 16 MiB: far more than any writer's send buffer.
        const COUNT: usize = 256;
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            for i in 0..COUNT {
                w.write(&vec![i as u8; MAX_LOCAL_MESSAGE]).unwrap();
            }
            tx.send(()).unwrap();
        });
        std::thread::sleep(Duration::from_millis(200));
        assert!(rx.try_recv().is_err(), "the writer should be waiting");
        for i in 0..COUNT {
            let m = slot.read_message().unwrap();
            assert_eq!((m.len(), m[0]), (MAX_LOCAL_MESSAGE, i as u8));
        }
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn the_largest_local_message_arrives_whole() {
        let root = TempRoot::new().unwrap();
        let slot = create(&root, r"\\.\mailslot\t-largest");
        let w = writer(&root, r"\\.\mailslot\t-largest");
        let big: Vec<u8> = (0..MAX_LOCAL_MESSAGE).map(|i| i as u8).collect();
        w.write(&big).unwrap();
        let err = w.write(&[0; MAX_LOCAL_MESSAGE + 1]).unwrap_err();
        assert!(matches!(err, Error::MessageTooLarge { .. }), "{err}");
        assert_eq!(slot.info().unwrap().next_size, Some(MAX_LOCAL_MESSAGE));
        assert_eq!(slot.read_message().unwrap(), big);
    }
}
