//! The desktop for a terminal at the far end of a byte stream: the sandbox's daemon runs it
//! for an SSH channel (`GET /term`), so the hypervisor only carries bytes. What the user's
//! terminal sends comes in as [`TermInput`]; what it should show goes out through [`Output`]; the
//! session is the same loop as the local terminal's, linked to the daemon like any client.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use choir_client::client::ProtocolClient;
use choir_proto::term_stream::clamp_size;
use choir_proto::term_stream::TermInput;
use choir_proto::Endpoint;
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

use crate::desktop::Desktop;
use crate::input::{InputEvent, InputParser};
use crate::session::{self, SessionEnd};
use crate::theme::Theme;

/// Alternate screen, mouse (buttons, drags, SGR coordinates) and bracketed paste on.
const ENTER: &str = "\x1b[?1049h\x1b[?1000h\x1b[?1002h\x1b[?1006h\x1b[?2004h";
/// Everything undone, cursor shown, main screen back.
const LEAVE: &str = "\x1b[?2004l\x1b[?1006l\x1b[?1002l\x1b[?1000l\x1b[0m\x1b[?25h\x1b[?1049l";

/// Bytes of screen waiting for a terminal that does not read before the session ends.
pub const MAX_QUEUED: usize = 8 << 20;

/// The palette for a terminal's `TERM`.
pub fn theme_for(term: &str) -> Theme {
    if term == "dumb" || term.ends_with("-m") || term.contains("mono") {
        Theme::monochrome()
    } else {
        Theme::colored()
    }
}

/// The screen bytes for the far terminal, in the order drawn.
pub struct Output {
    frames: mpsc::UnboundedReceiver<Vec<u8>>,
    queued: Arc<AtomicUsize>,
}

impl Output {
    /// The next bytes to send; `None` once the session is over and all were taken.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        let bytes = self.frames.recv().await?;
        self.queued.fetch_sub(bytes.len(), Ordering::AcqRel);
        Some(bytes)
    }
}

/// A `Write` for ratatui's backend: buffers until `flush`, then queues the bytes for
/// [`Output`]. Past [`MAX_QUEUED`] bytes not taken it fails, and the session ends rather than
/// hold ever more frames for a terminal that stopped reading.
struct QueuedWriter {
    frames: mpsc::UnboundedSender<Vec<u8>>,
    queued: Arc<AtomicUsize>,
    buffer: Vec<u8>,
}

impl Write for QueuedWriter {
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
                "the terminal is not reading its screen",
            ));
        }
        self.frames
            .send(std::mem::take(&mut self.buffer))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the terminal left"))
    }
}

/// A backend for a terminal at the far end of a stream: crossterm's drawing into the queue,
/// but nothing that would ask a terminal a question. The cursor position is the one last set
/// here (crossterm would ask the process's own terminal, which a daemon does not have) and the
/// size the one the stream gave at the start (a fixed viewport never asks; resizes come as
/// input).
struct StreamBackend {
    inner: CrosstermBackend<QueuedWriter>,
    cursor: Position,
    size: Size,
}

impl Backend for StreamBackend {
    type Error = std::io::Error;

    fn draw<'a, I>(&mut self, content: I) -> std::io::Result<()>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        self.inner.draw(content)
    }

    fn append_lines(&mut self, n: u16) -> std::io::Result<()> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> std::io::Result<()> {
        self.inner.hide_cursor()
    }

    fn show_cursor(&mut self) -> std::io::Result<()> {
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> std::io::Result<Position> {
        Ok(self.cursor)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> std::io::Result<()> {
        self.cursor = position.into();
        self.inner.set_cursor_position(self.cursor)
    }

    fn clear(&mut self) -> std::io::Result<()> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> std::io::Result<()> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> std::io::Result<Size> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> std::io::Result<WindowSize> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Backend::flush(&mut self.inner)
    }
}

impl Write for StreamBackend {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Write::flush(&mut self.inner)
    }
}

/// Starts a desktop for a terminal of `size` (and `TERM`) that reads [`Output`] and sends
/// `input`, linked to the daemon at `endpoint`. The task ends with the exit status to report
/// (0 when the user quit or the terminal left; 1 when the daemon turned the desktop away, as
/// the screen then says) once the user quits or `input` closes.
pub fn start(
    endpoint: Endpoint,
    size: (u16, u16),
    term: &str,
    input: mpsc::Receiver<TermInput>,
) -> (Output, tokio::task::JoinHandle<u32>) {
    let (frames, frames_rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let writer = QueuedWriter {
        frames,
        queued: queued.clone(),
        buffer: Vec::new(),
    };
    let theme = theme_for(term);
    let task = tokio::spawn(run(endpoint, size, theme, input, writer));
    (
        Output {
            frames: frames_rx,
            queued,
        },
        task,
    )
}

async fn run(
    endpoint: Endpoint,
    size: (u16, u16),
    theme: Theme,
    input: mpsc::Receiver<TermInput>,
    mut writer: QueuedWriter,
) -> u32 {
    let size = clamp_size(size.0.into(), size.1.into());
    if writer
        .write_all(ENTER.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return 0;
    }
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, size.0, size.1)),
    };
    let backend = StreamBackend {
        inner: CrosstermBackend::new(writer),
        cursor: Position::ORIGIN,
        size: Size::new(size.0, size.1),
    };
    let Ok(mut terminal) = Terminal::with_options(backend, options) else {
        return 0;
    };
    let (client, updates) = ProtocolClient::spawn(move || Ok(endpoint.clone()), "ssh");
    let utc_offset = crate::terminal::local_utc_offset();
    let mut desktop = Desktop::new(theme, utc_offset);
    let events = Box::pin(futures_util::stream::unfold(
        (input, InputParser::new()),
        |(mut input, mut parser)| async move {
            loop {
                let events = match input.recv().await? {
                    TermInput::Bytes(bytes) => {
                        let mut events = parser.feed(&bytes);
                        // Terminals send whole sequences at once: a lone ESC at the end is the
                        // key.
                        events.extend(parser.flush());
                        events
                    }
                    TermInput::Resize(cols, rows) => {
                        let (cols, rows) = clamp_size(cols.into(), rows.into());
                        vec![InputEvent::Resize(cols, rows)]
                    }
                };
                if !events.is_empty() {
                    return Some((futures_util::stream::iter(events), (input, parser)));
                }
            }
        },
    ));
    let events = futures_util::StreamExt::flatten(events);
    let clock = move || crate::apps::clock(choir_proto::now_ms(), utc_offset, false);
    let ended = session::run(
        &mut terminal,
        size,
        &mut desktop,
        events,
        client,
        updates,
        clock,
    )
    .await;
    let writer = terminal.backend_mut();
    let _ = writer
        .write_all(LEAVE.as_bytes())
        .and_then(|()| Write::flush(writer));
    match ended {
        Err(err) => {
            tracing::warn!(%err, "a remote desktop session failed");
            0
        }
        // A share revoked or expired: say so where the desktop was.
        Ok(SessionEnd::Gone(reason)) => {
            let _ = write!(writer, "choir: {reason}\r\n").and_then(|()| Write::flush(writer));
            1
        }
        Ok(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writer_whose_screen_is_not_taken_fails_past_the_limit() {
        let (frames, _kept) = mpsc::unbounded_channel();
        let mut writer = QueuedWriter {
            frames,
            queued: Arc::new(AtomicUsize::new(0)),
            buffer: Vec::new(),
        };
        let frame = vec![b'x'; 1 << 20];
        for _ in 0..MAX_QUEUED >> 20 {
            writer.write_all(&frame).unwrap();
            writer.flush().unwrap();
        }
        writer.write_all(b"one more").unwrap();
        let err = writer.flush().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    }
}
