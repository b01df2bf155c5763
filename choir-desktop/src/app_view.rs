//! An app window as every client has it: what has the focus (buttons, text fields and lists,
//! in the view's order), the text typed into each field before it is sent, the scroll, what
//! a key or a click does, and where each node lands in a grid of cells (the terminal draws
//! there; the browser lays the same tree out as HTML elements and uses the focus order and
//! keys from here).

use std::collections::BTreeMap;

use choir_proto::apps::{
    call_prefix, AppInput, Capability, Span, SpanStyle, ViewNode, ViewTree, MAX_INPUT_TEXT,
};
use choir_proto::{Command, PendingToolCall, ToolCallStatus, WindowId, World};
use unicode_width::UnicodeWidthChar;

pub use crate::handled::Handled;
use crate::key::{Key, KeyCode};

/// The key hints an app window shows.
pub const HINT: &str = "Tab/S-Tab focus · Enter press/send · ↑↓ list · PgUp/PgDn scroll";

/// What an app window waits on the user for: a capability its app asked for, or a tool call
/// its app made that changes something. Both clients show it above the app with its answers
/// (`y` / `n` in the terminal, two buttons in the browser).
#[derive(Debug, Clone, PartialEq)]
pub enum Ask {
    Capability {
        name: String,
        capability: Capability,
    },
    Call {
        name: String,
        call: PendingToolCall,
    },
}

/// Characters of a call's arguments a question shows at most.
const ASK_ARGS: usize = 120;

impl Ask {
    /// What app window `window_id` waits on, if anything: its app's first capability not
    /// answered, else its first tool call waiting for approval.
    pub fn of(world: &World, window_id: WindowId) -> Option<Ask> {
        let window = world.app_windows.get(&window_id)?;
        let name = window.name.clone();
        if let Some(capability) = world
            .apps
            .get(&window.name)
            .and_then(|app| app.asked.first())
        {
            return Some(Ask::Capability {
                name,
                capability: capability.clone(),
            });
        }
        let prefix = call_prefix(window_id);
        world
            .pending_tools
            .values()
            .find(|call| {
                call.status == ToolCallStatus::AwaitingApproval
                    && call.call_id.0.starts_with(&prefix)
            })
            .map(|call| Ask::Call {
                name,
                call: call.clone(),
            })
    }

    /// The question, without its answers.
    pub fn question(&self) -> String {
        match self {
            Ask::Capability { name, capability } => {
                format!("{name} asks to {}", capability.describe())
            }
            Ask::Call { name, call } => {
                let mut args = call.args.to_string();
                if args.chars().count() > ASK_ARGS {
                    args = args.chars().take(ASK_ARGS).collect::<String>() + "…";
                }
                format!("{name} asks to run {} {args}", call.tool)
            }
        }
    }

    /// The question with the terminal's answers.
    pub fn prompt(&self) -> String {
        match self {
            Ask::Capability { .. } => format!("{} — y allow · n refuse", self.question()),
            Ask::Call { .. } => format!("{} — y approve · n deny", self.question()),
        }
    }

    /// The command that answers: `yes` grants or approves.
    pub fn answer(&self, yes: bool) -> Command {
        match self {
            Ask::Capability { name, capability } => Command::AnswerAppCapability {
                name: name.clone(),
                capability: capability.clone(),
                granted: yes,
            },
            Ask::Call { call, .. } if yes => Command::ApproveTool {
                call_id: call.call_id.clone(),
            },
            Ask::Call { call, .. } => Command::DenyTool {
                call_id: call.call_id.clone(),
                reason: Some("denied by the user".into()),
            },
        }
    }

    /// What a key answers: `y` yes, `n` no; anything else is not the question's.
    pub fn key(&self, key: Key) -> Handled {
        if key.mods.ctrl || key.mods.alt {
            return Handled::No;
        }
        match key.code {
            KeyCode::Char('y') => Handled::Send(self.answer(true)),
            KeyCode::Char('n') => Handled::Send(self.answer(false)),
            _ => Handled::No,
        }
    }
}

/// How long a question is shown before a key or a click answers it: an app cannot ask just
/// as the user types `y` for something else.
pub const ANSWER_AFTER_MS: i64 = 1000;

/// A client's state of one app window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppView {
    /// The node that has the focus, if the user moved it.
    focus: Option<u32>,
    /// What was typed into each text field (by id) and not sent yet.
    drafts: BTreeMap<String, String>,
    /// Rows scrolled past at the top.
    pub scroll: u16,
    /// The question shown (a digest of it) and since when (ms, this client's clock); set
    /// while drawing.
    asked: std::cell::Cell<Option<(u64, i64)>>,
}

/// Whether a node takes the focus.
fn focusable(node: &ViewNode) -> bool {
    matches!(
        node,
        ViewNode::Button { .. } | ViewNode::Input { .. } | ViewNode::List { .. }
    )
}

/// The nodes that take the focus, in the view's order (depth first from the root).
pub fn focus_order(tree: &ViewTree) -> Vec<u32> {
    let mut order = Vec::new();
    let mut stack = vec![0u32];
    while let Some(index) = stack.pop() {
        let Some(node) = tree.node(index) else {
            continue;
        };
        if focusable(node) {
            order.push(index);
        }
        stack.extend(node.children().iter().rev().filter(|child| **child > index));
    }
    order
}

/// A digest of a question, to tell whether the one shown changed.
fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl AppView {
    /// Notes that `ask` is shown at `now_ms` (the first time it is, or after another).
    pub fn showing(&self, ask: &Ask, now_ms: i64) -> i64 {
        let question = digest(&ask.question());
        match self.asked.get() {
            Some((shown, since)) if shown == question => since,
            _ => {
                self.asked.set(Some((question, now_ms)));
                now_ms
            }
        }
    }

    /// What a key does to the question the window shows: `y` or `n` answer it once it has
    /// been shown for [`ANSWER_AFTER_MS`], and never while a text field has the focus (the
    /// key is typed there).
    pub fn answer_key(&self, tree: Option<&ViewTree>, ask: &Ask, key: Key, now_ms: i64) -> Handled {
        let typing = tree.is_some_and(|tree| {
            matches!(
                self.focused(tree).and_then(|index| tree.node(index)),
                Some(ViewNode::Input { .. })
            )
        });
        if typing {
            return Handled::No;
        }
        match ask.key(key) {
            Handled::No => Handled::No,
            answered => self.when_read(ask, answered, now_ms),
        }
    }

    /// A click on one of the question's answers (`yes`).
    pub fn answer_click(&self, ask: &Ask, yes: bool, now_ms: i64) -> Handled {
        self.when_read(ask, Handled::Send(ask.answer(yes)), now_ms)
    }

    fn when_read(&self, ask: &Ask, answered: Handled, now_ms: i64) -> Handled {
        if now_ms - self.showing(ask, now_ms) < ANSWER_AFTER_MS {
            return Handled::Notice(
                "a question is answered once it has been shown a second".into(),
            );
        }
        answered
    }

    /// The node with the focus: the one the user chose while it still takes it, else the
    /// first that does.
    pub fn focused(&self, tree: &ViewTree) -> Option<u32> {
        let order = focus_order(tree);
        self.focus
            .filter(|focus| order.contains(focus))
            .or_else(|| order.first().copied())
    }

    /// The text a field shows: what was typed and not sent, else the app's value.
    pub fn field_text<'a>(&'a self, id: &str, value: &'a str) -> &'a str {
        self.drafts.get(id).map_or(value, String::as_str)
    }

    /// Replaces what was typed into field `id` (the browser's field says it as a whole).
    pub fn set_draft(&mut self, id: &str, text: &str) {
        let mut text = text.to_owned();
        truncate_bytes(&mut text, MAX_INPUT_TEXT.saturating_sub(id.len()));
        self.drafts.insert(id.to_owned(), text);
    }

    /// What a key does in the window.
    pub fn on_key(&mut self, window_id: WindowId, tree: &ViewTree, key: Key) -> Handled {
        let focused = self.focused(tree);
        let node = focused.and_then(|index| tree.node(index));
        let send = |input: AppInput| Handled::Send(Command::SendAppInput { window_id, input });
        if !key.mods.ctrl && !key.mods.alt {
            match (key.code, node) {
                (KeyCode::Tab, _) => return self.move_focus(tree, 1),
                (KeyCode::BackTab, _) => return self.move_focus(tree, -1),
                (KeyCode::PageDown, _) => {
                    self.scroll = self.scroll.saturating_add(10);
                    return Handled::Yes;
                }
                (KeyCode::PageUp, _) => {
                    self.scroll = self.scroll.saturating_sub(10);
                    return Handled::Yes;
                }
                (KeyCode::Enter, Some(ViewNode::Button { id, .. })) => {
                    return send(AppInput::Click { id: id.clone() })
                }
                (KeyCode::Enter, Some(ViewNode::Input { id, value, .. })) => {
                    let value = self.drafts.remove(id).unwrap_or_else(|| value.clone());
                    return send(AppInput::Submit {
                        id: id.clone(),
                        value,
                    });
                }
                (KeyCode::Char(c), Some(ViewNode::Input { id, value, .. })) => {
                    let draft = self
                        .drafts
                        .entry(id.clone())
                        .or_insert_with(|| value.clone());
                    // The id and the text are sent together, within the bound.
                    if id.len() + draft.len() + c.len_utf8() <= MAX_INPUT_TEXT {
                        draft.push(c);
                    }
                    return Handled::Yes;
                }
                (KeyCode::Backspace, Some(ViewNode::Input { id, value, .. })) => {
                    let draft = self
                        .drafts
                        .entry(id.clone())
                        .or_insert_with(|| value.clone());
                    draft.pop();
                    return Handled::Yes;
                }
                (
                    KeyCode::Up | KeyCode::Down | KeyCode::Enter,
                    Some(ViewNode::List {
                        id,
                        items,
                        selected,
                    }),
                ) if !items.is_empty() => {
                    let last = u32::try_from(items.len().saturating_sub(1)).unwrap_or(u32::MAX);
                    let index = match (key.code, selected.map(|at| at.min(last))) {
                        (KeyCode::Up, Some(at)) => at.saturating_sub(1),
                        (KeyCode::Down, Some(at)) => at.saturating_add(1).min(last),
                        (KeyCode::Enter, Some(at)) => at,
                        (KeyCode::Up, None) => last,
                        _ => 0,
                    };
                    return send(AppInput::Select {
                        id: id.clone(),
                        index,
                    });
                }
                _ => {}
            }
        }
        match key_name(key) {
            Some(name) => send(AppInput::Key { key: name }),
            None => Handled::No,
        }
    }

    fn move_focus(&mut self, tree: &ViewTree, by: isize) -> Handled {
        let order = focus_order(tree);
        if order.is_empty() {
            return Handled::Yes;
        }
        let at = self
            .focused(tree)
            .and_then(|focus| order.iter().position(|index| *index == focus))
            .unwrap_or(0);
        let next = (at as isize + by).rem_euclid(order.len() as isize) as usize;
        self.focus = Some(order[next]);
        Handled::Yes
    }

    /// A click or a tap on node `index` (item `item` of a list): it takes the focus, and a
    /// button is pressed, an item selected.
    pub fn click(
        &mut self,
        window_id: WindowId,
        tree: &ViewTree,
        index: u32,
        item: Option<u32>,
    ) -> Handled {
        let Some(node) = tree.node(index) else {
            return Handled::No;
        };
        if focusable(node) {
            self.focus = Some(index);
        }
        let input = match (node, item) {
            (ViewNode::Button { id, .. }, _) => AppInput::Click { id: id.clone() },
            (ViewNode::List { id, items, .. }, Some(item)) if (item as usize) < items.len() => {
                AppInput::Select {
                    id: id.clone(),
                    index: item,
                }
            }
            _ => return Handled::Yes,
        };
        Handled::Send(Command::SendAppInput { window_id, input })
    }
}

/// How a key is named to an app: `a`, `Enter`, `Up`, `C-x`, `M-x`…; `None` for keys it is
/// not told of (a bare modifier).
pub fn key_name(key: Key) -> Option<String> {
    let base = match key.code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Backspace => "Backspace".into(),
        KeyCode::Delete => "Delete".into(),
        KeyCode::Up => "Up".into(),
        KeyCode::Down => "Down".into(),
        KeyCode::Left => "Left".into(),
        KeyCode::Right => "Right".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::F(n) => format!("F{n}"),
        _ => return None,
    };
    let mut name = String::new();
    if key.mods.ctrl {
        name.push_str("C-");
    }
    if key.mods.alt {
        name.push_str("M-");
    }
    name.push_str(&base);
    Some(name)
}

fn truncate_bytes(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// Where a node lands in the grid: its column, row (from the top of the whole view, before
/// scrolling) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub node: u32,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

/// Lays the tree out in `width` columns: each leaf node with its place, in the view's order.
/// Columns stack their children; rows share the width (the remainder to the last); a text
/// wraps; a list is a row per item; a table a row per row and one for the header; a button
/// and a field a row each.
pub fn layout(tree: &ViewTree, width: u16) -> Vec<Placed> {
    let mut placed = Vec::new();
    if !tree.nodes.is_empty() {
        place(tree, 0, 0, 0, width, &mut placed, 0);
    }
    placed
}

/// Rows the whole view takes at `width`.
pub fn height(tree: &ViewTree, width: u16) -> u16 {
    layout(tree, width)
        .iter()
        .map(|placed| placed.y.saturating_add(placed.h))
        .max()
        .unwrap_or(0)
}

/// Nesting deeper than this is drawn as nothing (a tree checked by the daemon is no
/// deeper than its nodes, but a client draws what it is sent).
const MAX_DEPTH: usize = 64;

/// Places node `index` at (`x`, `y`) in `width` columns; returns the rows it takes.
fn place(
    tree: &ViewTree,
    index: u32,
    x: u16,
    y: u16,
    width: u16,
    placed: &mut Vec<Placed>,
    depth: usize,
) -> u16 {
    let Some(node) = tree.node(index) else {
        return 0;
    };
    if depth > MAX_DEPTH {
        return 0;
    }
    let leaf = |h: u16, placed: &mut Vec<Placed>| {
        if h > 0 {
            placed.push(Placed {
                node: index,
                x,
                y,
                w: width,
                h,
            });
        }
        h
    };
    match node {
        ViewNode::Column { children } => {
            let mut at = y;
            for child in children.iter().filter(|child| **child > index) {
                at = at.saturating_add(place(tree, *child, x, at, width, placed, depth + 1));
            }
            at - y
        }
        ViewNode::Row { children } => {
            let children: Vec<u32> = children.iter().copied().filter(|c| *c > index).collect();
            if children.is_empty() || width == 0 {
                return 0;
            }
            let count = children.len() as u16;
            let share = (width / count).max(1);
            let mut tallest = 0;
            for (n, child) in children.iter().enumerate() {
                let n = n as u16;
                let left = x.saturating_add(share.saturating_mul(n));
                if left >= x.saturating_add(width) {
                    break;
                }
                let w = if n + 1 == count {
                    width - share.saturating_mul(n).min(width)
                } else {
                    share
                };
                tallest = tallest.max(place(tree, *child, left, y, w, placed, depth + 1));
            }
            tallest
        }
        ViewNode::Scroll { child } if *child > index => {
            place(tree, *child, x, y, width, placed, depth + 1)
        }
        ViewNode::Scroll { .. } => 0,
        ViewNode::Text { spans } => leaf(wrap(spans, width).len() as u16, placed),
        ViewNode::List { items, .. } => leaf(items.len().min(u16::MAX as usize) as u16, placed),
        ViewNode::Table { rows, .. } => leaf(
            rows.len().saturating_add(1).min(u16::MAX as usize) as u16,
            placed,
        ),
        ViewNode::Button { .. } | ViewNode::Input { .. } => leaf(1, placed),
    }
}

/// A line of a wrapped text: its pieces, each in one style.
pub type Line = Vec<(String, SpanStyle)>;

/// Wraps styled spans to `width` columns: at spaces where it can, inside a word where it
/// must; a newline in a span starts a line. An empty text is one empty line.
pub fn wrap(spans: &[Span], width: u16) -> Vec<Line> {
    let width = usize::from(width.max(1));
    let mut lines: Vec<Line> = vec![Vec::new()];
    let mut used = 0usize;
    for span in spans {
        for (n, part) in span.text.split('\n').enumerate() {
            if n > 0 {
                lines.push(Vec::new());
                used = 0;
            }
            for word in split_keeping_spaces(part) {
                let word_width: usize = word.chars().map(|c| c.width().unwrap_or(0)).sum();
                if used > 0 && used + word_width > width && !word.trim().is_empty() {
                    lines.push(Vec::new());
                    used = 0;
                }
                if used == 0 && word.trim().is_empty() && lines.len() > 1 {
                    continue;
                }
                for c in word.chars() {
                    let w = c.width().unwrap_or(0);
                    if used + w > width {
                        lines.push(Vec::new());
                        used = 0;
                    }
                    push_char(lines.last_mut(), c, span.style);
                    used += w;
                }
            }
        }
    }
    lines
}

fn push_char(line: Option<&mut Line>, c: char, style: SpanStyle) {
    let Some(line) = line else {
        return;
    };
    match line.last_mut() {
        Some((text, last)) if *last == style => text.push(c),
        _ => line.push((c.to_string(), style)),
    }
}

/// Words with the spaces before each (`"a b"` → `"a"`, `" b"`).
fn split_keeping_spaces(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = 0;
    let mut in_space = false;
    for (at, c) in text.char_indices() {
        let space = c == ' ';
        if space && !in_space && at > start {
            words.push(&text[start..at]);
            start = at;
        }
        in_space = space;
    }
    if start < text.len() {
        words.push(&text[start..]);
    }
    words
}

/// A table's column widths in `width` columns: each as wide as its widest cell, shrunk from
/// the widest when they do not fit, a space between columns.
pub fn column_widths(header: &[String], rows: &[Vec<String>], width: u16) -> Vec<u16> {
    let columns = header
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let cell = |text: &str| text.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>();
    let mut widths: Vec<usize> = (0..columns)
        .map(|column| {
            let head = header.get(column).map_or(0, |text| cell(text));
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|text| cell(text))
                .max()
                .unwrap_or(0)
                .max(head)
                .max(1)
        })
        .collect();
    let room = usize::from(width).saturating_sub(columns.saturating_sub(1));
    while widths.iter().sum::<usize>() > room {
        let Some(widest) = widths
            .iter_mut()
            .max_by_key(|w| **w)
            .filter(|widest| **widest > 1)
        else {
            break;
        };
        *widest -= 1;
    }
    widths
        .into_iter()
        .map(|w| u16::try_from(w).unwrap_or(u16::MAX))
        .collect()
}

#[cfg(test)]
mod tests;
