//! The chat app: scrollback of a thread, the message being streamed, and an input field.
//!
//! Only the visible lines are laid out: messages are wrapped from the newest backwards until
//! the viewport (plus the scroll offset) is full, so the cost of a frame does not grow with
//! the length of the thread.

use choir_desktop::chat::{self, ChatItem};
use choir_desktop::find::Find;
use choir_proto::client::Replica;
use choir_proto::{ChatRole, ChatThread, Command, ThreadId, ToolCard, ToolCardStatus, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::{clock, mark_found, App, Context, TextInput, View, WHEEL_LINES};
use crate::input::{Key, KeyCode, Mouse, MouseKind};
use crate::theme::Theme;
use crate::wrap::{truncate, wrap};

pub const HINT: &str =
    "Enter send · Ctrl-J newline · PgUp/PgDn scroll · Alt-↑/↓ select · C-a y copy · C-a ? help";

/// Most rows the input field grows to.
const MAX_INPUT_ROWS: u16 = 5;

#[derive(Debug, Clone, Default)]
pub struct ChatView {
    pub input: TextInput,
    /// Lines scrolled up from the bottom.
    pub scroll: usize,
    /// The selected message, counted from the newest (0).
    pub selected: Option<usize>,
}

/// What a chat window shows, borrowed from the desktop.
#[derive(Debug, Clone, Copy)]
pub struct ChatContent<'a> {
    pub thread: Option<&'a ChatThread>,
    pub streaming: Option<&'a str>,
    pub utc_offset: i32,
}

/// What a key did in the chat app.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatOutcome {
    Send(String),
    /// Approve, deny, cancel: a command for the daemon.
    Command(Command),
    Consumed,
    /// Scrolled back past what is held: the page before it is wanted.
    NeedOlder,
    Ignored,
}

/// Output lines a folded tool card shows.
const CARD_LINES: usize = 3;
/// Most lines of a preview diff shown on a card waiting for approval.
const PREVIEW_LINES: usize = 12;

/// The oldest tool call in the thread that waits for approval.
pub fn awaiting_approval(thread: &ChatThread) -> Option<&ToolCard> {
    thread
        .tools
        .iter()
        .find(|card| card.status == ToolCardStatus::AwaitingApproval)
}

impl ChatView {
    /// Handles a key while the window has focus; `area` is the window's inner area.
    pub fn handle_key(&mut self, key: Key, content: ChatContent<'_>, area: Rect) -> ChatOutcome {
        let page = usize::from(messages_area(self, area).height.max(2) - 1);
        let waiting = content
            .thread
            .and_then(awaiting_approval)
            .map(|card| card.call_id.clone());
        match key.code {
            KeyCode::Char('y') if key.mods.alt && waiting.is_some() => {
                let call_id = waiting.unwrap_or_else(|| choir_proto::CallId(String::new()));
                ChatOutcome::Command(Command::ApproveTool { call_id })
            }
            KeyCode::Char('n') if key.mods.alt && waiting.is_some() => {
                let call_id = waiting.unwrap_or_else(|| choir_proto::CallId(String::new()));
                ChatOutcome::Command(Command::DenyTool {
                    call_id,
                    reason: None,
                })
            }
            KeyCode::Esc if content.thread.is_some_and(|thread| thread.busy) => {
                let thread_id = content
                    .thread
                    .map(|thread| thread.id)
                    .unwrap_or(choir_proto::ThreadId(0));
                ChatOutcome::Command(Command::CancelTurn { thread_id })
            }
            KeyCode::Enter if !key.mods.alt => {
                if self.input.text().trim().is_empty() {
                    return ChatOutcome::Consumed;
                }
                self.scroll = 0;
                self.selected = None;
                ChatOutcome::Send(self.input.take())
            }
            KeyCode::PageUp => {
                if self.scroll_by(page as isize, content, area) {
                    ChatOutcome::NeedOlder
                } else {
                    ChatOutcome::Consumed
                }
            }
            KeyCode::PageDown => {
                self.scroll_by(-(page as isize), content, area);
                ChatOutcome::Consumed
            }
            KeyCode::Up if key.mods.alt => {
                let count = content.thread.map_or(0, |thread| thread.messages.len());
                self.selected = match self.selected {
                    None if count > 0 => Some(0),
                    Some(i) if i + 1 < count => Some(i + 1),
                    other => other,
                };
                ChatOutcome::Consumed
            }
            KeyCode::Down if key.mods.alt => {
                self.selected = match self.selected {
                    Some(0) | None => None,
                    Some(i) => Some(i - 1),
                };
                ChatOutcome::Consumed
            }
            _ if self.input.edit(key) => ChatOutcome::Consumed,
            _ => ChatOutcome::Ignored,
        }
    }

    /// Scrolls by `delta` lines (positive = back in time), within what is held; returns
    /// whether the top of it is in view and older messages exist (a page is wanted).
    pub fn scroll_by(&mut self, delta: isize, content: ChatContent<'_>, area: Rect) -> bool {
        let wanted = self.scroll.saturating_add_signed(delta);
        let messages = messages_area(self, area);
        let height = usize::from(messages.height);
        let (lines, whole) = lines_from_bottom(content, messages.width, wanted + height, None);
        self.scroll = wanted.min(lines.len().saturating_sub(height));
        let older = content.thread.is_some_and(|thread| thread.older() > 0);
        whole && older && delta > 0 && self.scroll + height >= lines.len()
    }

    /// The text of the selected message, or of the newest one.
    pub fn copy_text(&self, content: ChatContent<'_>) -> Option<String> {
        let messages = &content.thread?.messages;
        let index = messages.len().checked_sub(1 + self.selected.unwrap_or(0))?;
        Some(messages[index].text.clone())
    }
}

/// What the chat window `id` shows (its thread has the window's id).
pub fn content(replica: &Replica, utc_offset: i32, id: WindowId) -> ChatContent<'_> {
    let thread_id = ThreadId(id.0);
    ChatContent {
        thread: replica.world().chats.get(&thread_id),
        streaming: replica.streaming(thread_id),
        utc_offset,
    }
}

impl App for ChatView {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        let thread_id = ThreadId(cx.window_id.0);
        let outcome = self.handle_key(
            key,
            content(cx.replica, cx.utc_offset, cx.window_id),
            cx.area,
        );
        match outcome {
            ChatOutcome::Send(text) => cx.send(Command::PostChat { thread_id, text }),
            ChatOutcome::Command(command) => cx.send(command),
            ChatOutcome::Consumed => {}
            ChatOutcome::NeedOlder => cx.replica.request_page(thread_id),
            ChatOutcome::Ignored => return false,
        }
        true
    }

    fn on_paste(&mut self, text: &str, _cx: &mut Context<'_>) {
        self.input.insert_str(text);
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let lines = match mouse.kind {
            MouseKind::ScrollUp => WHEEL_LINES,
            MouseKind::ScrollDown => -WHEEL_LINES,
            _ => return,
        };
        let content = content(cx.replica, cx.utc_offset, cx.window_id);
        if self.scroll_by(lines, content, cx.area) {
            cx.replica.request_page(ThreadId(cx.window_id.0));
        }
    }

    fn reading_back(&self) -> bool {
        self.scroll > 0 || self.selected.is_some()
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let content = content(view.replica, view.utc_offset, view.window.id);
        render(self, content, area, buf, view.theme, view.find)
    }

    fn hint(&self, _view: &View<'_>) -> String {
        HINT.into()
    }

    /// What the chat waits for: an approval, or the agent's answer.
    fn prompt(&self, view: &View<'_>) -> Option<String> {
        let thread = view.world().chats.get(&ThreadId(view.window.id.0))?;
        if let Some(card) = awaiting_approval(thread) {
            return Some(format!(
                "{} wants to run — Alt-y approve · Alt-n deny · Esc cancel the turn",
                card.tool
            ));
        }
        thread
            .busy
            .then(|| "the agent is answering — Esc cancels".to_owned())
    }

    fn copy_text(&self, view: &View<'_>) -> Option<String> {
        ChatView::copy_text(self, content(view.replica, view.utc_offset, view.window.id))
    }
}

fn input_rows(view: &ChatView, width: u16) -> u16 {
    let (rows, _) = view.input.layout(width);
    u16::try_from(rows.len())
        .unwrap_or(MAX_INPUT_ROWS)
        .clamp(1, MAX_INPUT_ROWS)
}

fn messages_area(view: &ChatView, area: Rect) -> Rect {
    let below = input_rows(view, area.width) + 1;
    Rect::new(
        area.x,
        area.y,
        area.width,
        area.height.saturating_sub(below),
    )
}

#[derive(Debug, Clone, PartialEq)]
enum LineKind {
    Header(ChatRole, bool),
    Body,
    Blank,
    /// Says that older messages exist above.
    Earlier,
    CardTitle,
    CardWaiting,
    CardOk,
    CardFailed,
    CardOutput,
    /// A line of a card's preview diff: added, removed.
    DiffAdded,
    DiffRemoved,
}

/// A card's lines, top to bottom.
fn card_lines(card: &ToolCard, width: usize) -> Vec<(String, LineKind)> {
    let args = card.args.to_string();
    let mut lines = vec![(
        truncate(&format!("⚙ {} {args}", card.tool), width).to_owned(),
        LineKind::CardTitle,
    )];
    let (status, kind) = match &card.status {
        ToolCardStatus::AwaitingApproval => (
            "  awaiting approval — Alt-y approve · Alt-n deny".to_owned(),
            LineKind::CardWaiting,
        ),
        ToolCardStatus::Running => ("  running…".to_owned(), LineKind::CardWaiting),
        ToolCardStatus::Done {
            ok: true,
            exit_code,
        } => (
            exit_code.map_or("  ✓ done".to_owned(), |code| format!("  ✓ exit {code}")),
            LineKind::CardOk,
        ),
        ToolCardStatus::Done {
            ok: false,
            exit_code,
        } => (
            exit_code.map_or("  ✗ failed".to_owned(), |code| format!("  ✗ exit {code}")),
            LineKind::CardFailed,
        ),
        ToolCardStatus::Denied { reason } => (format!("  denied: {reason}"), LineKind::CardFailed),
    };
    lines.push((truncate(&status, width).to_owned(), kind));
    // What the call would change, while it waits to be approved.
    if let (Some(preview), ToolCardStatus::AwaitingApproval) = (&card.preview, &card.status) {
        let diff: Vec<&str> = preview.lines().collect();
        for line in diff.iter().take(PREVIEW_LINES) {
            let kind = match line.as_bytes().first() {
                Some(b'+') if !line.starts_with("+++") => LineKind::DiffAdded,
                Some(b'-') if !line.starts_with("---") => LineKind::DiffRemoved,
                _ => LineKind::CardOutput,
            };
            lines.push((truncate(&format!("  {line}"), width).to_owned(), kind));
        }
        if diff.len() > PREVIEW_LINES {
            lines.push((
                format!("  … {} more lines", diff.len() - PREVIEW_LINES),
                LineKind::CardOutput,
            ));
        }
    }
    let output: Vec<&str> = card.output.lines().collect();
    for line in output.iter().take(CARD_LINES) {
        lines.push((
            truncate(&format!("  │ {line}"), width).to_owned(),
            LineKind::CardOutput,
        ));
    }
    if output.len() > CARD_LINES {
        lines.push((
            format!("  … {} more lines", output.len() - CARD_LINES),
            LineKind::CardOutput,
        ));
    }
    lines.push((String::new(), LineKind::Blank));
    lines
}

/// Lines from the bottom up (the newest last line first), at least `need` of them if the
/// thread has that many. Returns them and whether the whole thread was laid out.
fn lines_from_bottom(
    content: ChatContent<'_>,
    width: u16,
    need: usize,
    selected: Option<usize>,
) -> (Vec<(String, LineKind)>, bool) {
    let width = usize::from(width.max(1));
    let mut lines = Vec::new();
    let push_block = |lines: &mut Vec<(String, LineKind)>,
                      header: String,
                      role: ChatRole,
                      chosen: bool,
                      text: &str| {
        let mut block = vec![(header, LineKind::Header(role, chosen))];
        block.extend(
            wrap(text, width)
                .into_iter()
                .map(|line| (line, LineKind::Body)),
        );
        block.push((String::new(), LineKind::Blank));
        lines.extend(block.into_iter().rev());
    };
    if let Some(text) = content.streaming {
        push_block(
            &mut lines,
            "assistant · typing…".into(),
            ChatRole::Assistant,
            false,
            text,
        );
    }
    let Some(thread) = content.thread else {
        return (lines, true);
    };
    // Messages and cards, newest first; `age` counts messages from the newest.
    let mut items = chat::items(thread).rev();
    let mut age = 0;
    loop {
        if lines.len() >= need {
            return (lines, false);
        }
        match items.next() {
            Some(ChatItem::Message(message)) => {
                let mut header = format!(
                    "{} · {}",
                    chat::who(message.role),
                    clock(message.ts, content.utc_offset, false)
                );
                if let Some(ending) = message.ending {
                    header.push_str(&format!(" · {}", ending.label()));
                }
                let chosen = selected == Some(age);
                age += 1;
                push_block(&mut lines, header, message.role, chosen, &message.text);
            }
            Some(ChatItem::Card(card)) => lines.extend(card_lines(card, width).into_iter().rev()),
            None => {
                if thread.older() > 0 {
                    let note = format!("↑ {} earlier messages (PgUp loads them)", thread.older());
                    lines.push((truncate(&note, width).to_owned(), LineKind::Earlier));
                }
                return (lines, true);
            }
        }
    }
}

/// Draws the chat into `area` (the window's inner area); returns where the cursor goes when
/// the window has focus.
pub fn render(
    view: &ChatView,
    content: ChatContent<'_>,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    find: Option<&Find>,
) -> Option<(u16, u16)> {
    if area.width == 0 || area.height == 0 {
        return None;
    }
    let messages = messages_area(view, area);
    let height = usize::from(messages.height);
    // While searching, the message it is on is chosen and brought into view.
    let found = find
        .and_then(Find::at)
        .zip(content.thread)
        .map(|(seq, thread)| {
            thread
                .messages
                .iter()
                .filter(|message| message.seq > seq)
                .count()
        });
    let need = match found {
        Some(_) => usize::MAX,
        None => view.scroll + height,
    };
    let (lines, _) = lines_from_bottom(content, messages.width, need, found.or(view.selected));
    let scroll = match found {
        Some(_) => {
            let header = lines
                .iter()
                .position(|(_, kind)| matches!(kind, LineKind::Header(_, true)));
            match header {
                Some(at) if at < view.scroll || at >= view.scroll + height => {
                    (at + 1).saturating_sub(height)
                }
                _ => view.scroll,
            }
        }
        None => view.scroll,
    };
    let query = find.and_then(Find::query);
    let note = match content.thread {
        Some(thread) if thread.messages.is_empty() && content.streaming.is_none() => Some((
            "No messages yet. Type below and press Enter.",
            theme.muted(),
        )),
        None => Some((
            "This window's chat thread is not in the log.",
            theme.error(),
        )),
        Some(_) => None,
    };
    if let Some((note, style)) = note {
        buf.set_stringn(
            messages.x,
            messages.y,
            note,
            usize::from(messages.width),
            style,
        );
    }
    let visible = lines.iter().skip(scroll).take(height);
    for (row, (text, kind)) in visible.enumerate() {
        let y = messages.y + messages.height - 1 - row as u16;
        let style = match kind {
            LineKind::Header(ChatRole::User, chosen) => chosen_style(theme.user(), *chosen, theme),
            LineKind::Header(_, chosen) => chosen_style(theme.assistant(), *chosen, theme),
            LineKind::CardTitle => theme.title(),
            LineKind::CardWaiting => theme.warn(),
            LineKind::CardOk | LineKind::DiffAdded => theme.ok(),
            LineKind::CardFailed | LineKind::DiffRemoved => theme.error(),
            LineKind::CardOutput | LineKind::Earlier => theme.muted(),
            LineKind::Body | LineKind::Blank => Style::new(),
        };
        buf.set_stringn(messages.x, y, text, usize::from(messages.width), style);
        // What the search finds, marked.
        if let (Some(query), LineKind::Body) = (&query, kind) {
            mark_found(buf, messages, y, text, query, theme);
        }
    }
    if scroll > 0 {
        let marker = format!("↓ {} more lines", scroll);
        let x = messages.x + messages.width.saturating_sub(marker.chars().count() as u16);
        buf.set_stringn(
            x,
            messages.y,
            marker,
            usize::from(messages.width),
            theme.warn(),
        );
    }

    // Separator and input.
    let separator_y = messages.y + messages.height;
    let rule = "─".repeat(usize::from(area.width));
    buf.set_stringn(
        area.x,
        separator_y,
        truncate(&rule, usize::from(area.width)),
        usize::from(area.width),
        theme.border(),
    );
    let rows = input_rows(view, area.width);
    let (layout, (cursor_col, cursor_row)) = view.input.layout(area.width);
    let first = cursor_row.saturating_sub(rows - 1);
    for (i, text) in layout
        .iter()
        .skip(usize::from(first))
        .take(usize::from(rows))
        .enumerate()
    {
        buf.set_stringn(
            area.x,
            separator_y + 1 + i as u16,
            text,
            usize::from(area.width),
            Style::new(),
        );
    }
    if view.input.is_empty() {
        buf.set_stringn(
            area.x,
            separator_y + 1,
            "Message…",
            usize::from(area.width),
            theme.muted(),
        );
    }
    let cursor_x = area.x + cursor_col.min(area.width.saturating_sub(1));
    let cursor_y = separator_y + 1 + (cursor_row - first).min(rows - 1);
    (cursor_y < area.y + area.height).then_some((cursor_x, cursor_y))
}

fn chosen_style(style: Style, chosen: bool, theme: &Theme) -> Style {
    if chosen {
        style.patch(theme.selected())
    } else {
        style
    }
}
