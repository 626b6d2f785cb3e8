//! nOutBufferSize and nInBufferSize: the send buffers of the server's and
//! the clients' sockets, fixed by the first instance, and what `info()`
//! reports of them.
//!
//! The buffer tests count, they do not time: the other end never reads, the
//! writer is in non-blocking mode, and a byte write that finds no room
//! returns `Ok(0)`. How many bytes went in before that is what the buffer
//! holds, so a small buffer must take fewer than the system default.

use npipe::{NamedPipeClient, NamedPipeServer, PipeInfo};
use npipe_tests::{within, TestRoot};

use crate::peer;

/// The buffer size asked for in the tests: far below the system default
/// (`net.core.wmem_default`, usually 208 KiB) even once the kernel has
/// doubled it.
const SMALL: u32 = 8 * 1024;

/// The size of each non-blocking write.
const CHUNK: usize = 1024;

/// More than any socket buffer the kernel allows by default: a writer that
/// gets this far never found the pipe full.
const CEILING: usize = 64 * 1024 * 1024;

/// Writes `CHUNK`-byte pieces with `write` (a handle in non-blocking mode)
/// until one takes nothing, and returns the bytes taken in all.
fn fill(write: impl Fn(&[u8]) -> npipe::Result<usize>) -> usize {
    let chunk = [b'x'; CHUNK];
    let mut total = 0;
    loop {
        match write(&chunk).expect("a non-blocking write") {
            0 => return total,
            n => total += n,
        }
        assert!(
            total < CEILING,
            "{total} bytes written and the pipe never filled up"
        );
    }
}

/// [`fill`] on a connected server, in non-blocking mode, bounded in time
/// (a write that blocks is a failure, not a hang).
fn fill_server(server: NamedPipeServer) -> usize {
    server.set_nowait(true);
    within("server writes", move || fill(|b| server.write_message(b)))
}

/// [`fill`] on a client, in non-blocking mode, bounded in time.
fn fill_client(client: NamedPipeClient) -> usize {
    client.set_nowait(true);
    within("client writes", move || fill(|b| client.write_message(b)))
}

/// The two buffer sizes an `info()` reports.
fn sizes(info: PipeInfo) -> (u32, u32) {
    (info.out_buffer_size, info.in_buffer_size)
}

#[test]
fn out_buffer_size_limits_what_the_server_writes_before_the_pipe_is_full() {
    let root = TestRoot::new();
    let (small, default) = (root.pipe_named("small"), root.pipe_named("default"));
    let small_server = root.server().out_buffer_size(SMALL).create(&small).unwrap();
    let default_server = root.server().create(&default).unwrap();
    // A client process that opens both pipes and never reads.
    let mut client = peer(&root, &["open", &small, "open", &default, "hang"]);
    client.expect_all(&["opened", "opened", "hanging"]);
    small_server.connect().unwrap();
    default_server.connect().unwrap();

    let took_small = fill_server(small_server);
    let took_default = fill_server(default_server);
    assert!(took_small > 0, "the small buffer took nothing");
    assert!(
        took_small < took_default,
        "out_buffer_size({SMALL}) let the server write {took_small} bytes, the default \
         {took_default}: the size did not reach the server's socket"
    );
}

#[test]
fn in_buffer_size_limits_what_a_client_writes_before_the_pipe_is_full() {
    let root = TestRoot::new();
    let (small, default) = (root.pipe_named("small"), root.pipe_named("default"));
    // A server process whose instances never read; the small one's size
    // comes to this process's client through the pipe's meta file.
    let small_buffer = SMALL.to_string();
    let script = [
        "serve",
        &small,
        "--in-buffer",
        &small_buffer,
        "connect",
        "serve",
        &default,
        "connect",
        "hang",
    ];
    let mut server = peer(&root, &script);
    server.expect("listening");
    let small_client = root.client().open(&small).unwrap();
    server.expect_all(&["connected", "listening"]);
    let default_client = root.client().open(&default).unwrap();
    server.expect_all(&["connected", "hanging"]);

    let took_small = fill_client(small_client);
    let took_default = fill_client(default_client);
    assert!(took_small > 0, "the small buffer took nothing");
    assert!(
        took_small < took_default,
        "in_buffer_size({SMALL}) let the client write {took_small} bytes, the default \
         {took_default}: the size did not reach the client's socket"
    );
}

#[test]
fn info_on_both_ends_reports_the_buffer_sizes_the_first_instance_asked_for() {
    let root = TestRoot::new();
    let (sized, unsized_) = (root.pipe_named("sized"), root.pipe_named("unsized"));
    // The first instances are another process's: one asks for sizes, one
    // does not. The later instances here ask for other sizes, which must
    // not count: the first instance fixes them for the name.
    let script = [
        "serve",
        &sized,
        "--out-buffer",
        "8192",
        "--in-buffer",
        "4096",
        "serve",
        &unsized_,
        "hang",
    ];
    let mut first = peer(&root, &script);
    first.expect_all(&["listening", "listening", "hanging"]);

    let later = root
        .server()
        .out_buffer_size(65536)
        .in_buffer_size(32768)
        .create(&sized)
        .unwrap();
    assert_eq!(sizes(later.info().unwrap()), (8192, 4096));
    let client = root.client().open(&sized).unwrap();
    assert_eq!(sizes(client.info().unwrap()), (8192, 4096));

    let later = root
        .server()
        .out_buffer_size(65536)
        .in_buffer_size(32768)
        .create(&unsized_)
        .unwrap();
    assert_eq!(sizes(later.info().unwrap()), (0, 0));
    let client = root.client().open(&unsized_).unwrap();
    assert_eq!(sizes(client.info().unwrap()), (0, 0));
}
