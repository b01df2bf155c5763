//! One desktop session: a single loop over input, daemon updates, a clock tick and a render
//! deadline. It draws to any ratatui backend that can also take raw bytes (for OSC 52), so the
//! local terminal and an SSH channel run the same loop.

use std::io::Write;
use std::time::Duration;

use base64::Engine;
use futures_util::{Stream, StreamExt};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::desktop::{Action, Desktop};
use crate::input::InputEvent;
use choir_client::client::{ClientUpdate, ProtocolClient};

/// At most two frames are drawn in this time: a change after a quiet spell is drawn at once,
/// and changes that come faster are batched into the next frame.
const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// Why the session ended.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The user quit.
    Quit,
    /// The input stream ended (terminal or channel closed).
    InputClosed,
    /// The daemon turned the desktop away for good (its share was revoked or expired).
    Gone(String),
}

/// Runs the desktop until the user quits or the input ends. `size` is the screen's size at
/// the start; later sizes arrive as [`InputEvent::Resize`].
pub async fn run<B, I>(
    terminal: &mut Terminal<B>,
    size: (u16, u16),
    desktop: &mut Desktop,
    mut input: I,
    client: ProtocolClient,
    mut updates: mpsc::Receiver<ClientUpdate>,
    clock: impl Fn() -> String,
) -> Result<SessionEnd, B::Error>
where
    B: Backend + Write,
    I: Stream<Item = InputEvent> + Unpin,
{
    desktop.resize(size.0, size.1);
    desktop.set_clock(clock());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut draw_at = Some(Instant::now());
    // The last two frames drawn: a third within FRAME_INTERVAL of the older waits (two
    // quick frames are fine; a stream of changes is batched).
    let mut drawn = FramePace::default();
    let mut weight = Weight::new(&client);
    let end = loop {
        let deadline = draw_at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            event = input.next() => {
                let Some(event) = event else { break SessionEnd::InputClosed };
                if let InputEvent::Resize(width, height) = event {
                    terminal.resize(ratatui::layout::Rect::new(0, 0, width.max(1), height.max(1)))?;
                }
                let mut quit = false;
                for action in desktop.handle_input(event) {
                    match action {
                        Action::Send(command) => send(&client, desktop, command),
                        Action::Copy(text) => copy(terminal.backend_mut(), &text),
                        Action::Quit => quit = true,
                    }
                }
                flush_outbox(&client, desktop);
                if quit {
                    break SessionEnd::Quit;
                }
                if desktop.last_input_quiet() {
                    continue;
                }
            }
            update = updates.recv() => match update {
                Some(ClientUpdate::Frame(frame)) => {
                    let shown = desktop.on_frame(frame);
                    for bell in desktop.take_bells() {
                        ring(terminal.backend_mut(), &bell);
                    }
                    if let Err(reason) = weight.check(&client, desktop) {
                        break SessionEnd::Gone(reason);
                    }
                    flush_outbox(&client, desktop);
                    if !shown {
                        continue;
                    }
                }
                Some(ClientUpdate::EditRefused { doc_id, message }) => {
                    desktop.on_edit_refused(doc_id, &message)
                }
                Some(ClientUpdate::QueryFailed { query, message }) => {
                    desktop.on_query_failed(query, &message)
                }
                Some(ClientUpdate::Connection(state)) => desktop.set_connection(state),
                Some(ClientUpdate::Notice(text)) => desktop.notify(text, true),
                Some(ClientUpdate::History(events)) => {
                    desktop.add_history(events);
                    if let Err(reason) = weight.check(&client, desktop) {
                        break SessionEnd::Gone(reason);
                    }
                }
                Some(ClientUpdate::Gone(reason)) => break SessionEnd::Gone(reason),
                None => desktop.set_connection(crate::desktop::Connection::Offline("client stopped".into())),
            },
            _ = tick.tick() => {
                let waiting = desktop.tick();
                flush_outbox(&client, desktop);
                // The clock shows minutes: a tick that changes nothing draws nothing.
                if !desktop.set_clock(clock()) && !waiting {
                    continue;
                }
            }
            () = tokio::time::sleep_until(deadline), if draw_at.is_some() => {
                terminal.draw(|frame| desktop.render(frame))?;
                draw_at = None;
                drawn.record(Instant::now());
                continue;
            }
        }
        let now = Instant::now();
        let due = *draw_at.get_or_insert(drawn.next(now));
        // Due now: draw in this turn rather than through the timer, whose granularity (1 ms)
        // would add to every keystroke's echo.
        if due <= now {
            terminal.draw(|frame| desktop.render(frame))?;
            draw_at = None;
            drawn.record(now);
        }
    };
    Ok(end)
}

/// Keeps what the desktop holds of the daemon's data within its client's budget, if it has
/// one. Weighing walks everything held, so it is done again only after a quarter of the last
/// weight (or a MiB) more has been received: about as much work as receiving it, and the
/// desktop never holds much more than it was last weighed at.
struct Weight {
    held: Option<choir_client::budget::Held>,
    next: u64,
}

/// Received bytes between two weighings, at least.
const WEIGH_STEP: u64 = 1 << 20;

impl Weight {
    fn new(client: &ProtocolClient) -> Self {
        Self {
            held: client.budget().and_then(|budget| budget.hold(0).ok()),
            next: 0,
        }
    }

    fn check(&mut self, client: &ProtocolClient, desktop: &Desktop) -> Result<(), String> {
        let Some(held) = &mut self.held else {
            return Ok(());
        };
        let received = client.received_bytes();
        if received < self.next {
            return Ok(());
        }
        let bytes = desktop.held_bytes();
        self.next = received + (bytes as u64 / 4).max(WEIGH_STEP);
        held.resize(bytes).map_err(|exceeded| {
            format!(
                "this desktop would hold more of the sandbox's data than this host keeps for one \
                 user ({} MiB): close other desktops or tabs of yours and connect again ({exceeded})",
                exceeded.limit >> 20
            )
        })
    }
}

/// When the next frame may be drawn: at once, unless two were drawn within the last
/// `FRAME_INTERVAL` (a clock tick or an ack just before an echo must not hold the echo back a
/// frame; a flood of changes is drawn at most twice a frame).
#[derive(Default)]
struct FramePace {
    older: Option<Instant>,
    newer: Option<Instant>,
}

impl FramePace {
    fn record(&mut self, at: Instant) {
        self.older = self.newer.replace(at);
    }

    fn next(&self, now: Instant) -> Instant {
        match self.older {
            Some(older) => (older + FRAME_INTERVAL).max(now),
            None => now,
        }
    }
}

/// Sends a command. When the client's queue is full, an edit waits in the desktop's outbox
/// for the next try (dropping it would leave the editor waiting for it forever); anything else
/// is dropped with a notice.
fn send(client: &ProtocolClient, desktop: &mut Desktop, command: choir_proto::Command) {
    let Err(command) = client.send(command) else {
        return;
    };
    if matches!(command, choir_proto::Command::EditDoc { .. }) {
        desktop.defer(command);
    } else {
        desktop.notify("the connection is busy; the action was dropped", true);
    }
}

/// Sends what the desktop produced on its own (edits that waited, resends, queries).
fn flush_outbox(client: &ProtocolClient, desktop: &mut Desktop) {
    for command in desktop.take_outbox() {
        send(client, desktop, command);
    }
    for query in desktop.take_queries() {
        if let Err(query) = client.query(query) {
            // The queue is full: asked again with a later frame.
            desktop.on_query_not_sent(query);
        }
    }
}

/// Rings the terminal the user sits at (see [`Desktop::take_bells`]).
fn ring(out: &mut impl Write, bell: &str) {
    let _ = out.write_all(bell.as_bytes());
    let _ = Write::flush(out);
}

/// Puts text on the clipboard of the terminal the user sits at (OSC 52).
fn copy(out: &mut impl Write, text: &str) {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}
