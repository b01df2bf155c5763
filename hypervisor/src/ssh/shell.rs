//! The desktop in an SSH channel: the same session loop as the local terminal, drawing into
//! the channel and reading the keys the client sends.

use std::io::Write;
use std::time::Duration;

use choir_client::client::ProtocolClient;
use choir_client::connect::ConnectError;
use choir_proto::Endpoint;
use choir_tui::desktop::Desktop;
use choir_tui::input::InputEvent;
use choir_tui::session::{self, SessionEnd};
use choir_tui::theme::Theme;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use russh::server::Handle;
use russh::ChannelId;
use tokio::sync::mpsc;

use super::writer::ChannelWriter;

/// Alternate screen, mouse (buttons, drags, SGR coordinates) and bracketed paste on.
const ENTER: &str = "\x1b[?1049h\x1b[?1000h\x1b[?1002h\x1b[?1006h\x1b[?2004h";
/// Everything undone, cursor shown, main screen back.
const LEAVE: &str = "\x1b[?2004l\x1b[?1006l\x1b[?1002l\x1b[?1000l\x1b[0m\x1b[?25h\x1b[?1049l";

/// Largest screen accepted from a client; bigger requests are clamped.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;

/// A pty size from the client, clamped: zero becomes the 80x24 default, absurd sizes the max.
pub fn clamp_size(cols: u32, rows: u32) -> (u16, u16) {
    let clamp = |value: u32, default: u16, max: u16| {
        if value == 0 {
            default
        } else {
            u16::try_from(value).unwrap_or(max).min(max)
        }
    };
    (clamp(cols, 80, MAX_COLS), clamp(rows, 24, MAX_ROWS))
}

/// The palette for a client's `TERM`.
pub fn theme_for(term: &str) -> Theme {
    if term == "dumb" || term.ends_with("-m") || term.contains("mono") {
        Theme::monochrome()
    } else {
        Theme::colored()
    }
}

/// Runs the desktop until the user quits or the channel closes; then restores the client's
/// terminal and closes the channel with exit status 0.
pub async fn run(
    handle: Handle,
    channel: ChannelId,
    locate: impl Fn() -> Result<Endpoint, ConnectError> + Send + 'static,
    size: (u16, u16),
    theme: Theme,
    input: mpsc::Receiver<InputEvent>,
    budget: choir_client::budget::Budget,
) {
    let mut writer = ChannelWriter::start(handle.clone(), channel);
    let _ = writer
        .write_all(ENTER.as_bytes())
        .and_then(|()| writer.flush());
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, size.0, size.1)),
    };
    let terminal = Terminal::with_options(CrosstermBackend::new(writer), options);
    let Ok(mut terminal) = terminal else {
        return;
    };
    let (client, updates) = ProtocolClient::spawn_within(locate, "ssh", budget);
    let mut desktop = Desktop::new(theme, choir_tui::terminal::local_utc_offset());
    let input = Box::pin(futures_util::stream::unfold(input, |mut rx| async move {
        rx.recv().await.map(|event| (event, rx))
    }));
    let clock = || chrono_free_clock(choir_tui::terminal::local_utc_offset());
    let ended = session::run(
        &mut terminal,
        size,
        &mut desktop,
        input,
        client,
        updates,
        clock,
    )
    .await;
    let mut status = 0;
    let writer = terminal.backend_mut();
    let _ = writer
        .write_all(LEAVE.as_bytes())
        .and_then(|()| writer.flush());
    match ended {
        Err(err) => tracing::warn!(%err, "an SSH desktop session failed"),
        // A share revoked or expired: say so where the desktop was.
        Ok(SessionEnd::Gone(reason)) => {
            status = 1;
            let _ = write!(writer, "choir: {reason}\r\n").and_then(|()| writer.flush());
        }
        Ok(_) => {}
    }
    // Let the restore sequences leave before the channel closes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = handle.exit_status_request(channel, status).await;
    let _ = handle.eof(channel).await;
    let _ = handle.close(channel).await;
}

/// `HH:MM` at the server's offset.
fn chrono_free_clock(utc_offset: i32) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    choir_tui::apps::clock(now, utc_offset, false)
}
