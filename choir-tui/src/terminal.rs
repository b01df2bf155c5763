//! The desktop in the local terminal: raw mode, alternate screen, mouse and paste on; all of
//! it undone on exit and on panic. Logs go to a file, never to the screen.

use std::io::{self, Stdout};
use std::path::Path;

use anyhow::{Context, Result};
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::ExecutableCommand;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::desktop::Desktop;
use crate::input::{from_crossterm, InputEvent};
use crate::session::{self, SessionEnd};
use crate::theme::Theme;
use choir_client::client::ProtocolClient;
use choir_client::connect::ConnectError;

/// Sends `tracing` output to `<dir>/choir-tui.log`.
pub fn log_to_file(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("choir-tui.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CHOIR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(())
}

fn restore() {
    let mut stdout = io::stdout();
    let _ = stdout.execute(DisableBracketedPaste);
    let _ = stdout.execute(DisableMouseCapture);
    let _ = stdout.execute(LeaveAlternateScreen);
    let _ = stdout.execute(crossterm::cursor::Show);
    let _ = disable_raw_mode();
}

/// The terminal's input, read on a thread of its own that blocks on it: a key reaches the
/// session loop with one wake-up (crossterm's `EventStream` took two, and its reader's lock
/// made the loop spin while that thread waited). The thread ends when the loop has gone.
fn read_input() -> mpsc::UnboundedReceiver<InputEvent> {
    let (events, input) = mpsc::unbounded_channel();
    let reader = std::thread::Builder::new()
        .name("terminal-input".into())
        .spawn(move || loop {
            match crossterm::event::read() {
                Ok(event) => {
                    if let Some(event) = from_crossterm(event) {
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, "the terminal's input ended");
                    return;
                }
            }
        });
    if let Err(err) = reader {
        tracing::error!(%err, "cannot start reading the terminal");
    }
    input
}

/// The terminal, drawn at `size` until a resize event says otherwise (a fixed viewport: a
/// frame does not ask the terminal for its size, three system calls each time).
fn setup(size: (u16, u16)) -> Result<Terminal<CrosstermBackend<Stdout>>> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode().context("this does not look like a terminal (raw mode failed)")?;
    let mut stdout = io::stdout();
    stdout.execute(EnterAlternateScreen)?;
    stdout.execute(EnableMouseCapture)?;
    stdout.execute(EnableBracketedPaste)?;
    let area = ratatui::layout::Rect::new(0, 0, size.0.max(1), size.1.max(1));
    let mut terminal = Terminal::with_options(
        CrosstermBackend::new(stdout),
        ratatui::TerminalOptions {
            viewport: ratatui::Viewport::Fixed(area),
        },
    )?;
    terminal.clear()?;
    Ok(terminal)
}

/// The local UTC offset in seconds, read once at start.
pub fn local_utc_offset() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
}

/// Runs the desktop in this terminal against the daemon `locate` finds.
pub async fn run<F>(locate: F) -> Result<()>
where
    F: Fn() -> Result<choir_proto::Endpoint, ConnectError> + Send + 'static,
{
    run_desktop(
        locate,
        Desktop::new(Theme::from_env(), local_utc_offset()),
        "choir-tui",
    )
    .await
}

/// Runs the desktop read-only as it was at `at`, with the timeline to move through time.
pub async fn replay<F>(locate: F, at: choir_proto::Seek) -> Result<()>
where
    F: Fn() -> Result<choir_proto::Endpoint, ConnectError> + Send + 'static,
{
    let desktop = Desktop::replay(Theme::from_env(), local_utc_offset(), at);
    run_desktop(locate, desktop, "choir-replay").await
}

async fn run_desktop<F>(locate: F, mut desktop: Desktop, name: &str) -> Result<()>
where
    F: Fn() -> Result<choir_proto::Endpoint, ConnectError> + Send + 'static,
{
    let size = crossterm::terminal::size().unwrap_or((80, 24));
    let mut terminal = setup(size)?;
    let (client, updates) = ProtocolClient::spawn(locate, name);
    let mut keys = read_input();
    let input = futures_util::stream::poll_fn(move |cx| keys.poll_recv(cx));
    let clock = || chrono::Local::now().format("%H:%M").to_string();
    let result = session::run(
        &mut terminal,
        size,
        &mut desktop,
        input,
        client,
        updates,
        clock,
    )
    .await;
    restore();
    match result {
        Ok(SessionEnd::Quit | SessionEnd::InputClosed) => Ok(()),
        Ok(SessionEnd::Gone(reason)) => Err(anyhow::anyhow!(reason)),
        Err(err) => Err(err.into()),
    }
}
