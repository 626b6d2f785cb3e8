//! The writing end: CreateFile on a mailslot name, then WriteFile, on this
//! computer or across the network.

use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, OwnedFd};

use super::network::NetworkOptions;
use super::options::{MailslotWriterOptions, SecretKey};
use super::{slot_dir, MAX_LOCAL_MESSAGE, MAX_NETWORK_MESSAGE};
use crate::name::{Host, NameKind, PipeName};
use crate::proto::datagram::{self, fold, DatagramError, Target, LOCAL_TAG};
use crate::sys::{fs, seqpacket, socket, udp::Udp};
use crate::{Error, Result};

/// A handle for writing to a mailslot: on this computer
/// (`\\.\mailslot\NAME`), on another (`\\HOST\mailslot\NAME`), in a domain
/// (`\\DOMAIN\mailslot\NAME`) or in this computer's domain
/// (`\\*\mailslot\NAME`).
///
/// Each [`write`](Self::write) is one message, delivered whole or not at
/// all. Any number of writers, in any processes, may write to one mailslot
/// at once; their messages never interleave.
///
/// **Local** messages go through a Unix socket straight to the reader,
/// after the same checks as for pipes. A writer waits while the reader
/// leaves about 200 KiB of its messages unread (the socket's send buffer);
/// Windows never blocks a mailslot writer, but buffers without bound.
///
/// **Network** messages are UDP datagrams of at most
/// [`MAX_NETWORK_MESSAGE`] (424) bytes. Delivery is best effort, as on
/// Windows: a write succeeds once the datagram is sent, whether or not any
/// mailslot receives it, and datagrams can be lost, duplicated or
/// reordered on the way; nothing tells the writer.
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// use npipe::mailslot::{MailslotOptions, MailslotWriterOptions};
/// let name = r"\\.\mailslot\doc-writer";
/// let slot = MailslotOptions::new().root(root.path()).max_message_size(8).create(name)?;
/// let writer = MailslotWriterOptions::new().root(root.path()).open(name)?;
/// let err = writer.write(b"nine byte").unwrap_err();
/// assert!(matches!(err, npipe::Error::MessageTooLarge { len: 9, max: 8 }));
/// assert_eq!(slot.info()?.message_count, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MailslotWriter {
    name: PipeName,
    way: Way,
}

#[derive(Debug)]
enum Way {
    Local {
        fd: OwnedFd,
        max: usize,
    },
    Network {
        udp: Udp,
        to: SocketAddrV4,
        target: OwnedTarget,
        path: String,
        key: Option<SecretKey>,
        scratch: std::sync::Mutex<Vec<u8>>,
    },
}

#[derive(Debug)]
enum OwnedTarget {
    Address,
    Name(String),
    Domain(String),
}

impl MailslotWriterOptions {
    /// Opens the mailslot `name` for writing (`CreateFile` on a mailslot
    /// name). A local name must exist; a network name is not checked (as on
    /// Windows, nothing answers a datagram).
    ///
    /// # Errors
    /// - [`Error::FileNotFound`] (`ERROR_FILE_NOT_FOUND`): no mailslot of
    ///   this local name exists.
    /// - [`Error::AccessDenied`] (`ERROR_ACCESS_DENIED`): this user may not
    ///   write to it.
    /// - [`Error::BadPathname`]: not a mailslot name, or a host or domain
    ///   name longer than 255 bytes.
    /// - [`Error::InvalidParameter`]: an empty network key or bad network
    ///   settings.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// let err = npipe::mailslot::MailslotWriterOptions::new().root(root.path())
    ///     .open(r"\\.\mailslot\doc-nobody").unwrap_err();
    /// assert_eq!(err.win32_code(), npipe::win32::ERROR_FILE_NOT_FOUND);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "CreateFile")]
    pub fn open(&self, name: impl AsRef<str>) -> Result<MailslotWriter> {
        let name = PipeName::parse(name.as_ref())?;
        if name.kind() != NameKind::Mailslot {
            return Err(Error::BadPathname {
                name: name.to_string(),
                reason: "not a mailslot name".into(),
            });
        }
        if self.network_key.as_ref().is_some_and(|k| k.0.is_empty()) {
            return Err(Error::InvalidParameter {
                reason: "the network key is empty".into(),
            });
        }
        let way = match name.host() {
            Host::Local => self.open_local(&name)?,
            host => self.open_network(&name, host)?,
        };
        Ok(MailslotWriter { name, way })
    }

    fn open_local(&self, name: &PipeName) -> Result<Way> {
        let (dir, meta) = slot_dir::find(&self.ns(), name)?;
        let me = fs::identity();
        if !meta.allow.permits_identity(meta.owner_uid, &me) {
            return Err(Error::AccessDenied {
                name: name.to_string(),
                reason: format!("uid {} is not allowed to write", me.uid),
            });
        }
        let fd = match slot_dir::connect(&dir) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(Error::AccessDenied {
                    name: name.to_string(),
                    reason: "the mailslot's permissions exclude you".into(),
                })
            }
            // The reader closed or died since we looked.
            Err(_) => {
                return Err(Error::FileNotFound {
                    name: name.to_string(),
                })
            }
        };
        // Room for the largest record; the kernel caps it at wmem_max.
        let _ = socket::set_send_buffer(fd.as_fd(), 4 * MAX_LOCAL_MESSAGE);
        let max = match meta.max_message_size {
            0 => MAX_LOCAL_MESSAGE,
            n => n.min(MAX_LOCAL_MESSAGE),
        };
        Ok(Way::Local { fd, max })
    }

    fn open_network(&self, name: &PipeName, host: &Host) -> Result<Way> {
        let net = match &self.network {
            Some(net) => net.clone(),
            None => NetworkOptions::from_env()?,
        };
        net.check()?;
        let (target, to) = match host {
            Host::Server(server) => match server.parse::<Ipv4Addr>() {
                Ok(addr) => (OwnedTarget::Address, addr),
                Err(_) => {
                    let folded = fold(server);
                    let group = net.group_of(&folded);
                    (OwnedTarget::Name(folded), group)
                }
            },
            _ => (
                OwnedTarget::Domain(net.domain.clone()),
                net.group_of(&net.domain),
            ),
        };
        let path = fold(name.path());
        // Check the name fits the wire format now, not at the first write.
        let mut scratch = Vec::with_capacity(datagram::MAX_DATAGRAM_LEN);
        let check = datagram::encode(
            target.borrow(),
            &path,
            b"",
            self.network_key.as_ref().map(|k| k.0.as_slice()),
            &mut scratch,
        );
        if let Err(e) = check {
            return Err(Error::BadPathname {
                name: name.to_string(),
                reason: format!("cannot be sent across the network: {e}"),
            });
        }
        let udp = Udp::sender(net.interface, net.ttl)?;
        Ok(Way::Network {
            udp,
            to: SocketAddrV4::new(to, net.port),
            target,
            path,
            key: self.network_key.clone(),
            scratch: std::sync::Mutex::new(scratch),
        })
    }
}

impl MailslotWriter {
    /// Opens the mailslot `name` for writing with the default options
    /// ([`MailslotWriterOptions::new`]).
    ///
    /// # Errors
    /// As [`MailslotWriterOptions::open`].
    #[doc(alias = "CreateFile")]
    pub fn open(name: impl AsRef<str>) -> Result<MailslotWriter> {
        MailslotWriterOptions::new().open(name)
    }

    /// The name as given to `open`.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// Sends `message` as one message (`WriteFile`). Zero-length messages
    /// are messages too.
    ///
    /// # Errors
    /// - [`Error::MessageTooLarge`]: longer than the mailslot's maximum
    ///   message size (local), than [`MAX_LOCAL_MESSAGE`], or than
    ///   [`MAX_NETWORK_MESSAGE`] (network); nothing is sent.
    /// - [`Error::FileNotFound`]: the local mailslot has been closed since
    ///   `open` (open again to reach a new mailslot of the name).
    /// - [`Error::Io`]: the network refused the datagram (for example no
    ///   route for multicast).
    ///
    /// ```
    /// let writer = npipe::mailslot::MailslotWriter::open(r"\\*\mailslot\doc-too-big")?;
    /// let err = writer.write(&[0; 425]).unwrap_err();
    /// assert!(matches!(err, npipe::Error::MessageTooLarge { len: 425, max: 424 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "WriteFile")]
    pub fn write(&self, message: &[u8]) -> Result<()> {
        match &self.way {
            Way::Local { fd, max } => {
                if message.len() > *max {
                    return Err(Error::MessageTooLarge {
                        len: message.len(),
                        max: *max,
                    });
                }
                let parts = [IoSlice::new(&[LOCAL_TAG]), IoSlice::new(message)];
                seqpacket::send_record(fd.as_fd(), &parts)
                    .map_err(|e| self.local_error(e, message.len(), *max))
            }
            Way::Network {
                udp,
                to,
                target,
                path,
                key,
                scratch,
            } => {
                let mut bytes = scratch.lock().unwrap_or_else(|p| p.into_inner());
                match datagram::encode(
                    target.borrow(),
                    path,
                    message,
                    key.as_ref().map(|k| k.0.as_slice()),
                    &mut bytes,
                ) {
                    Ok(()) => {}
                    Err(DatagramError::PayloadTooLarge(len)) => {
                        return Err(Error::MessageTooLarge {
                            len,
                            max: MAX_NETWORK_MESSAGE,
                        })
                    }
                    Err(e) => {
                        return Err(Error::InvalidParameter {
                            reason: e.to_string(),
                        })
                    }
                }
                udp.send_to(&bytes, *to).map_err(|e| {
                    Error::Io(io::Error::new(
                        e.kind(),
                        format!(
                            "cannot send a mailslot datagram to {to}: {e}; \
                             is there a route for multicast (or set NPIPE_MAILSLOT_INTERFACE)?"
                        ),
                    ))
                })
            }
        }
    }

    fn local_error(&self, e: io::Error, len: usize, max: usize) -> Error {
        match e.kind() {
            io::ErrorKind::FileTooLarge => Error::MessageTooLarge { len, max },
            _ if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::NotConnected
            ) =>
            {
                Error::FileNotFound {
                    name: self.name.to_string(),
                }
            }
            _ => Error::Io(e),
        }
    }
}

impl OwnedTarget {
    fn borrow(&self) -> Target<'_> {
        match self {
            OwnedTarget::Address => Target::Address,
            OwnedTarget::Name(n) => Target::Name(n),
            OwnedTarget::Domain(d) => Target::Domain(d),
        }
    }
}
