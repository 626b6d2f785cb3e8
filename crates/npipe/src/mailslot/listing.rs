//! Listing the live mailslots of a namespace ([`Namespace::mailslots`]),
//! the mailslot half of what `npipe list` shows.

use std::os::fd::{AsFd, BorrowedFd};

use super::meta::MailslotMeta;
use super::slot_dir;
use crate::name::PipeName;
use crate::namespace::{dir_name, Namespace};
use crate::sys::fs;
use crate::{Error, Result};

/// One mailslot in a namespace, as listing `\\.\mailslot\` shows it.
///
/// The number of messages waiting is not listed: they wait in the
/// reader's sockets and in its process, and only the reader can count them
/// ([`Mailslot::info`](super::Mailslot::info)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailslotEntry {
    /// The name as its reader spelled it.
    pub name: String,
    /// The largest message accepted (`nMaxMessageSize`); 0 means any size
    /// up to [`MAX_LOCAL_MESSAGE`](super::MAX_LOCAL_MESSAGE).
    pub max_message_size: usize,
    /// The user id of the mailslot's owner, its reader.
    pub owner_uid: u32,
    /// The process id of the reader, the process that created it.
    pub reader_pid: u32,
}

impl Namespace {
    /// Every mailslot with a live reader, sorted by name. Entries left by
    /// readers that died (their `flock` is free) never show; the next
    /// reader of the name removes them.
    ///
    /// ```
    /// # let root = npipe::doc_support::TempRoot::new()?;
    /// use npipe::mailslot::MailslotOptions;
    /// let ns = npipe::Namespace::at(root.path());
    /// let slot = MailslotOptions::new().root(root.path()).max_message_size(424)
    ///     .create(r"\\.\mailslot\doc-listing")?;
    /// let listed = ns.mailslots()?;
    /// assert_eq!(listed.len(), 1);
    /// assert_eq!(listed[0].name, r"\\.\mailslot\doc-listing");
    /// assert_eq!(listed[0].max_message_size, 424);
    /// assert_eq!(listed[0].reader_pid, std::process::id());
    /// drop(slot);
    /// assert!(ns.mailslots()?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::AccessDenied`] or [`Error::Io`] when the namespace cannot
    /// be read. A namespace without mailslots, or without a directory yet,
    /// lists none. Names whose directory cannot be read are skipped.
    pub fn mailslots(&self) -> Result<Vec<MailslotEntry>> {
        // The kind directory of mailslots, as `slot_dir` names it.
        let kinds = match self.kind_dir("mailslot", false) {
            Ok(fd) => fd,
            Err(Error::FileNotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in fs::list_dir(kinds.as_fd())? {
            let Some(name) = name_in(kinds.as_fd(), &entry) else {
                continue;
            };
            // What a writer would find: only a live reader's mailslot.
            let Ok((_, meta)) = slot_dir::find(self, &name) else {
                continue;
            };
            out.push(MailslotEntry {
                name: meta.name,
                max_message_size: meta.max_message_size,
                owner_uid: meta.owner_uid,
                reader_pid: meta.pid,
            });
        }
        out.sort_by_key(|entry| entry.name.to_lowercase());
        Ok(out)
    }
}

/// The name whose directory `entry` is, from its `meta` file; `None` if
/// it has none (yet) or the file does not belong there.
fn name_in(kinds: BorrowedFd<'_>, entry: &str) -> Option<PipeName> {
    let dir = fs::open_dir_at(kinds, entry).ok()?;
    let fd = fs::open_read_at(dir.as_fd(), "meta").ok()?;
    let text = fs::read_all(fd.as_fd()).ok()?;
    let meta = MailslotMeta::decode(std::str::from_utf8(&text).ok()?)?;
    let name = PipeName::parse(&meta.name).ok()?;
    (dir_name(name.key()) == entry).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc_support::TempRoot;
    use crate::mailslot::MailslotOptions;
    use crate::namespace::AllowList;

    #[test]
    fn lists_live_mailslots_sorted_with_their_fields() {
        let root = TempRoot::new().unwrap();
        let ns = Namespace::at(root.path());
        assert!(ns.mailslots().unwrap().is_empty(), "no directory yet");
        let create = |name: &str, max: usize| {
            MailslotOptions::new()
                .root(root.path())
                .max_message_size(max)
                .create(name)
                .unwrap()
        };
        let _b = create(r"\\.\mailslot\B\jobs", 0);
        let a = create(r"\\.\MAILSLOT\a", 100);
        let listed = ns.mailslots().unwrap();
        let me = fs::identity();
        assert_eq!(
            listed,
            [
                MailslotEntry {
                    name: r"\\.\MAILSLOT\a".into(),
                    max_message_size: 100,
                    owner_uid: me.uid,
                    reader_pid: me.pid,
                },
                MailslotEntry {
                    name: r"\\.\mailslot\B\jobs".into(),
                    max_message_size: 0,
                    owner_uid: me.uid,
                    reader_pid: me.pid,
                },
            ]
        );
        drop(a);
        let names: Vec<_> = ns
            .mailslots()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [r"\\.\mailslot\B\jobs"]);
    }

    #[test]
    fn a_dead_readers_leftovers_never_show() {
        let root = TempRoot::new().unwrap();
        let ns = Namespace::at(root.path());
        let _live = MailslotOptions::new()
            .root(root.path())
            .create(r"\\.\mailslot\live")
            .unwrap();
        // What a reader killed with SIGKILL leaves: its files, with the
        // flock on `alive` gone with the process.
        let name = PipeName::parse(r"\\.\mailslot\dead").unwrap();
        let dir = root.path().join("mailslot").join(dir_name(name.key()));
        std::fs::create_dir(&dir).unwrap();
        let meta = MailslotMeta {
            name: name.to_string(),
            key: name.key().to_string(),
            pid: 1,
            owner_uid: fs::identity().uid,
            max_message_size: 0,
            allow: AllowList::default(),
        };
        std::fs::write(dir.join("meta"), meta.encode()).unwrap();
        std::fs::write(dir.join("alive"), "1\n").unwrap();
        // And a directory of something else, without a meta file.
        std::fs::create_dir(root.path().join("mailslot").join("junk")).unwrap();
        let names: Vec<_> = ns
            .mailslots()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, [r"\\.\mailslot\live"]);
    }
}
