//! One mailslot name's directory in the namespace, and the reader's hold
//! on it.
//!
//! ```text
//! <root>/mailslot/<dir>/   one directory per name (see namespace::dir_name)
//!   lock                   flock: held while a reader sets up or tears down
//!   alive                  the reader holds an exclusive flock on it for
//!                          its whole life; holds the reader's pid
//!   meta                   what writers need (MailslotMeta)
//!   sock                   the reader's SOCK_SEQPACKET listener
//! ```
//!
//! A reader killed with SIGKILL leaves these files, but its flock on
//! `alive` dies with it: writers see a stale name as absent
//! (`ERROR_FILE_NOT_FOUND`), and the next reader of the name removes the
//! leftovers under the directory lock and takes over at once.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::meta::MailslotMeta;
use crate::name::PipeName;
use crate::namespace::{dir_name, Namespace, PipeDir};
use crate::sys::fs::{self, AclEntry};
use crate::sys::seqpacket;
use crate::{Error, Result};

const KIND: &str = "mailslot";
const ALIVE: &str = "alive";
const META: &str = "meta";
const SOCK: &str = "sock";
/// Connections the listener queues before the reader accepts them (the
/// kernel caps it at `net.core.somaxconn`). Writers connect once, at open.
const BACKLOG: i32 = 4096;

/// The reader's hold on a mailslot name. Dropping it frees the name.
#[derive(Debug)]
pub(crate) struct Claim {
    ns: Namespace,
    dir: PipeDir,
    dir_name: String,
    /// Held locked for the reader's life: it is what says "alive".
    _alive: OwnedFd,
}

/// Takes the name for a new reader and starts listening: fails with
/// `AlreadyExists` if a live reader has it. Returns the hold and the
/// listener.
pub(crate) fn claim(
    ns: &Namespace,
    name: &PipeName,
    meta: &MailslotMeta,
) -> Result<(Claim, OwnedFd)> {
    let kinds = ns.kind_dir(KIND, true)?;
    let dname = dir_name(name.key());
    loop {
        fs::make_dir_at(kinds.as_fd(), &dname, 0o755)?;
        let dir = match fs::open_dir_at(kinds.as_fd(), &dname) {
            Ok(fd) => PipeDir { fd },
            // Removed by a reader that was closing: make it again.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(denied_or(e, name)),
        };
        let Some(_lock) = dir.lock().map_err(|e| denied_or(e, name))? else {
            continue;
        };
        if probe_alive(&dir)? {
            return Err(Error::AlreadyExists {
                name: name.to_string(),
            });
        }
        // Stale leftovers of a reader that died: remove them all.
        for entry in fs::list_dir(dir.fd.as_fd())? {
            if entry != "lock" {
                fs::remove_at(dir.fd.as_fd(), &entry)?;
            }
        }
        let alive = fs::create_new_at(dir.fd.as_fd(), "alive.tmp", 0o644)?;
        fs::lock_exclusive(alive.as_fd())?;
        fs::write_all(alive.as_fd(), format!("{}\n", meta.pid).as_bytes())?;
        fs::rename_at(dir.fd.as_fd(), "alive.tmp", ALIVE)?;
        let claim = Claim {
            ns: ns.clone(),
            dir,
            dir_name: dname,
            _alive: alive,
        };
        let meta_fd = fs::create_new_at(claim.dir.fd.as_fd(), "meta.tmp", 0o644)?;
        fs::write_all(meta_fd.as_fd(), meta.encode().as_bytes())?;
        fs::rename_at(claim.dir.fd.as_fd(), "meta.tmp", META)?;
        let listener = claim.listen(meta)?;
        return Ok((claim, listener));
    }
}

impl Claim {
    /// Binds the listener under a temporary name, gives it its permissions,
    /// then renames it in, so writers never see a socket that refuses them
    /// for the wrong reason.
    fn listen(&self, meta: &MailslotMeta) -> Result<OwnedFd> {
        let dir = self.dir.fd.as_fd();
        let tmp = "sock.tmp";
        let listener = seqpacket::listen_at(dir, tmp, BACKLOG)?;
        let (mode, acl) = permissions(meta);
        fs::chmod_at(dir, tmp, mode)?;
        if !acl.is_empty() && fs::set_acl_at(dir, tmp, mode, &acl).is_err() {
            // No ACLs on this file system: let every user reach the socket;
            // the reader still checks each writer's credentials on accept.
            fs::chmod_at(dir, tmp, 0o666)?;
        }
        fs::rename_at(dir, tmp, SOCK)?;
        Ok(listener)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // Best effort: whatever is left is stale (the alive lock dies with
        // the fd) and the next reader of the name removes it.
        let Ok(Some(_lock)) = self.dir.lock() else {
            return;
        };
        if let Ok(entries) = fs::list_dir(self.dir.fd.as_fd()) {
            for entry in entries {
                let _ = fs::remove_at(self.dir.fd.as_fd(), &entry);
            }
        }
        if let Ok(kinds) = self.ns.kind_dir(KIND, false) {
            let _ = fs::remove_dir_at(kinds.as_fd(), &self.dir_name);
        }
    }
}

/// A live mailslot's directory and meta, for a writer.
///
/// # Errors
/// `FileNotFound` when no live reader has the name; `AccessDenied` when
/// the directory cannot be read.
pub(crate) fn find(ns: &Namespace, name: &PipeName) -> Result<(PipeDir, MailslotMeta)> {
    let not_found = || Error::FileNotFound {
        name: name.to_string(),
    };
    let kinds = ns.kind_dir(KIND, false).map_err(|_| not_found())?;
    let dir = match fs::open_dir_at(kinds.as_fd(), &dir_name(name.key())) {
        Ok(fd) => PipeDir { fd },
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(denied_or(e, name)),
    };
    if !probe_alive(&dir)? {
        return Err(not_found());
    }
    let meta = match fs::open_read_at(dir.fd.as_fd(), META) {
        Ok(fd) => fs::read_all(fd.as_fd())?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(denied_or(e, name)),
    };
    let meta = std::str::from_utf8(&meta)
        .ok()
        .and_then(MailslotMeta::decode)
        .filter(|meta| meta.key == name.key())
        .ok_or_else(not_found)?;
    Ok((dir, meta))
}

/// Connects a writer to the reader's listener.
pub(crate) fn connect(dir: &PipeDir) -> io::Result<OwnedFd> {
    seqpacket::connect_at(dir.fd.as_fd(), SOCK)
}

/// Whether a reader holds the `alive` lock.
fn probe_alive(dir: &PipeDir) -> Result<bool> {
    match fs::open_read_at(dir.fd.as_fd(), ALIVE) {
        Ok(fd) => Ok(!fs::try_lock_shared(fd.as_fd())?),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Socket mode and ACL entries for who may write.
fn permissions(meta: &MailslotMeta) -> (u32, Vec<AclEntry>) {
    if meta.allow.everyone {
        return (0o666, Vec::new());
    }
    let mut acl: Vec<AclEntry> = meta
        .allow
        .uids
        .iter()
        .map(|&u| AclEntry::User(u, 6))
        .collect();
    acl.extend(meta.allow.gids.iter().map(|&g| AclEntry::Group(g, 6)));
    (0o600, acl)
}

fn denied_or(e: io::Error, name: &PipeName) -> Error {
    if e.kind() == io::ErrorKind::PermissionDenied {
        Error::AccessDenied {
            name: name.to_string(),
            reason: "another user owns this mailslot name".into(),
        }
    } else {
        Error::Io(e)
    }
}
