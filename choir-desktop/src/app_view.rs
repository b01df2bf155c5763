//! An app window as every client has it: what has the focus (buttons, text fields and lists,
//! in the view's order), the text typed into each field before it is sent, the scroll, what
//! a key or a click does, and where each node lands in a grid of cells (the terminal draws
//! there; the browser lays the same tree out as HTML elements and uses the focus order and
//! keys from here).

use std::collections::BTreeMap;

use choir_proto::apps::{
    AppInput, Capability, Span, SpanStyle, ViewNode, ViewTree, MAX_INPUT_TEXT,
};
use choir_proto::{Command, WindowId};
use unicode_width::UnicodeWidthChar;

pub use crate::handled::Handled;
use crate::key::{Key, KeyCode};

/// The key hints an app window shows.
pub const HINT: &str = "Tab/S-Tab focus · Enter press/send · ↑↓ list · PgUp/PgDn scroll";

/// What the window asks while app `name` waits for the user's answer on `capability`.
pub fn prompt(name: &str, capability: &Capability) -> String {
    format!(
        "{name} asks to {} — y allow · n refuse",
        capability.describe()
    )
}

/// The answer a key gives to the first capability the app waits for: `y` grants it, `n`
/// refuses it.
pub fn answer_key(name: &str, asked: &[Capability], key: Key) -> Handled {
    let Some(capability) = asked.first() else {
        return Handled::No;
    };
    let granted = match key.code {
        KeyCode::Char('y') if !key.mods.ctrl && !key.mods.alt => true,
        KeyCode::Char('n') if !key.mods.ctrl && !key.mods.alt => false,
        _ => return Handled::No,
    };
    Handled::Send(Command::AnswerAppCapability {
        name: name.to_owned(),
        capability: capability.clone(),
        granted,
    })
}

/// A client's state of one app window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppView {
    /// The node that has the focus, if the user moved it.
    focus: Option<u32>,
    /// What was typed into each text field (by id) and not sent yet.
    drafts: BTreeMap<String, String>,
    /// Rows scrolled past at the top.
    pub scroll: u16,
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
        stack.extend(node.children().iter().rev());
    }
    order
}

impl AppView {
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
        truncate_bytes(&mut text, MAX_INPUT_TEXT);
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
                    if draft.len() + c.len_utf8() <= MAX_INPUT_TEXT {
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
                    let last = items.len().saturating_sub(1) as u32;
                    let index = match (key.code, *selected) {
                        (KeyCode::Up, Some(at)) => at.saturating_sub(1),
                        (KeyCode::Down, Some(at)) => (at + 1).min(last),
                        (KeyCode::Enter, Some(at)) => at.min(last),
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
