//! A `Write` for ratatui's backend that buffers until `flush`, then sends the bytes down the
//! SSH channel from a task of its own. A client that stops reading (it grants no window) gets
//! at most [`MAX_QUEUED`] bytes queued for it; beyond that the writer fails, and the desktop
//! session ends rather than hold ever more frames.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use russh::server::Handle;
use russh::ChannelId;
use tokio::sync::mpsc;

/// Bytes waiting for a slow client before it is dropped.
pub const MAX_QUEUED: usize = 8 << 20;

pub struct ChannelWriter {
    sender: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    pub fn start(handle: Handle, channel: ChannelId) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Vec<u8>>();
        let queued = Arc::new(AtomicUsize::new(0));
        let sent = queued.clone();
        tokio::spawn(async move {
            while let Some(bytes) = receiver.recv().await {
                let len = bytes.len();
                let result = handle.data(channel, bytes).await;
                sent.fetch_sub(len, Ordering::AcqRel);
                if result.is_err() {
                    break;
                }
            }
        });
        Self {
            sender,
            queued,
            buffer: Vec::new(),
        }
    }
}

impl std::io::Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let len = self.buffer.len();
        if self.queued.fetch_add(len, Ordering::AcqRel) + len > MAX_QUEUED {
            self.queued.fetch_sub(len, Ordering::AcqRel);
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the SSH client is not reading its screen",
            ));
        }
        self.sender
            .send(std::mem::take(&mut self.buffer))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSH channel is closed")
            })
    }
}
