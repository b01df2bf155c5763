//! A window of an app the user or the agent wrote: the view tree its app last showed,
//! drawn as cells where `choir_desktop::app_view::layout` places each node. What a key or a
//! click does is `choir_desktop::app_view`'s, the same as in the browser; a capability the
//! app waits for, or a tool call it made that changes something, is asked on the window's
//! first row (`y` allows or approves, `n` refuses or denies).

use choir_desktop::app_view::{self, AppView, Ask, Handled, Placed};
use choir_proto::apps::{ViewNode, ViewTree};
use choir_proto::{AppWindow, InstalledApp, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::{note, App, Context, View, WHEEL_LINES};
use crate::input::{Key, Mouse, MouseButton, MouseKind};
use crate::theme::Theme;
use crate::wrap::{display_width, truncate};

pub struct UserApp {
    window_id: WindowId,
    view: AppView,
}

impl UserApp {
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            view: AppView::default(),
        }
    }
}

/// The window's app and what it shows, from the world.
fn shown(
    world: &choir_proto::World,
    window_id: WindowId,
) -> Option<(&AppWindow, Option<&InstalledApp>)> {
    let window = world.app_windows.get(&window_id)?;
    Some((window, world.apps.get(&window.name)))
}

/// Rows the question takes at the top.
fn prompt_rows(world: &choir_proto::World, window_id: WindowId) -> u16 {
    u16::from(Ask::of(world, window_id).is_some())
}

impl App for UserApp {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        let Some((window, _)) = shown(cx.world(), self.window_id) else {
            return false;
        };
        let now = choir_proto::now_ms();
        let handled = match Ask::of(cx.world(), self.window_id)
            .map(|ask| self.view.answer_key(window.view.as_ref(), &ask, key, now))
        {
            None | Some(Handled::No) => None,
            handled => handled,
        };
        let handled = handled.unwrap_or_else(|| match &window.view {
            Some(tree) => {
                let tree = tree.clone();
                self.view.on_key(self.window_id, &tree, key)
            }
            None => Handled::No,
        });
        cx.carry_out(handled)
    }

    fn on_paste(&mut self, text: &str, cx: &mut Context<'_>) {
        let Some((window, _)) = shown(cx.world(), self.window_id) else {
            return;
        };
        let Some(tree) = &window.view else {
            return;
        };
        if let Some(ViewNode::Input { id, value, .. }) =
            self.view.focused(tree).and_then(|index| tree.node(index))
        {
            let typed = format!("{}{text}", self.view.field_text(id, value));
            self.view.set_draft(id, &typed.replace(['\n', '\r'], " "));
        }
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let Some((window, _)) = shown(cx.world(), self.window_id) else {
            return;
        };
        let Some(tree) = window.view.clone() else {
            return;
        };
        let top = prompt_rows(cx.world(), self.window_id);
        match mouse.kind {
            MouseKind::Down(MouseButton::Left) if mouse.y >= top => {
                let row = (mouse.y - top).saturating_add(self.view.scroll);
                let hit = app_view::layout(&tree, cx.area.width)
                    .into_iter()
                    .find(|p| {
                        (p.x..p.x.saturating_add(p.w)).contains(&mouse.x)
                            && (p.y..p.y.saturating_add(p.h)).contains(&row)
                    });
                let Some(hit) = hit else {
                    return;
                };
                // A table's rows and a list's items each take one row (a table's header first).
                let item = u32::from(row - hit.y);
                if let Handled::Send(command) =
                    self.view.click(self.window_id, &tree, hit.node, Some(item))
                {
                    cx.send(command);
                }
            }
            MouseKind::ScrollUp => {
                self.view.scroll = self.view.scroll.saturating_sub(WHEEL_LINES as u16);
            }
            MouseKind::ScrollDown => {
                let rows = app_view::height(&tree, cx.area.width);
                let room = cx.area.height.saturating_sub(top);
                let most = rows.saturating_sub(room);
                self.view.scroll = self
                    .view
                    .scroll
                    .saturating_add(WHEEL_LINES as u16)
                    .min(most);
            }
            _ => {}
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let theme = view.theme;
        let Some((window, _)) = shown(view.world(), self.window_id) else {
            note(buf, area, "this app window is not known here", theme);
            return None;
        };
        if area.width == 0 || area.height == 0 {
            return None;
        }
        let mut body = area;
        if let Some(ask) = Ask::of(view.world(), self.window_id) {
            self.view.showing(&ask, choir_proto::now_ms());
            let text = ask.prompt();
            buf.set_stringn(
                area.x,
                area.y,
                truncate(&text, area.width.into()),
                area.width.into(),
                theme.warn().add_modifier(Modifier::BOLD),
            );
            body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        }
        if let Some(problem) = &window.problem {
            let rows = super::problem(buf, body, problem, theme);
            let hint = "the next key or click starts it again";
            let row = rows + 1;
            if row < body.height {
                buf.set_stringn(body.x, body.y + row, hint, body.width.into(), theme.muted());
            }
            return None;
        }
        let Some(tree) = &window.view else {
            note(buf, body, &format!("starting {}…", window.name), theme);
            return None;
        };
        draw_tree(tree, &self.view, view.focused, body, buf, theme)
    }

    fn hint(&self, view: &View<'_>) -> String {
        match Ask::of(view.world(), self.window_id) {
            Some(Ask::Capability { .. }) => "y allow · n refuse (what the app asks)".into(),
            Some(Ask::Call { .. }) => "y approve · n deny (the tool call the app asks for)".into(),
            None => app_view::HINT.into(),
        }
    }

    fn status(&self, view: &View<'_>) -> Option<String> {
        let (window, _) = shown(view.world(), self.window_id)?;
        window.problem.as_ref().map(|_| "stopped".into())
    }

    fn copy_text(&self, view: &View<'_>) -> Option<String> {
        let (window, _) = shown(view.world(), self.window_id)?;
        let tree = window.view.as_ref()?;
        let text: Vec<String> = tree
            .nodes
            .iter()
            .filter_map(|node| match node {
                ViewNode::Text { spans } => Some(spans.iter().map(|s| s.text.as_str()).collect()),
                _ => None,
            })
            .collect();
        Some(text.join("\n"))
    }
}

/// Draws the tree in `area`, scrolled by the window's scroll; returns the cursor's place when
/// a text field has the focus.
fn draw_tree(
    tree: &ViewTree,
    state: &AppView,
    focused_window: bool,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) -> Option<(u16, u16)> {
    let focus = state.focused(tree);
    let mut cursor = None;
    let placed_nodes = app_view::layout(tree, area.width);
    // Never scrolled past the end (PgDn is not bounded where it is pressed).
    let rows = placed_nodes
        .iter()
        .map(|placed| placed.y.saturating_add(placed.h))
        .max()
        .unwrap_or(0);
    let scroll = state.scroll.min(rows.saturating_sub(area.height));
    for placed in placed_nodes {
        let Some(node) = tree.node(placed.node) else {
            continue;
        };
        let focused = focused_window && focus == Some(placed.node);
        for row in 0..placed.h {
            let Some(y) = placed.y.saturating_add(row).checked_sub(scroll) else {
                continue;
            };
            if y >= area.height {
                break;
            }
            let at = (area.x + placed.x, area.y + y);
            let end = draw_row(node, row, placed, state, focused, at, buf, theme);
            if focused && matches!(node, ViewNode::Input { .. }) {
                cursor = Some((
                    end.min(area.x + placed.x + placed.w.saturating_sub(1)),
                    at.1,
                ));
            }
        }
    }
    cursor
}

/// Draws row `row` of a placed node at `at`; returns the column after what it drew.
#[allow(clippy::too_many_arguments)]
fn draw_row(
    node: &ViewNode,
    row: u16,
    placed: Placed,
    state: &AppView,
    focused: bool,
    (x, y): (u16, u16),
    buf: &mut Buffer,
    theme: &Theme,
) -> u16 {
    let width = usize::from(placed.w);
    match node {
        ViewNode::Text { spans } => {
            let lines = app_view::wrap(spans, placed.w);
            let mut at = x;
            for (text, style) in lines.get(usize::from(row)).into_iter().flatten() {
                let room = usize::from(x + placed.w - at);
                let (next, _) = buf.set_stringn(at, y, text, room, theme.app_span(*style));
                at = next;
            }
            at
        }
        ViewNode::List {
            items, selected, ..
        } => {
            let Some(item) = items.get(usize::from(row)) else {
                return x;
            };
            let chosen = *selected == Some(u32::from(row));
            let mark = if chosen { "› " } else { "  " };
            let base = if chosen && focused {
                theme.selected()
            } else if chosen {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let (mut at, _) = buf.set_stringn(x, y, mark, width, base);
            for span in item {
                let room = usize::from((x + placed.w).saturating_sub(at));
                let (next, _) = buf.set_stringn(
                    at,
                    y,
                    &span.text,
                    room,
                    base.patch(theme.app_span(span.style)),
                );
                at = next;
            }
            at
        }
        ViewNode::Table { header, rows } => {
            let widths = app_view::column_widths(header, rows, placed.w);
            let (cells, style) = if row == 0 {
                (
                    header.as_slice(),
                    Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
                )
            } else {
                match rows.get(usize::from(row - 1)) {
                    Some(cells) => (cells.as_slice(), Style::new()),
                    None => return x,
                }
            };
            let mut at = x;
            for (cell, w) in cells.iter().zip(&widths) {
                if at >= x + placed.w {
                    break;
                }
                let room = usize::from((*w).min(x + placed.w - at));
                buf.set_stringn(at, y, truncate(cell, room), room, style);
                at = at.saturating_add(*w + 1);
            }
            at
        }
        ViewNode::Button { label, .. } => {
            let text = format!("[ {label} ]");
            let style = if focused {
                theme.selected().add_modifier(Modifier::BOLD)
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            };
            buf.set_stringn(x, y, truncate(&text, width), width, style)
                .0
        }
        ViewNode::Input {
            id,
            value,
            placeholder,
        } => {
            let typed = state.field_text(id, value);
            let field = Style::new().add_modifier(Modifier::UNDERLINED);
            buf.set_stringn(x, y, " ".repeat(width), width, field);
            if typed.is_empty() {
                buf.set_stringn(x, y, placeholder, width, field.patch(theme.muted()));
                x
            } else {
                // The end of what was typed stays in sight.
                let shown_from = display_width(typed).saturating_sub(width.saturating_sub(1));
                let tail: String = skip_columns(typed, shown_from);
                buf.set_stringn(x, y, &tail, width, field).0
            }
        }
        ViewNode::Column { .. } | ViewNode::Row { .. } | ViewNode::Scroll { .. } => x,
    }
}

/// `text` without its first `columns` columns.
fn skip_columns(text: &str, columns: usize) -> String {
    let mut skipped = 0;
    text.chars()
        .skip_while(|c| {
            let w = display_width(&c.to_string());
            if skipped + w <= columns && columns > 0 {
                skipped += w;
                true
            } else {
                false
            }
        })
        .collect()
}
