//! Reads, writes, peek, transact, flush and the handle state on the async
//! types, with the blocking API's results.

use std::time::Duration;

use npipe::tokio::{NamedPipeClient, NamedPipeServer};
use npipe::{ClientOptions, Error, MessageRead, PipeEnd, ReadMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{run, TestRoot};

async fn pair(root: &TestRoot, name: &str) -> (NamedPipeServer, NamedPipeClient) {
    let server = NamedPipeServer::create(&root.server(), name).unwrap();
    let client = NamedPipeClient::open(&root.client(), name).unwrap();
    server.connect().await.unwrap();
    (server, client)
}

#[test]
fn long_messages_come_in_pieces_with_more_data() {
    let root = TestRoot::new("io-more-data");
    run(async {
        let (server, client) = pair(&root, r"\\.\pipe\io-more-data").await;
        client.write_message(b"abcdefgh").await.unwrap();
        client.write_message(b"").await.unwrap();
        let mut buf = [0u8; 3];
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::MoreData(3)
        );
        let peek = server.peek(&mut []).unwrap();
        assert_eq!((peek.total_available, peek.left_in_message), (5, 5));
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::MoreData(3)
        );
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::Complete(2)
        );
        assert_eq!(&buf[..2], b"gh");
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::Complete(0)
        );
        assert!(matches!(
            server.try_read_message(&mut buf),
            Err(Error::WouldBlock)
        ));
    });
}

#[test]
fn peek_sees_without_consuming() {
    let root = TestRoot::new("io-peek");
    run(async {
        let (server, client) = pair(&root, r"\\.\pipe\io-peek").await;
        client.write_message(b"hello world").await.unwrap();
        client.write_message(b"two").await.unwrap();
        client.flush_unread_check(&server).await;
        let mut buf = [0u8; 5];
        let peek = server.peek(&mut buf).unwrap();
        assert_eq!(
            (peek.copied, peek.total_available, peek.left_in_message),
            (5, 14, 6)
        );
        assert_eq!(&buf, b"hello");
        let mut big = [0u8; 64];
        assert_eq!(
            server.read_message(&mut big).await.unwrap(),
            MessageRead::Complete(11)
        );
        assert_eq!(
            server.read_message(&mut big).await.unwrap(),
            MessageRead::Complete(3)
        );
    });
}

/// Waits until `server` has something to peek (the data crossed).
trait Crossed {
    async fn flush_unread_check(&self, server: &NamedPipeServer);
}

impl Crossed for NamedPipeClient {
    async fn flush_unread_check(&self, server: &NamedPipeServer) {
        for _ in 0..1000 {
            if server.peek(&mut []).unwrap().total_available > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("nothing arrived");
    }
}

#[test]
fn transact_writes_one_message_and_reads_the_reply() {
    let root = TestRoot::new("io-transact");
    let name = r"\\.\pipe\io-transact";
    run(async {
        let (server, client) = pair(&root, name).await;
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 400_000];
            let got = server.read_message(&mut buf).await.unwrap();
            let mut reply = b"re: ".to_vec();
            reply.extend_from_slice(&buf[..got.len().min(10)]);
            server.write_message(&reply).await.unwrap();
            server
        });
        // A request larger than the socket buffer: it must go out whole
        // before the reply can come.
        let request = vec![b'q'; 300_000];
        let mut out = [0u8; 64];
        let got = client.transact(&request, &mut out).await.unwrap();
        assert_eq!(&out[..got.len()], b"re: qqqqqqqqqq");
        let server = echo.await.unwrap();

        // Unread data: ERROR_PIPE_BUSY, as on Windows.
        server.write_message(b"unsolicited").await.unwrap();
        client.flush_unread_check_client().await;
        let err = client.transact(b"x", &mut out).await.unwrap_err();
        assert_eq!(err.win32_code(), npipe::win32::ERROR_PIPE_BUSY, "{err}");

        // Byte read mode: ERROR_BAD_PIPE.
        let bytes = NamedPipeServer::create(&root.server(), name).unwrap();
        let mut byte_client = ClientOptions::new();
        byte_client.root(root.path()).read_mode(ReadMode::Byte);
        let byte_client = NamedPipeClient::open(&byte_client, name).unwrap();
        bytes.connect().await.unwrap();
        let err = byte_client.transact(b"x", &mut out).await.unwrap_err();
        assert_eq!(err.win32_code(), npipe::win32::ERROR_BAD_PIPE, "{err}");
    });
}

trait ClientCrossed {
    async fn flush_unread_check_client(&self);
}

impl ClientCrossed for NamedPipeClient {
    async fn flush_unread_check_client(&self) {
        for _ in 0..1000 {
            if self.peek(&mut []).unwrap().total_available > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("nothing arrived");
    }
}

#[test]
fn call_connects_transacts_and_closes() {
    let root = TestRoot::new("io-call");
    let name = r"\\.\pipe\io-call";
    run(async {
        let server = NamedPipeServer::create(&root.server(), name).unwrap();
        let serve = tokio::spawn(async move {
            server.connect().await.unwrap();
            let mut buf = [0u8; 64];
            let got = server.read_message(&mut buf).await.unwrap();
            server.write_message(&buf[..got.len()]).await.unwrap();
            let err = server.read_message(&mut buf).await.unwrap_err();
            assert!(matches!(err, Error::BrokenPipe), "{err}");
        });
        let mut out = [0u8; 64];
        let got = NamedPipeClient::call(
            &root.client(),
            name,
            b"ping",
            &mut out,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(&out[..got.len()], b"ping");
        serve.await.unwrap();
    });
}

#[test]
fn flush_resolves_once_the_peer_has_read_everything() {
    let root = TestRoot::new("io-flush");
    run(async {
        let (server, client) = pair(&root, r"\\.\pipe\io-flush").await;
        let server = std::sync::Arc::new(server);
        // Far more than the socket holds: flush must wait for every read.
        const N: usize = 40;
        let msg = vec![9u8; 100_000];
        let writer = {
            let server = std::sync::Arc::clone(&server);
            tokio::spawn(async move {
                for _ in 0..N {
                    server.write_message(&msg).await.unwrap();
                }
                server.flush().await.unwrap();
            })
        };
        let mut buf = vec![0u8; 100_000];
        for i in 0..N {
            // The flush is still waiting while messages are unread.
            assert!(
                !writer.is_finished(),
                "flush resolved with {} unread",
                N - i
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
            assert_eq!(
                client.read_message(&mut buf).await.unwrap(),
                MessageRead::Complete(100_000)
            );
        }
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("flush resolves once all is read")
            .unwrap();
        // Nothing written: resolves at once.
        client.flush().await.unwrap();
    });
}

#[test]
fn disconnect_reaches_the_async_client_and_the_instance_serves_again() {
    let root = TestRoot::new("io-disconnect");
    let name = r"\\.\pipe\io-disconnect";
    run(async {
        let (server, client) = pair(&root, name).await;
        let mut buf = [0u8; 8];
        let reader = tokio::spawn(async move {
            let err = client.read_message(&mut buf).await.unwrap_err();
            assert!(matches!(err, Error::PipeNotConnected), "{err}");
            let err = client.write_message(b"x").await.unwrap_err();
            assert!(matches!(err, Error::PipeNotConnected), "{err}");
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        server.disconnect().unwrap();
        reader.await.unwrap();
        assert!(matches!(
            server.read_message(&mut [0; 4]).await,
            Err(Error::PipeNotConnected)
        ));
        let second = NamedPipeClient::open(&root.client(), name);
        assert!(
            matches!(second, Err(Error::PipeBusy { .. })),
            "not listening until connect"
        );
        let connect = tokio::spawn(async move {
            server.connect().await.unwrap();
            server
        });
        let second = NamedPipeClient::open_wait(&root.client(), name, Duration::from_secs(5))
            .await
            .unwrap();
        let server = connect.await.unwrap();
        second.write_message(b"again").await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::Complete(5)
        );
    });
}

#[test]
fn credentials_info_and_modes() {
    let root = TestRoot::new("io-creds");
    let name = r"\\.\pipe\io-creds";
    run(async {
        let (server, client) = pair(&root, name).await;
        let me = std::process::id();
        assert_eq!(server.client_process_id().unwrap(), me);
        assert_eq!(server.server_process_id().unwrap(), me);
        assert_eq!(client.server_process_id().unwrap(), me);
        assert_eq!(client.client_process_id().unwrap(), me);
        // SAFETY: getuid has no preconditions.
        #[allow(unsafe_code)]
        let uid = unsafe { libc::getuid() };
        assert_eq!(server.client_credentials().unwrap().uid, uid);
        assert_eq!(client.server_credentials().unwrap().uid, uid);
        let info = client.info().unwrap();
        assert_eq!(
            (info.end, info.read_mode, info.current_instances),
            (PipeEnd::Client, ReadMode::Message, 1)
        );
        assert_eq!(server.info().unwrap().end, PipeEnd::Server);
        assert_eq!(server.name().as_str(), name);
        // PIPE_NOWAIT: reads resolve at once.
        server.set_nowait(true);
        let err = server.read_message(&mut [0; 4]).await.unwrap_err();
        assert!(matches!(err, Error::WouldBlock), "{err}");
        server.set_nowait(false);
        client.set_read_mode(ReadMode::Byte).unwrap();
        client.write_message(b"").await.unwrap();
        client.write_message(b"xy").await.unwrap();
        server.set_read_mode(ReadMode::Byte).unwrap();
        let mut buf = [0u8; 4];
        // Byte read mode skips the empty message.
        assert_eq!(
            server.read_message(&mut buf).await.unwrap(),
            MessageRead::Complete(2)
        );
    });
}

#[test]
fn async_read_and_write_on_a_byte_pipe() {
    let root = TestRoot::new("io-bytes");
    let name = r"\\.\pipe\io-bytes";
    run(async {
        let mut options = npipe::ServerOptions::new();
        options.root(root.path());
        let mut server = NamedPipeServer::create(&options, name).unwrap();
        let mut client_options = ClientOptions::new();
        client_options.root(root.path());
        let mut client = NamedPipeClient::open(&client_options, name).unwrap();
        server.connect().await.unwrap();
        let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&data).await.unwrap();
            client.flush().await.unwrap();
            client
        });
        let mut got = vec![0u8; expected.len()];
        server.read_exact(&mut got).await.unwrap();
        assert!(got == expected);
        let client = writer.await.unwrap();
        drop(client);
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
}

#[test]
fn async_read_and_write_keep_message_boundaries() {
    let root = TestRoot::new("io-msg-traits");
    run(async {
        let (mut server, mut client) = pair(&root, r"\\.\pipe\io-msg-traits").await;
        // A message larger than the socket buffer through AsyncWrite: the
        // read below pushes its rest, so no flush is needed.
        let big = vec![5u8; 500_000];
        assert_eq!(client.write(&big).await.unwrap(), big.len());
        let echo = tokio::spawn(async move {
            let mut buf = vec![0u8; 600_000];
            let mut got = 0;
            loop {
                let n = server.read(&mut buf[got..]).await.unwrap();
                got += n;
                if got == 500_000 {
                    break;
                }
            }
            server.write_all(b"done").await.unwrap();
            server
        });
        let mut reply = [0u8; 4];
        client.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"done");
        echo.await.unwrap();
    });
}

#[test]
fn anonymous_pipe_ends_read_and_write_asynchronously() {
    run(async {
        let (mut reader, mut writer) = npipe::tokio::anonymous::pipe().unwrap();
        let size = writer.buffer_size().unwrap();
        let data: Vec<u8> = (0..size * 5).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        let write = tokio::spawn(async move {
            writer.write_all(&data).await.unwrap();
            writer
        });
        let mut got = vec![0u8; expected.len()];
        reader.read_exact(&mut got).await.unwrap();
        assert!(got == expected);
        let writer = write.await.unwrap();
        writer.into_blocking().unwrap().write_all_blocking(b"z");
        assert_eq!(reader.bytes_available().unwrap(), 1);
        let mut one = [0u8; 1];
        reader.read_exact(&mut one).await.unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "end of data once the writer is gone");

        let (reader, mut writer) = npipe::tokio::anonymous::pipe().unwrap();
        drop(reader);
        let err = writer.write_all(b"x").await.unwrap_err();
        assert_eq!(npipe::win32_code_of(&err), npipe::win32::ERROR_BROKEN_PIPE);
    });
}

trait WriteAllBlocking {
    fn write_all_blocking(self, data: &[u8]);
}

impl WriteAllBlocking for npipe::anonymous::PipeWriter {
    fn write_all_blocking(mut self, data: &[u8]) {
        std::io::Write::write_all(&mut self, data).unwrap();
    }
}

#[test]
fn read_message_to_end_and_close_write_match_the_blocking_api() {
    let root = TestRoot::new("io-to-end");
    run(async {
        let (server, client) = pair(&root, r"\\.\pipe\io-to-end").await;
        client.set_read_mode(ReadMode::Message).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let writer = async {
            client.write_message(&big).await.unwrap();
            client.write_message(b"tail").await.unwrap();
            client.close_write().await.unwrap();
        };
        let reader = async {
            let mut got = b"prefix".to_vec();
            assert_eq!(
                server.read_message_to_end(&mut got).await.unwrap(),
                big.len()
            );
            assert_eq!(&got[6..], &big[..]);
            let mut tail = Vec::new();
            assert_eq!(server.read_message_to_end(&mut tail).await.unwrap(), 4);
            // The client's writing half is closed: the end of the stream.
            let end = server.read_message_to_end(&mut tail).await;
            assert!(matches!(end, Err(Error::BrokenPipe)), "{end:?}");
            assert_eq!(tail, b"tail");
        };
        tokio::join!(writer, reader);
        // The client still reads after closing its writing half.
        server.write_message(b"reply").await.unwrap();
        let mut reply = Vec::new();
        assert_eq!(client.read_message_to_end(&mut reply).await.unwrap(), 5);
        assert_eq!(reply, b"reply");
    });
}
