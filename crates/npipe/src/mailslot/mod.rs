//! Mailslots: one-way inboxes of whole messages, on this computer and
//! across the network (`CreateMailslot`, `GetMailslotInfo`,
//! `SetMailslotInfo`, and `CreateFile` + `WriteFile` on a mailslot name).
//!
//! A mailslot has one reader, the process that created it
//! ([`Mailslot`]), and any number of writers ([`MailslotWriter`]) in any
//! processes. Every write is one message, and every read takes one whole
//! message. See Microsoft's [About Mailslots] and [Mailslot Names].
//!
//! | Win32 | npipe |
//! |---|---|
//! | `CreateMailslot` | [`MailslotOptions::create`], [`Mailslot::create`] |
//! | `ReadFile` on the mailslot | [`Mailslot::read`], [`Mailslot::read_message`] |
//! | `GetMailslotInfo` | [`Mailslot::info`] |
//! | `SetMailslotInfo` | [`Mailslot::set_read_timeout`] |
//! | `CreateFile` on a mailslot name | [`MailslotWriterOptions::open`], [`MailslotWriter::open`] |
//! | `WriteFile` on that handle | [`MailslotWriter::write`] |
//!
//! **On this computer**, a mailslot is a `SOCK_SEQPACKET` Unix socket in
//! the namespace directory (see [`Namespace`](crate::Namespace)); writers
//! connect to it once and send each message as one record, so messages
//! arrive whole and never interleave, and no daemon is involved. The
//! reader's hold on its name is an `flock`: when it closes the mailslot or
//! dies, even by SIGKILL, the name is free again at once.
//!
//! **Across the network**, messages of at most [`MAX_NETWORK_MESSAGE`]
//! bytes travel as UDP datagrams, multicast to the group of a host or
//! domain name (see [`NetworkOptions`]). A mailslot receives them only if
//! it asks to ([`MailslotOptions::accept_network`]), and can require them
//! to be signed with a shared key ([`MailslotOptions::network_key`]).
//! Delivery is best effort, as on Windows. `docs/MAILSLOTS.md` in the
//! repository describes the design and the differences from Windows.
//!
//! ```
//! # let root = npipe::doc_support::TempRoot::new()?;
//! use npipe::mailslot::{MailslotOptions, MailslotWriterOptions};
//!
//! let name = r"\\.\mailslot\doc-module\jobs";
//! let slot = MailslotOptions::new().root(root.path()).create(name)?;
//! let writer = MailslotWriterOptions::new().root(root.path()).open(r"\\.\MAILSLOT\Doc-Module\Jobs")?;
//! writer.write(b"job 1 done")?;
//! assert_eq!(slot.read_message()?, b"job 1 done");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [About Mailslots]: https://learn.microsoft.com/en-us/windows/win32/ipc/about-mailslots
//! [Mailslot Names]: https://learn.microsoft.com/en-us/windows/win32/ipc/mailslot-names

mod inbox;
mod listing;
mod meta;
mod network;
mod options;
mod reader;
mod slot_dir;
mod writer;

pub use listing::MailslotEntry;
pub use network::{NetworkOptions, DEFAULT_DOMAIN, DEFAULT_GROUP_BASE, DEFAULT_PORT};
pub use options::{MailslotOptions, MailslotTimeout, MailslotWriterOptions, MAILSLOT_WAIT_FOREVER};
pub use reader::{Mailslot, MailslotInfo};
pub use writer::MailslotWriter;

/// The largest local message, in bytes (64 KiB), and so the largest
/// [`MailslotOptions::max_message_size`]. A local message is one Unix
/// socket record, which must fit the writer's send buffer (about 208 KiB by
/// default); 64 KiB stays well inside it, lets a blocked writer hold a few
/// messages, and is more than the 424 bytes that cross the network.
pub const MAX_LOCAL_MESSAGE: usize = 64 * 1024;

/// The largest message that crosses the network, in bytes: Windows' limit.
pub const MAX_NETWORK_MESSAGE: usize = crate::proto::datagram::MAX_NETWORK_PAYLOAD;
