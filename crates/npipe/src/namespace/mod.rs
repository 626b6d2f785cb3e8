//! The local rendezvous: where pipe names live on this machine.
//!
//! No daemon: a namespace is a directory (`NPIPE_ROOT`, or `/tmp/.npipe`)
//! holding one directory per pipe name. What must be shared between
//! processes lives in files whose "in use" state is an `flock` held by the
//! process using it, so SIGKILL never leaves anything that blocks others.
//! See `pipe_dir` for the files of one name.

mod fields;
mod meta;
mod pipe_dir;

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub(crate) use fields::{FieldWriter, Fields};
pub(crate) use meta::{AllowList, PipeMeta};
pub(crate) use pipe_dir::{
    alive_name, claim_name, claim_token, sock_name, Claim, ClaimState, PipeDir, MAX_SLOTS,
};

use crate::name::PipeName;
use crate::pipe::{Access, PipeMode};
use crate::sys::fs;
use crate::{Error, Result};

/// The machine-wide namespace directory used when `NPIPE_ROOT` is not set.
pub const DEFAULT_ROOT: &str = "/tmp/.npipe";

/// A namespace: the directory in which pipe names meet.
///
/// Processes that use the same namespace see each other's pipes. The default
/// is `NPIPE_ROOT` if set, otherwise [`DEFAULT_ROOT`], a directory with the
/// sticky bit like `/tmp/.X11-unix`, checked for owner and mode before use.
///
/// ```
/// # let root = npipe::doc_support::TempRoot::new()?;
/// let ns = npipe::Namespace::at(root.path());
/// assert!(ns.pipes()?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    root: PathBuf,
    checked_default: bool,
}

/// One pipe in a namespace, as listing `\\.\pipe\` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipeEntry {
    /// The name as its first instance spelled it.
    pub name: String,
    /// Byte or message type.
    pub pipe_mode: PipeMode,
    /// The direction data flows.
    pub access: Access,
    /// Instances that exist now.
    pub current_instances: u32,
    /// Instances that are listening for a client now.
    pub listening_instances: u32,
    /// The instance limit (255: unlimited).
    pub max_instances: u32,
    /// The user id of the pipe's owner.
    pub owner_uid: u32,
    /// Process ids of the servers of the live instances, without repeats.
    pub server_pids: Vec<u32>,
}

impl Default for Namespace {
    fn default() -> Namespace {
        Namespace::from_env()
    }
}

impl Namespace {
    /// The namespace in `root`. The directory is created on first use.
    pub fn at(root: impl Into<PathBuf>) -> Namespace {
        Namespace {
            root: root.into(),
            checked_default: false,
        }
    }

    /// `NPIPE_ROOT` if set and not empty, otherwise [`DEFAULT_ROOT`].
    pub fn from_env() -> Namespace {
        match std::env::var_os("NPIPE_ROOT") {
            Some(root) if !root.is_empty() => Namespace::at(root),
            _ => Namespace {
                root: PathBuf::from(DEFAULT_ROOT),
                checked_default: true,
            },
        }
    }

    /// The namespace directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Every pipe with at least one live instance, sorted by name. Stale
    /// entries left by crashed servers never show (they are skipped here and
    /// removed by the next server of that name).
    pub fn pipes(&self) -> Result<Vec<PipeEntry>> {
        let pipes = match self.kind_dir("pipe", false) {
            Ok(fd) => fd,
            Err(Error::FileNotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for dir_name in fs::list_dir(pipes.as_fd())? {
            let Ok(fd) = fs::open_dir_at(pipes.as_fd(), &dir_name) else {
                continue;
            };
            let dir = PipeDir { fd };
            let Ok(Some(meta)) = dir.read_meta() else {
                continue;
            };
            let Ok(live) = dir.live_instances() else {
                continue;
            };
            if live.is_empty() {
                continue;
            }
            let mut server_pids: Vec<u32> = live.iter().map(|i| i.server_pid).collect();
            server_pids.sort_unstable();
            server_pids.dedup();
            out.push(PipeEntry {
                name: meta.name,
                pipe_mode: meta.pipe_mode,
                access: meta.access,
                current_instances: live.len() as u32,
                listening_instances: live
                    .iter()
                    .filter(|i| {
                        i.listening && matches!(i.claim, ClaimState::Free | ClaimState::Stale)
                    })
                    .count() as u32,
                max_instances: meta.max_instances,
                owner_uid: meta.owner_uid,
                server_pids,
            });
        }
        out.sort_by_key(|entry| entry.name.to_lowercase());
        Ok(out)
    }

    /// Opens (creating if asked) the namespace root after checking it.
    fn open_root(&self, create: bool) -> Result<OwnedFd> {
        if create && fs::make_dir(&self.root, 0o1777).is_err() {
            std::fs::create_dir_all(&self.root).map_err(|e| self.root_error(e))?;
        }
        let info = match fs::stat_path(&self.root) {
            Ok(info) => info,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::FileNotFound {
                    name: self.root.display().to_string(),
                })
            }
            Err(e) => return Err(self.root_error(e)),
        };
        if !info.is_dir {
            return Err(Error::AccessDenied {
                name: self.root.display().to_string(),
                reason: "the namespace root is not a directory".into(),
            });
        }
        if self.checked_default {
            let me = fs::identity().uid;
            let sticky = info.mode & 0o1000 != 0;
            let others_write = info.mode & 0o022 != 0;
            if (info.uid != 0 && info.uid != me) || (others_write && !sticky) {
                return Err(Error::AccessDenied {
                    name: self.root.display().to_string(),
                    reason: format!(
                        "the namespace root is owned by uid {} with mode {:o}; it must belong to \
                         root or to you, with the sticky bit if others may write (or set NPIPE_ROOT)",
                        info.uid,
                        info.mode & 0o7777
                    ),
                });
            }
        }
        fs::open_dir(&self.root).map_err(|e| self.root_error(e))
    }

    fn root_error(&self, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::PermissionDenied => Error::AccessDenied {
                name: self.root.display().to_string(),
                reason: "cannot use the namespace root".into(),
            },
            _ => Error::Io(e),
        }
    }

    /// `<root>/pipe` or `<root>/mailslot`, world-writable with the sticky bit
    /// so every user can create names and none can remove another's.
    pub(crate) fn kind_dir(&self, kind: &str, create: bool) -> Result<OwnedFd> {
        let root = self.open_root(create)?;
        if create {
            fs::make_dir_at(root.as_fd(), kind, 0o1777)?;
        }
        let dir = match fs::open_dir_at(root.as_fd(), kind) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::FileNotFound {
                    name: self.root.join(kind).display().to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        };
        // The owner of a sticky directory may rename or remove anyone's
        // entries in it, so a `pipe` directory made by another user would let
        // that user take over every name. Only root, the namespace root's
        // owner, or ourselves may own it.
        let info = fs::stat_fd(dir.as_fd())?;
        let root_owner = fs::stat_fd(root.as_fd())?.uid;
        let me = fs::identity().uid;
        if ![0, me, root_owner].contains(&info.uid)
            || (info.mode & 0o022 != 0 && info.mode & 0o1000 == 0)
        {
            return Err(Error::AccessDenied {
                name: self.root.join(kind).display().to_string(),
                reason: format!(
                    "the directory belongs to uid {} with mode {:o}; it must belong to root, to the \
                     namespace's owner or to you, with the sticky bit (as root: install -d -m 1777 {})",
                    info.uid,
                    info.mode & 0o7777,
                    self.root.join(kind).display()
                ),
            });
        }
        Ok(dir)
    }

    /// Opens the directory of an existing pipe name.
    pub(crate) fn open_pipe_dir(&self, name: &PipeName) -> Result<PipeDir> {
        let not_found = || Error::FileNotFound {
            name: name.to_string(),
        };
        let pipes = match self.kind_dir("pipe", false) {
            Ok(fd) => fd,
            Err(e @ Error::AccessDenied { .. }) => return Err(e),
            Err(_) => return Err(not_found()),
        };
        match fs::open_dir_at(pipes.as_fd(), &dir_name(name.key())) {
            Ok(fd) => Ok(PipeDir { fd }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found()),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(Error::AccessDenied {
                name: name.to_string(),
                reason: "the pipe's directory is not readable by you".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the directory of a pipe name, creating it with `mode` if it is
    /// missing; also returns whether it was created.
    pub(crate) fn create_pipe_dir(&self, name: &PipeName, mode: u32) -> Result<(PipeDir, bool)> {
        let dir = dir_name(name.key());
        loop {
            // The last instance of the name's previous users may remove the
            // directory between these steps: then make it again.
            let pipes = self.kind_dir("pipe", true)?;
            let created = match fs::make_dir_at(pipes.as_fd(), &dir, mode) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                other => other?,
            };
            return match fs::open_dir_at(pipes.as_fd(), &dir) {
                Ok(fd) => Ok((PipeDir { fd }, created)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(Error::AccessDenied {
                    name: name.to_string(),
                    reason: "another user owns this pipe name".into(),
                }),
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Removes a pipe's directory once its last instance is gone. Call with
    /// the directory lock held.
    ///
    /// The `lock` file goes last: until then, anyone who opens it waits for
    /// our flock and, once it is free, finds the file unlinked and starts
    /// over. Someone who arrives after it is gone creates a new `lock` in
    /// this directory, so our final `rmdir` fails (not empty) and their
    /// files survive.
    pub(crate) fn remove_pipe_dir(&self, name: &PipeName, dir: &PipeDir) -> Result<()> {
        for entry in fs::list_dir(dir.as_fd())? {
            if entry != "lock" {
                fs::remove_at(dir.as_fd(), &entry)?;
            }
        }
        fs::remove_at(dir.as_fd(), "lock")?;
        let pipes = self.kind_dir("pipe", false)?;
        fs::remove_dir_at(pipes.as_fd(), &dir_name(name.key()))?;
        Ok(())
    }
}

/// The directory name of a pipe key: a readable prefix of the folded name
/// (letters, digits, `-` and `_`; others become `_`), then a 64-bit
/// FNV-1a hash of the whole key. Short whatever the name's length, so socket
/// paths stay within the 108-byte limit; the key stored in `meta` catches
/// the rare hash collision.
pub(crate) fn dir_name(key: &str) -> String {
    let readable: String = key
        .split_once('\\')
        .map_or(key, |(_, rest)| rest)
        .chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_".contains(c) {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{readable}.{:016x}", fnv1a(key.as_bytes()))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_are_short_and_distinct() {
        let long = format!("pipe\\{}", "X".repeat(250));
        let a = dir_name(&long);
        assert!(a.len() <= 40 + 1 + 16, "{a}");
        assert_ne!(dir_name("pipe\\A"), dir_name("pipe\\B"));
        assert_ne!(dir_name("pipe\\A/B"), dir_name("pipe\\A_B"));
        assert!(dir_name("pipe\\..").starts_with("__."));
    }
}
