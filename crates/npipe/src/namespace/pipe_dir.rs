//! One pipe name's directory: its lock, its `meta`, and its instances.
//!
//! ```text
//! <root>/pipe/<dir>/      one directory per pipe name (see `dir_name`)
//!   lock                  flock: held while instances are added or removed
//!   meta                  what the first instance fixed (PipeMeta)
//!   NNN.alive             instance NNN exists: its server holds an flock on it
//!   NNN.sock              instance NNN is listening (absent once connected)
//!   NNN.claim             a client has taken NNN's current listening phase
//! ```
//!
//! Every file that signals "in use" is backed by an flock held by the
//! process using it, so a process killed with SIGKILL leaves files whose
//! locks are free; whoever finds such a stale file next removes it.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::meta::PipeMeta;
use crate::sys::fs::{self, FileInfo};

/// The highest instance number plus one (`PIPE_UNLIMITED_INSTANCES` = 255
/// instances at most).
pub(crate) const MAX_SLOTS: u32 = 255;

/// An open pipe directory.
#[derive(Debug)]
pub(crate) struct PipeDir {
    pub fd: OwnedFd,
}

/// The directory lock; released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    _fd: OwnedFd,
}

/// What a client sees of one instance's current listening phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimState {
    /// No client has taken it.
    Free,
    /// A client is connecting right now (its lock is held).
    InProgress,
    /// A client connected; the server owns the claim until it disconnects.
    Connected,
    /// A client took it and died before connecting.
    Stale,
}

/// The instances a client may claim now; see [`PipeDir::claimable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claimable {
    /// Listening instances with a live server and no live claim, by slot.
    pub free: Vec<InstanceView>,
    /// Whether any instance of the name is alive (busy or not).
    pub any_alive: bool,
}

/// One live instance as seen from outside its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InstanceView {
    pub slot: u32,
    pub listening: bool,
    pub claim: ClaimState,
    pub server_pid: u32,
}

pub(crate) fn alive_name(slot: u32) -> String {
    format!("{slot:03}.alive")
}
pub(crate) fn sock_name(slot: u32) -> String {
    format!("{slot:03}.sock")
}
pub(crate) fn claim_name(slot: u32) -> String {
    format!("{slot:03}.claim")
}

/// The marker a client appends to its claim once it has connected.
const CONNECTED_MARK: &str = "+\n";

impl PipeDir {
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Takes the directory lock. Returns `Ok(None)` if the directory was
    /// removed while waiting (the caller reopens it).
    pub fn lock(&self) -> io::Result<Option<DirLock>> {
        let fd = match fs::open_or_create_at(self.as_fd(), "lock", 0o644) {
            Ok(fd) => fd,
            // The directory was removed under us: reopen.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        fs::lock_exclusive(fd.as_fd())?;
        let locked = fs::stat_fd(fd.as_fd())?;
        match fs::stat_at(self.as_fd(), "lock") {
            Ok(now) if now.same_file(&locked) && locked.links > 0 => Ok(Some(DirLock { _fd: fd })),
            Ok(_) | Err(_) => Ok(None),
        }
    }

    /// The `meta` file, if present and whole.
    pub fn read_meta(&self) -> io::Result<Option<PipeMeta>> {
        let fd = match fs::open_read_at(self.as_fd(), "meta") {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let bytes = fs::read_all(fd.as_fd())?;
        Ok(std::str::from_utf8(&bytes).ok().and_then(PipeMeta::decode))
    }

    /// Replaces `meta` atomically (write a temporary file, rename it in).
    /// Call with the directory lock held.
    pub fn write_meta(&self, meta: &PipeMeta) -> io::Result<()> {
        let tmp = "meta.tmp";
        fs::remove_at(self.as_fd(), tmp)?;
        let fd = fs::create_new_at(self.as_fd(), tmp, 0o644)?;
        fs::write_all(fd.as_fd(), meta.encode().as_bytes())?;
        fs::rename_at(self.as_fd(), tmp, "meta")
    }

    /// The slots that have an `alive` file, live or stale.
    pub fn slots(&self) -> io::Result<Vec<u32>> {
        let mut slots: Vec<u32> = fs::list_dir(self.as_fd())?
            .iter()
            .filter_map(|n| n.strip_suffix(".alive")?.parse().ok())
            .filter(|&s| s < MAX_SLOTS)
            .collect();
        slots.sort_unstable();
        Ok(slots)
    }

    /// Whether the server of `slot` is alive (holds its lock), and its pid.
    pub fn probe_alive(&self, slot: u32) -> io::Result<Option<u32>> {
        let fd = match fs::open_read_at(self.as_fd(), &alive_name(slot)) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if fs::try_lock_shared(fd.as_fd())? {
            return Ok(None); // nobody holds it: stale
        }
        let pid = String::from_utf8_lossy(&fs::read_all(fd.as_fd())?)
            .trim()
            .parse()
            .unwrap_or(0);
        Ok(Some(pid))
    }

    /// What a connecting or waiting client needs, from one listing of the
    /// directory: the instances free to claim now (listening, with no claim
    /// or a stale one, server alive), and whether any instance is alive at
    /// all. Only candidates are probed, so a client facing 255 busy
    /// instances makes a few system calls, not eight per instance (the
    /// benchmark's 1,000-client profile).
    pub fn claimable(&self) -> io::Result<Claimable> {
        let names = fs::list_dir(self.as_fd())?;
        let slots_with = |suffix: &str| -> std::collections::BTreeSet<u32> {
            names
                .iter()
                .filter_map(|n| n.strip_suffix(suffix)?.parse().ok())
                .filter(|&s| s < MAX_SLOTS)
                .collect()
        };
        let (alive, socks, claims) = (
            slots_with(".alive"),
            slots_with(".sock"),
            slots_with(".claim"),
        );
        let mut free = Vec::new();
        for &slot in alive.intersection(&socks) {
            let claim = if claims.contains(&slot) {
                self.claim_state(slot)?
            } else {
                ClaimState::Free
            };
            if !matches!(claim, ClaimState::Free | ClaimState::Stale) {
                continue;
            }
            if let Some(server_pid) = self.probe_alive(slot)? {
                free.push(InstanceView {
                    slot,
                    listening: true,
                    claim,
                    server_pid,
                });
            }
        }
        let any_alive = !free.is_empty() || {
            let mut found = false;
            for &slot in &alive {
                if self.probe_alive(slot)?.is_some() {
                    found = true;
                    break;
                }
            }
            found
        };
        Ok(Claimable { free, any_alive })
    }

    /// The live instances, as a client or a lister sees them.
    pub fn live_instances(&self) -> io::Result<Vec<InstanceView>> {
        let mut out = Vec::new();
        for slot in self.slots()? {
            if let Some(server_pid) = self.probe_alive(slot)? {
                let listening = fs::stat_at(self.as_fd(), &sock_name(slot)).is_ok();
                let claim = self.claim_state(slot)?;
                out.push(InstanceView {
                    slot,
                    listening,
                    claim,
                    server_pid,
                });
            }
        }
        Ok(out)
    }

    /// The state of `slot`'s claim file.
    pub fn claim_state(&self, slot: u32) -> io::Result<ClaimState> {
        let fd = match fs::open_read_at(self.as_fd(), &claim_name(slot)) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ClaimState::Free),
            Err(e) => return Err(e),
        };
        claim_state_of(fd.as_fd())
    }

    /// Removes `slot`'s claim if it is stale, under the directory lock, and
    /// only if the file at the path is still the one found stale.
    pub fn remove_stale_claim(&self, slot: u32) -> io::Result<()> {
        self.remove_claim_if(slot, |state| state == ClaimState::Stale)
    }

    /// Removes `slot`'s claim unless a client holds it right now: what a
    /// server does before it listens again. A claim whose client is still
    /// connecting (it saw the instance listening, and claimed it while the
    /// instance was disconnected) stays, so that client is served next;
    /// claims of earlier listening phases go.
    pub fn remove_unheld_claim(&self, slot: u32) -> io::Result<()> {
        self.remove_claim_if(slot, |state| state != ClaimState::InProgress)
    }

    fn remove_claim_if(&self, slot: u32, remove: impl Fn(ClaimState) -> bool) -> io::Result<()> {
        let Some(_lock) = self.lock()? else {
            return Ok(());
        };
        let name = claim_name(slot);
        let fd = match fs::open_read_at(self.as_fd(), &name) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if remove(claim_state_of(fd.as_fd())?) {
            remove_if_same(self.as_fd(), &name, &fs::stat_fd(fd.as_fd())?)?;
        }
        Ok(())
    }

    /// Removes every file of a dead instance. Call with the lock held.
    pub fn remove_slot_files(&self, slot: u32) -> io::Result<()> {
        fs::remove_at(self.as_fd(), &sock_name(slot))?;
        fs::remove_at(self.as_fd(), &format!("{}.tmp", sock_name(slot)))?;
        fs::remove_at(self.as_fd(), &claim_name(slot))?;
        fs::remove_at(self.as_fd(), &alive_name(slot))
    }

    /// Removes the stale instances' files; returns the live slots. Call with
    /// the lock held.
    pub fn sweep(&self) -> io::Result<Vec<u32>> {
        let mut live = Vec::new();
        for slot in self.slots()? {
            if self.probe_alive(slot)?.is_some() {
                live.push(slot);
            } else {
                self.remove_slot_files(slot)?;
            }
        }
        // Leftovers of clients that died between creating and linking a
        // claim, and other temporary files, are removed when no lock holds
        // them.
        for name in fs::list_dir(self.as_fd())? {
            if name.ends_with(".tmp") && name.starts_with("claim.") {
                if let Ok(fd) = fs::open_read_at(self.as_fd(), &name) {
                    if fs::try_lock_shared(fd.as_fd())? {
                        fs::remove_at(self.as_fd(), &name)?;
                    }
                }
            }
        }
        Ok(live)
    }
}

/// Reads the state of an open claim file.
fn claim_state_of(fd: BorrowedFd<'_>) -> io::Result<ClaimState> {
    if !fs::try_lock_shared(fd)? {
        return Ok(ClaimState::InProgress);
    }
    let text = fs::read_all(fd)?;
    let state = if text.ends_with(CONNECTED_MARK.as_bytes()) {
        ClaimState::Connected
    } else {
        ClaimState::Stale
    };
    fs::unlock(fd)?;
    Ok(state)
}

/// Removes `name` if it is still the file `expected`.
pub(crate) fn remove_if_same(
    dir: BorrowedFd<'_>,
    name: &str,
    expected: &FileInfo,
) -> io::Result<()> {
    match fs::stat_at(dir, name) {
        Ok(now) if now.same_file(expected) => fs::remove_at(dir, name),
        _ => Ok(()),
    }
}

/// A client's claim on one listening phase of one instance. The flock is
/// held until [`Claim::mark_connected`], so a client that dies while
/// connecting leaves a claim others can tell is stale.
#[derive(Debug)]
pub(crate) struct Claim {
    fd: OwnedFd,
    pub token: u64,
}

impl Claim {
    /// Tries to claim `slot`: make a locked temporary file holding a random
    /// token, then `link` it to `NNN.claim`, which fails if someone else
    /// claimed first. `Ok(None)` when taken.
    pub fn try_take(dir: &PipeDir, slot: u32, pid: u32) -> io::Result<Option<Claim>> {
        loop {
            let token = random_token();
            let tmp = format!("claim.{pid}.{token:016x}.tmp");
            let fd = fs::create_new_at(dir.as_fd(), &tmp, 0o644)?;
            fs::lock_exclusive(fd.as_fd())?;
            fs::write_all(fd.as_fd(), format!("{token:016x}\n").as_bytes())?;
            let linked = fs::link_at(dir.as_fd(), &tmp, &claim_name(slot));
            fs::remove_at(dir.as_fd(), &tmp)?;
            match linked {
                Ok(()) => return Ok(Some(Claim { fd, token })),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
                // A server's sweep found the file in the moment between
                // creating and locking it, took it for a dead client's
                // leftover and removed it: make another.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The claim is done with: the connection is queued at the server, which
    /// owns the claim from now on.
    pub fn mark_connected(self) -> io::Result<()> {
        fs::append(self.fd.as_fd(), CONNECTED_MARK.as_bytes())
        // Dropping the fd releases the lock.
    }

    /// Gives the claim back (the connect failed).
    pub fn release(self, dir: &PipeDir, slot: u32) -> io::Result<()> {
        let me = fs::stat_fd(self.fd.as_fd())?;
        remove_if_same(dir.as_fd(), &claim_name(slot), &me)
    }
}

/// The token stored in `slot`'s claim, if any.
pub(crate) fn claim_token(dir: &PipeDir, slot: u32) -> io::Result<Option<u64>> {
    let fd = match fs::open_read_at(dir.as_fd(), &claim_name(slot)) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = fs::read_all(fd.as_fd())?;
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    Ok(std::str::from_utf8(first)
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok()))
}

/// A token no other client will pick: a hash of the pid, the time and a
/// per-process counter, mixed with the address-space randomisation of a
/// stack address.
pub(crate) fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    let local = 0u8;
    h.write_usize(&local as *const u8 as usize);
    h.finish() | 1
}
