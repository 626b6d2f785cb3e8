//! Child process for `tests/anonymous.rs`: does one scripted thing with
//! anonymous pipes and reports on stdout, one `key value` line per fact.
//!
//! ```text
//! npipe-anon-child cat                    copy stdin to stdout
//! npipe-anon-child hang                   read nothing; exit after 60 s
//! npipe-anon-child fd-status FD...        "FD closed" or "FD <readlink of /proc/self/fd/FD>"
//! npipe-anon-child write-stdin-sigdfl     SIGPIPE to SIG_DFL, write to stdin (a pipe writer)
//! npipe-anon-child own-pipe-sigdfl        SIGPIPE to SIG_DFL, write to a live then a dead pipe
//! npipe-anon-child pending-preserved      SIGPIPE blocked and pending, then a dead-pipe write
//! npipe-anon-child handler                SIGPIPE handler installed, then a dead-pipe write
//! npipe-anon-child size-unprivileged N    drop root, create a pipe with nSize N
//! ```
//!
//! After a dead-pipe write it prints `error <win32 code>`, then
//! `sigpipe-pending yes|no` and `sigpipe-blocked yes|no`; surviving to print
//! them is the point. The signal calls need `unsafe`, hence the allow.
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use npipe::anonymous::{pipe, AnonymousPipeOptions, PipeWriter};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[1..];
    match args.first().map(String::as_str) {
        Some("cat") => {
            io::copy(&mut io::stdin().lock(), &mut io::stdout().lock()).expect("copy");
        }
        Some("hang") => std::thread::sleep(Duration::from_secs(60)),
        Some("fd-status") => rest.iter().for_each(|fd| fd_status(fd)),
        Some("write-stdin-sigdfl") => {
            set_sigpipe(libc::SIG_DFL);
            let fd = io::stdin().as_fd().try_clone_to_owned().expect("dup stdin");
            report_dead_write(PipeWriter::from(fd));
        }
        Some("own-pipe-sigdfl") => {
            set_sigpipe(libc::SIG_DFL);
            let (mut r, mut w) = pipe().expect("pipe");
            w.write_all(b"abc").expect("live write");
            let mut buf = [0; 3];
            r.read_exact(&mut buf).expect("read");
            println!("live {}", String::from_utf8_lossy(&buf));
            println!("sigpipe-blocked {}", yes_no(sigpipe_in(Set::Blocked)));
            drop(r);
            report_dead_write(w);
        }
        Some("pending-preserved") => {
            set_sigpipe(libc::SIG_DFL);
            block_sigpipe();
            // SAFETY: raising a blocked signal only marks it pending.
            unsafe { libc::raise(libc::SIGPIPE) };
            let (r, w) = pipe().expect("pipe");
            drop(r);
            report_dead_write(w);
        }
        Some("handler") => {
            set_sigpipe(on_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t);
            let (r, w) = pipe().expect("pipe");
            drop(r);
            report_dead_write(w);
            println!("handler-calls {}", HANDLER_CALLS.load(Ordering::SeqCst));
        }
        Some("size-unprivileged") => size_unprivileged(rest[0].parse().expect("a size")),
        other => {
            eprintln!("npipe-anon-child: unknown command {other:?}");
            std::process::exit(2);
        }
    }
}

/// Writes to a writer whose readers are gone; prints the Win32 code and
/// what became of SIGPIPE.
fn report_dead_write(mut w: PipeWriter) {
    let err = w.write(b"x").expect_err("write with no reader must fail");
    println!("error {}", npipe::win32_code_of(&err));
    println!("sigpipe-pending {}", yes_no(sigpipe_in(Set::Pending)));
    println!("sigpipe-blocked {}", yes_no(sigpipe_in(Set::Blocked)));
}

fn fd_status(fd: &str) {
    match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(target) => println!("{fd} {}", target.display()),
        Err(_) => println!("{fd} closed"),
    }
}

fn size_unprivileged(hint: usize) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // SAFETY: plain calls with integer arguments; the results are checked.
        let dropped = unsafe { libc::setgid(65534) == 0 && libc::setuid(65534) == 0 };
        if !dropped {
            println!(
                "skip cannot become uid 65534: {}",
                io::Error::last_os_error()
            );
            return;
        }
    }
    let max = std::fs::read_to_string("/proc/sys/fs/pipe-max-size").expect("pipe-max-size");
    let (r, _w) = AnonymousPipeOptions::new()
        .buffer_size(hint)
        .create()
        .expect("create must clamp, not fail");
    println!("max {}", max.trim());
    println!("size {}", r.buffer_size().expect("size"));
}

static HANDLER_CALLS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sigpipe(_: libc::c_int) {
    HANDLER_CALLS.fetch_add(1, Ordering::SeqCst);
}

fn set_sigpipe(handler: libc::sighandler_t) {
    // SAFETY: SIG_DFL, or `on_sigpipe`, which only touches an atomic and is
    // async-signal-safe.
    let old = unsafe { libc::signal(libc::SIGPIPE, handler) };
    assert_ne!(old, libc::SIG_ERR);
}

fn empty_set() -> libc::sigset_t {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: initialised just above.
    unsafe { set.assume_init() }
}

fn block_sigpipe() {
    let mut set = empty_set();
    // SAFETY: `set` is an initialised sigset_t; SIGPIPE is a valid signal.
    unsafe { libc::sigaddset(&mut set, libc::SIGPIPE) };
    // SAFETY: `set` is initialised; a null old set is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, ptr::null_mut()) };
    assert_eq!(rc, 0);
}

enum Set {
    Pending,
    Blocked,
}

fn sigpipe_in(which: Set) -> bool {
    let mut set = empty_set();
    let rc = match which {
        // SAFETY: `set` is an initialised, writable sigset_t.
        Set::Pending => unsafe { libc::sigpending(&mut set) },
        // SAFETY: a null new set only reads the mask into `set`.
        Set::Blocked => unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, ptr::null(), &mut set) },
    };
    assert_eq!(rc, 0);
    // SAFETY: `set` is initialised.
    unsafe { libc::sigismember(&set, libc::SIGPIPE) == 1 }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
