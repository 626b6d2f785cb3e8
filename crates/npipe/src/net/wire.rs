//! What the client pump and the relay share: the writer task that owns the
//! TLS stream's write half, so that reading never waits behind a full
//! network buffer (both sides read while they write; otherwise two peers
//! writing at once could each wait for the other to read).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The sending end of a writer task.
#[derive(Debug)]
pub(crate) struct Outbox {
    tx: Option<mpsc::UnboundedSender<Vec<u8>>>,
    /// Bytes handed over and not yet written.
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    /// Starts a writer task over `wr`. It writes what it is given in order
    /// and, once the outbox is closed and everything is written, shuts the
    /// stream down (TLS `close_notify`).
    pub fn spawn<W>(mut wr: W) -> (Outbox, JoinHandle<std::io::Result<()>>)
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&queued);
        let task = tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                wr.write_all(&bytes).await?;
                counter.fetch_sub(bytes.len(), Ordering::Relaxed);
                if rx.is_empty() {
                    wr.flush().await?;
                }
            }
            wr.shutdown().await
        });
        (
            Outbox {
                tx: Some(tx),
                queued,
            },
            task,
        )
    }

    /// Queues bytes to write. Dropped silently once the writer has failed
    /// (the reader notices the broken connection).
    pub fn send(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        if let Some(tx) = &self.tx {
            self.queued.fetch_add(bytes.len(), Ordering::Relaxed);
            let _ = tx.send(bytes);
        }
    }

    /// Bytes queued and not yet written: a peer that does not read while
    /// it makes this side answer (pings, requests) shows here.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// No more bytes: the writer finishes and shuts the stream down.
    pub fn close(&mut self) {
        self.tx = None;
    }
}
