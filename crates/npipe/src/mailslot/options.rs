//! The builders: [`MailslotOptions`] (CreateMailslot) and
//! [`MailslotWriterOptions`] (CreateFile on a mailslot name), and the read
//! time-out.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::network::NetworkOptions;
use crate::namespace::{AllowList, Namespace};

/// A shared network key; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretKey(pub(crate) Vec<u8>);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// `MAILSLOT_WAIT_FOREVER`: the `lReadTimeout` value that waits without
/// limit, as [`MailslotTimeout::from_millis`] reads it.
pub const MAILSLOT_WAIT_FOREVER: u32 = u32::MAX;

/// How long a read waits for a message (`lReadTimeout` of
/// [`CreateMailslot`], changed by `SetMailslotInfo`).
///
/// ```
/// use npipe::mailslot::MailslotTimeout;
/// assert_eq!(MailslotTimeout::from_millis(0), MailslotTimeout::Immediate);
/// assert_eq!(MailslotTimeout::from_millis(u32::MAX), MailslotTimeout::Forever);
/// assert_eq!(MailslotTimeout::Millis(250).as_millis(), 250);
/// ```
///
/// [`CreateMailslot`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-createmailslota
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MailslotTimeout {
    /// `0`: a read returns at once, with
    /// [`Error::Timeout`](crate::Error::Timeout) if no message is waiting.
    Immediate,
    /// Wait up to this many milliseconds.
    Millis(u32),
    /// `MAILSLOT_WAIT_FOREVER`: wait until a message comes.
    Forever,
}

impl MailslotTimeout {
    /// Reads an `lReadTimeout` value: 0 is [`Immediate`](Self::Immediate),
    /// [`MAILSLOT_WAIT_FOREVER`] is [`Forever`](Self::Forever).
    pub fn from_millis(millis: u32) -> MailslotTimeout {
        match millis {
            0 => MailslotTimeout::Immediate,
            MAILSLOT_WAIT_FOREVER => MailslotTimeout::Forever,
            ms => MailslotTimeout::Millis(ms),
        }
    }

    /// The `lReadTimeout` value.
    pub fn as_millis(self) -> u32 {
        match self {
            MailslotTimeout::Immediate => 0,
            MailslotTimeout::Millis(ms) => ms,
            MailslotTimeout::Forever => MAILSLOT_WAIT_FOREVER,
        }
    }

    /// The wait as a duration; `None` for forever.
    pub fn as_duration(self) -> Option<Duration> {
        match self {
            MailslotTimeout::Forever => None,
            other => Some(Duration::from_millis(u64::from(other.as_millis()))),
        }
    }
}

/// Creates mailslots: one method per parameter of [`CreateMailslot`],
/// every default set in [`MailslotOptions::new`], plus the network
/// settings Windows keeps elsewhere.
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::mailslot::{MailslotOptions, MailslotTimeout};
/// let slot = MailslotOptions::new()
///     .root(root.path())
///     .max_message_size(512)
///     .read_timeout(MailslotTimeout::Millis(100))
///     .create(r"\\.\mailslot\doc-options")?;
/// assert_eq!(slot.info()?.max_message_size, 512);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`CreateMailslot`]: https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-createmailslota
#[derive(Debug, Clone)]
pub struct MailslotOptions {
    // nMaxMessageSize
    pub(crate) max_message_size: usize,
    // lReadTimeout
    pub(crate) read_timeout: MailslotTimeout,
    // lpSecurityAttributes
    pub(crate) allow: AllowList,
    // the network: no Win32 parameter (Windows always listens)
    pub(crate) accept_network: bool,
    pub(crate) network_key: Option<SecretKey>,
    pub(crate) network: Option<NetworkOptions>,
    // where the name lives
    pub(crate) namespace: Option<Namespace>,
}

impl Default for MailslotOptions {
    fn default() -> Self {
        MailslotOptions::new()
    }
}

impl MailslotOptions {
    /// Options for a mailslot that takes messages of any size up to
    /// [`MAX_LOCAL_MESSAGE`](super::MAX_LOCAL_MESSAGE), waits forever on
    /// reads, lets only its owner's uid (and root) write, and ignores the
    /// network.
    pub fn new() -> MailslotOptions {
        MailslotOptions {
            max_message_size: 0,
            read_timeout: MailslotTimeout::Forever,
            allow: AllowList::default(),
            accept_network: false,
            network_key: None,
            network: None,
            namespace: None,
        }
    }

    /// The largest message writers may send, in bytes (`nMaxMessageSize`);
    /// 0 takes any size up to [`MAX_LOCAL_MESSAGE`](super::MAX_LOCAL_MESSAGE).
    /// Default: 0.
    ///
    /// # Errors
    /// [`create`](Self::create) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) above
    /// [`MAX_LOCAL_MESSAGE`](super::MAX_LOCAL_MESSAGE). A writer's larger
    /// message is refused with
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge), and a
    /// larger network datagram is dropped and counted.
    #[doc(alias = "nMaxMessageSize")]
    pub fn max_message_size(&mut self, bytes: usize) -> &mut Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a read waits for a message (`lReadTimeout`). Default:
    /// [`MailslotTimeout::Forever`].
    #[doc(alias = "lReadTimeout")]
    #[doc(alias = "MAILSLOT_WAIT_FOREVER")]
    pub fn read_timeout(&mut self, timeout: MailslotTimeout) -> &mut Self {
        self.read_timeout = timeout;
        self
    }

    /// Also lets processes running as `uid` write. The owner and root may
    /// always write. Enforced by the socket file's permissions (a POSIX ACL)
    /// and by the reader against each writer's kernel credentials.
    #[doc(alias = "lpSecurityAttributes")]
    pub fn allow_uid(&mut self, uid: u32) -> &mut Self {
        self.allow.uids.push(uid);
        self
    }

    /// Also lets processes whose primary group is `gid` write.
    pub fn allow_gid(&mut self, gid: u32) -> &mut Self {
        self.allow.gids.push(gid);
        self
    }

    /// Lets every local user write (a null DACL on Windows). Default: off.
    pub fn allow_everyone(&mut self, everyone: bool) -> &mut Self {
        self.allow.everyone = everyone;
        self
    }

    /// Also receives messages sent across the network to this mailslot's
    /// name (`\\HOST\mailslot\NAME`, `\\DOMAIN\mailslot\NAME`,
    /// `\\*\mailslot\NAME`). Windows mailslots always do; npipe makes it
    /// opt-in so a mailslot is not reachable from the network by accident.
    /// Default: off.
    ///
    /// # Errors
    /// [`create`](Self::create) gives [`Error::Io`](crate::Error::Io) if
    /// the UDP port cannot be bound or a multicast group cannot be joined
    /// (no route for multicast: set [`NetworkOptions::interface`]).
    pub fn accept_network(&mut self, accept: bool) -> &mut Self {
        self.accept_network = accept;
        self
    }

    /// Accepts only network datagrams signed with this shared key
    /// (HMAC-SHA256); unsigned and forged ones are dropped and counted in
    /// [`MailslotInfo::dropped_datagrams`](super::MailslotInfo::dropped_datagrams).
    /// Default: none (any datagram is accepted).
    ///
    /// # Errors
    /// [`create`](Self::create) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an
    /// empty key.
    pub fn network_key(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.network_key = Some(SecretKey(key.into()));
        self
    }

    /// Uses these network settings instead of
    /// [`NetworkOptions::from_env`].
    pub fn network(&mut self, network: NetworkOptions) -> &mut Self {
        self.network = Some(network);
        self
    }

    /// Uses the namespace directory `root` instead of the default
    /// ([`Namespace::from_env`]).
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.namespace = Some(Namespace::at(root));
        self
    }

    /// Uses this namespace.
    pub fn namespace(&mut self, namespace: Namespace) -> &mut Self {
        self.namespace = Some(namespace);
        self
    }

    pub(crate) fn ns(&self) -> Namespace {
        self.namespace.clone().unwrap_or_else(Namespace::from_env)
    }
}

/// Opens mailslots for writing (`CreateFile` on `\\.\mailslot\NAME`, and
/// on the network forms).
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::mailslot::{MailslotOptions, MailslotWriterOptions};
/// let slot = MailslotOptions::new().root(root.path()).create(r"\\.\mailslot\doc-writer-options")?;
/// let writer = MailslotWriterOptions::new().root(root.path()).open(r"\\.\mailslot\doc-writer-options")?;
/// writer.write(b"ping")?;
/// assert_eq!(slot.read_message()?, b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MailslotWriterOptions {
    pub(crate) network_key: Option<SecretKey>,
    pub(crate) network: Option<NetworkOptions>,
    pub(crate) namespace: Option<Namespace>,
}

impl MailslotWriterOptions {
    /// Options with the default namespace, network settings from the
    /// environment, and unsigned network datagrams.
    pub fn new() -> MailslotWriterOptions {
        MailslotWriterOptions::default()
    }

    /// Signs every network datagram with this shared key (HMAC-SHA256), so
    /// mailslots that require the key accept it. Local messages are not
    /// signed: the kernel vouches for local writers.
    ///
    /// # Errors
    /// [`open`](Self::open) gives
    /// [`Error::InvalidParameter`](crate::Error::InvalidParameter) for an
    /// empty key.
    pub fn network_key(&mut self, key: impl Into<Vec<u8>>) -> &mut Self {
        self.network_key = Some(SecretKey(key.into()));
        self
    }

    /// Uses these network settings instead of
    /// [`NetworkOptions::from_env`].
    pub fn network(&mut self, network: NetworkOptions) -> &mut Self {
        self.network = Some(network);
        self
    }

    /// Uses the namespace directory `root` instead of the default.
    pub fn root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.namespace = Some(Namespace::at(root));
        self
    }

    /// Uses this namespace.
    pub fn namespace(&mut self, namespace: Namespace) -> &mut Self {
        self.namespace = Some(namespace);
        self
    }

    pub(crate) fn ns(&self) -> Namespace {
        self.namespace.clone().unwrap_or_else(Namespace::from_env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_key() {
        let mut slot = MailslotOptions::new();
        slot.network_key("s3cret-key");
        let mut writer = MailslotWriterOptions::new();
        writer.network_key("s3cret-key");
        for text in [format!("{slot:?}"), format!("{writer:?}")] {
            assert!(!text.contains("s3cret"), "{text}");
            assert!(!text.contains("115, 51"), "{text}"); // "s3" as bytes
            assert!(text.contains("redacted"), "{text}");
        }
    }
}
