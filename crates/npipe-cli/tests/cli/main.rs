//! End-to-end tests of the `npipe` binary: real processes, each test in its
//! own namespace root (`--root`).
//!
//! - `bench`: `bench --quick` on a small subset, and its JSON.
//! - `serve_connect`: data through `serve` and `connect`, byte and message
//!   mode, `--echo`, `--exec`, who ends a session.
//! - `call_wait`: `call` and `wait`, with their exit statuses.
//! - `list`: `list` and `list --json`, live and killed servers and
//!   mailslot readers.
//! - `mailslot`: `mailslot create` and `mailslot send`, their output,
//!   time-outs, errors and exit statuses.
//! - `remote`: `cert`, then `connect '\\localhost\pipe\NAME'` through
//!   the real `npiped` on loopback to `serve --accept-remote`.
//! - `errors`: messages, hints and exit statuses of the common mistakes.
//! - `transfer`: 200 MB through `serve` and `connect`, checked by hash.
//! - `terminal`: the progress line on a terminal, and not without one.

mod bench;
mod call_wait;
mod errors;
mod list;
mod mailslot;
mod remote;
mod serve_connect;
mod terminal;
mod transfer;
mod util;
