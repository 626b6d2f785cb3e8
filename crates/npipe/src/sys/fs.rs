//! Files and directories of the namespace: `*at` calls relative to an open
//! directory, `flock`s tied to the owning process, and POSIX ACLs.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FlockOperation, Mode, OFlags};

/// Identity and ownership of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileInfo {
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub is_dir: bool,
    pub links: u64,
}

impl FileInfo {
    fn from_stat(st: rfs::Stat) -> FileInfo {
        FileInfo {
            dev: st.st_dev,
            ino: st.st_ino,
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode,
            is_dir: rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory,
            links: st.st_nlink,
        }
    }

    /// Same file (device and inode)?
    pub fn same_file(&self, other: &FileInfo) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }
}

/// `open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC)`.
///
/// # References
/// - [open(2)](https://man7.org/linux/man-pages/man2/open.2.html)
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::open(
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `openat(dir, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC)`.
pub(crate) fn open_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// `mkdirat(dir, name, mode)` then `fchmodat` to the exact mode (the umask
/// does not apply). Returns false if it existed already.
///
/// # References
/// - [mkdir(2)](https://man7.org/linux/man-pages/man2/mkdir.2.html)
pub(crate) fn make_dir_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<bool> {
    match rfs::mkdirat(dir, name, Mode::from_raw_mode(mode)) {
        Ok(()) => {
            chmod_at(dir, name, mode)?;
            Ok(true)
        }
        Err(rustix::io::Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `mkdir(path, mode)` then `chmod` to the exact mode. Returns false if it
/// existed already.
pub(crate) fn make_dir(path: &Path, mode: u32) -> io::Result<bool> {
    match rfs::mkdir(path, Mode::from_raw_mode(mode)) {
        Ok(()) => {
            rfs::chmod(path, Mode::from_raw_mode(mode))?;
            Ok(true)
        }
        Err(rustix::io::Errno::EXIST) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `fchmodat(dir, name, mode)`.
pub(crate) fn chmod_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<()> {
    Ok(rfs::chmodat(
        dir,
        name,
        Mode::from_raw_mode(mode),
        AtFlags::empty(),
    )?)
}

/// `openat(dir, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode)`: a new
/// file that did not exist before.
pub(crate) fn create_new_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<OwnedFd> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(mode),
    )?;
    rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    Ok(fd)
}

/// `openat(dir, name, O_CREAT | O_RDWR | O_CLOEXEC, mode)`: opens or creates.
pub(crate) fn open_or_create_at(dir: BorrowedFd<'_>, name: &str, mode: u32) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(mode),
    )?)
}

/// `openat(dir, name, O_RDONLY | O_CLOEXEC)`.
pub(crate) fn open_read_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
    )?)
}

/// `linkat(dir, from, dir, to)`: gives an existing file a second name; fails
/// with `AlreadyExists` if `to` exists. Atomic: the claim primitive.
///
/// # References
/// - [link(2)](https://man7.org/linux/man-pages/man2/link.2.html)
pub(crate) fn link_at(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    Ok(rfs::linkat(dir, from, dir, to, AtFlags::empty())?)
}

/// `renameat(dir, from, dir, to)`: atomically replaces `to`.
pub(crate) fn rename_at(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    Ok(rfs::renameat(dir, from, dir, to)?)
}

/// `unlinkat(dir, name, 0)`; a missing file is not an error.
pub(crate) fn remove_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `unlinkat(dir, name, AT_REMOVEDIR)`; a missing or non-empty directory is
/// not an error (someone else is using it).
pub(crate) fn remove_dir_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTEMPTY) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn stat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<FileInfo> {
    Ok(FileInfo::from_stat(rfs::statat(
        dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
    )?))
}

/// `lstat(path)`.
pub(crate) fn stat_path(path: &Path) -> io::Result<FileInfo> {
    Ok(FileInfo::from_stat(rfs::lstat(path)?))
}

/// `fstat(fd)`.
pub(crate) fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<FileInfo> {
    Ok(FileInfo::from_stat(rfs::fstat(fd)?))
}

/// `flock(fd, LOCK_EX)`: waits for the exclusive lock. The lock belongs to
/// the open file description and dies with the process, even on SIGKILL.
///
/// # References
/// - [flock(2)](https://man7.org/linux/man-pages/man2/flock.2.html)
pub(crate) fn lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<()> {
    loop {
        match rfs::flock(fd, FlockOperation::LockExclusive) {
            Err(rustix::io::Errno::INTR) => continue,
            other => return Ok(other?),
        }
    }
}

/// `flock(fd, LOCK_EX | LOCK_NB)`: true if the lock was taken.
#[cfg(test)]
pub(crate) fn try_lock_exclusive(fd: BorrowedFd<'_>) -> io::Result<bool> {
    try_flock(fd, FlockOperation::NonBlockingLockExclusive)
}

/// `flock(fd, LOCK_SH | LOCK_NB)`: true if the lock was taken, false if
/// another open file description holds it exclusively (its owner is alive).
pub(crate) fn try_lock_shared(fd: BorrowedFd<'_>) -> io::Result<bool> {
    try_flock(fd, FlockOperation::NonBlockingLockShared)
}

fn try_flock(fd: BorrowedFd<'_>, op: FlockOperation) -> io::Result<bool> {
    match rfs::flock(fd, op) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `flock(fd, LOCK_UN)`.
pub(crate) fn unlock(fd: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rfs::flock(fd, FlockOperation::Unlock)?)
}

/// The names in a directory, without `.` and `..`.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    let fd = rfs::openat(
        dir,
        ".",
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut entries = rfs::Dir::new(fd)?;
    for entry in &mut entries {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if let Some(name) = OsStr::from_bytes(name).to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Reads a whole small file from its start (`pread`).
pub(crate) fn read_all(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = rustix::io::pread(fd, &mut buf, out.len() as u64)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Writes all of `data` at the file's start (`pwrite`) and truncates the
/// rest.
pub(crate) fn write_all(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        done += rustix::io::pwrite(fd, &data[done..], done as u64)?;
    }
    rfs::ftruncate(fd, data.len() as u64)?;
    Ok(())
}

/// Appends `data` at the end of the file (`pwrite` at its size).
pub(crate) fn append(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    let end = rfs::fstat(fd)?.st_size as u64;
    let mut done = 0;
    while done < data.len() {
        done += rustix::io::pwrite(fd, &data[done..], end + done as u64)?;
    }
    Ok(())
}

/// One entry of a POSIX access ACL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AclEntry {
    /// `user:UID:perm`
    User(u32, u16),
    /// `group:GID:perm`
    Group(u32, u16),
}

/// Sets a POSIX access ACL on `dir/name`: the file's mode bits for owner,
/// group and others stay as they are, and each entry grants one more user or
/// group. Written as the `system.posix_acl_access` extended attribute.
///
/// # Errors
/// `Unsupported` if the file system has no ACLs.
///
/// # References
/// - [acl(5)](https://man7.org/linux/man-pages/man5/acl.5.html)
/// - [setxattr(2)](https://man7.org/linux/man-pages/man2/setxattr.2.html)
pub(crate) fn set_acl_at(
    dir: BorrowedFd<'_>,
    name: &str,
    mode: u32,
    entries: &[AclEntry],
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let blob = acl_blob(mode, entries);
    let path = format!("/proc/self/fd/{}/{}", dir.as_raw_fd(), name);
    match rfs::lsetxattr(
        path.as_str(),
        "system.posix_acl_access",
        &blob,
        rfs::XattrFlags::empty(),
    ) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) => Err(io::ErrorKind::Unsupported.into()),
        Err(e) => Err(e.into()),
    }
}

/// The kernel's binary ACL format: a version word, then sorted entries of
/// (tag u16, perm u16, id u32), little-endian.
fn acl_blob(mode: u32, entries: &[AclEntry]) -> Vec<u8> {
    const USER_OBJ: u16 = 0x01;
    const USER: u16 = 0x02;
    const GROUP_OBJ: u16 = 0x04;
    const GROUP: u16 = 0x08;
    const MASK: u16 = 0x10;
    const OTHER: u16 = 0x20;
    const UNDEFINED_ID: u32 = u32::MAX;
    let mut sorted = entries.to_vec();
    sorted.sort();
    sorted.dedup();
    let mut blob = 2u32.to_le_bytes().to_vec();
    let mut push = |tag: u16, perm: u16, id: u32| {
        blob.extend_from_slice(&tag.to_le_bytes());
        blob.extend_from_slice(&perm.to_le_bytes());
        blob.extend_from_slice(&id.to_le_bytes());
    };
    let owner = ((mode >> 6) & 7) as u16;
    let group = ((mode >> 3) & 7) as u16;
    let other = (mode & 7) as u16;
    push(USER_OBJ, owner, UNDEFINED_ID);
    let mut mask = group;
    for entry in &sorted {
        if let AclEntry::User(uid, perm) = *entry {
            push(USER, perm, uid);
            mask |= perm;
        }
    }
    push(GROUP_OBJ, group, UNDEFINED_ID);
    for entry in &sorted {
        if let AclEntry::Group(gid, perm) = *entry {
            push(GROUP, perm, gid);
            mask |= perm;
        }
    }
    push(MASK, mask, UNDEFINED_ID);
    push(OTHER, other, UNDEFINED_ID);
    blob
}

/// The calling process's user, group and supplementary groups.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub pid: u32,
}

/// `geteuid`, `getegid`, `getgroups`, `getpid`.
pub(crate) fn identity() -> Identity {
    Identity {
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        groups: rustix::process::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default(),
        pid: rustix::process::getpid().as_raw_nonzero().get() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn acl_blob_has_the_kernel_layout() {
        let blob = acl_blob(0o750, &[AclEntry::User(1000, 6), AclEntry::Group(50, 6)]);
        // version + 6 entries of 8 bytes
        assert_eq!(blob.len(), 4 + 6 * 8);
        assert_eq!(&blob[..4], &2u32.to_le_bytes());
        // user_obj rwx
        assert_eq!(&blob[4..8], &[0x01, 0, 7, 0]);
        // named user 1000 rw-
        assert_eq!(&blob[12..16], &[0x02, 0, 6, 0]);
        assert_eq!(&blob[16..20], &1000u32.to_le_bytes());
        // mask covers group_obj r-x and the named entries rw-
        assert_eq!(&blob[36..40], &[0x10, 0, 7, 0]);
    }

    #[test]
    fn flock_is_exclusive_between_open_file_descriptions() {
        let dir = std::env::temp_dir().join(format!("npipe-sysfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = open_dir(&dir).unwrap();
        let a = open_or_create_at(d.as_fd(), "l", 0o600).unwrap();
        let b = open_or_create_at(d.as_fd(), "l", 0o600).unwrap();
        assert!(try_lock_exclusive(a.as_fd()).unwrap());
        assert!(!try_lock_shared(b.as_fd()).unwrap());
        drop(a);
        assert!(try_lock_shared(b.as_fd()).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
