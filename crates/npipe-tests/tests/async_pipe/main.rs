//! The async (tokio) API: every test runs on a tokio runtime, against the
//! async or the blocking API, in one process or two.
//!
//! - `interop`: async server with a blocking client process, blocking
//!   server process with an async client, both directions of every pair.
//! - `io`: messages, `MoreData`, peek, transact, flush, credentials,
//!   `AsyncRead` / `AsyncWrite`, anonymous pipes.
//! - `cancel`: futures dropped at random points; the stream stays whole.
//! - `busy`: `ERROR_PIPE_BUSY`, waits, time-outs, disconnects under load.
//! - `load`: 1,000 clients against one async server.

mod busy;
mod cancel;
mod interop;
mod io;
mod load;
mod support;
