//! A `Write` for ratatui's backend that buffers until `flush`, then sends the bytes down the
//! SSH channel from a task of its own.

use russh::server::Handle;
use russh::ChannelId;
use tokio::sync::mpsc;

pub struct ChannelWriter {
    sender: mpsc::UnboundedSender<Vec<u8>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    pub fn start(handle: Handle, channel: ChannelId) -> Self {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(async move {
            while let Some(bytes) = receiver.recv().await {
                if handle.data(channel, bytes).await.is_err() {
                    break;
                }
            }
        });
        Self {
            sender,
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
        self.sender
            .send(std::mem::take(&mut self.buffer))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSH channel is closed")
            })
    }
}
