//! Drawing the desktop. Reads state, never changes it.

use std::ops::Range;

use choir_proto::{Window, WindowId, World};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};
use ratatui::Frame;

use super::geometry::{self, CLOSE_FROM_RIGHT, MAXIMIZE_FROM_RIGHT, MINIMIZE_FROM_RIGHT};
use choir_desktop::attention::Attention;
use choir_desktop::{Launch, Mode, Tone};

use super::{desktop_area, Desktop};
use crate::apps;
use crate::wrap::{display_width, truncate};

const MENU_LABEL: &str = " ≡ Menu ";

/// What a stretch of the taskbar does when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskbarHit {
    Menu,
    Window(WindowId),
}

/// The taskbar's clickable stretches and their labels, left to right.
fn taskbar_items(
    world: &World,
    attention: &Attention,
    width: u16,
) -> Vec<(Range<u16>, TaskbarHit, String)> {
    let mut items = vec![(
        0..MENU_LABEL.chars().count() as u16,
        TaskbarHit::Menu,
        MENU_LABEL.to_owned(),
    )];
    let mut x = items[0].0.end + 1;
    // Leave room for the connection state and the clock on the right.
    let limit = width.saturating_sub(24);
    for (index, window) in world.desktop.windows.values().enumerate() {
        let title = shown_title(world, window);
        // A chat waiting for an approval, or whose turn ended out of sight, is marked.
        let mark = attention
            .need(world, window.id)
            .map_or("", |need| need.mark());
        let mut label = format!(" {}:{title}{mark} ", index + 1);
        if window.minimized {
            label = format!(" {}:({title}){mark} ", index + 1);
        }
        let label = truncate(&label, 18).to_owned();
        let w = display_width(&label) as u16;
        if x + w > limit {
            break;
        }
        items.push((x..x + w, TaskbarHit::Window(window.id), label));
        x += w + 1;
    }
    items
}

/// A window's title as shown: a writer window is named after the document it shows.
fn shown_title<'a>(world: &'a World, window: &'a Window) -> &'a str {
    window
        .doc_id
        .and_then(|id| world.docs.get(&id))
        .map_or(window.title.as_str(), |doc| doc.title.as_str())
}

pub fn taskbar_hits(
    world: &World,
    attention: &Attention,
    width: u16,
) -> Vec<(Range<u16>, TaskbarHit)> {
    taskbar_items(world, attention, width)
        .into_iter()
        .map(|(range, hit, _)| (range, hit))
        .collect()
}

/// The first of the launcher's entries shown in `rows` rows: the list scrolls so that the
/// selected entry is in sight.
pub fn launcher_first(selected: usize, rows: usize) -> usize {
    selected.saturating_sub(rows.saturating_sub(1))
}

/// Where the launcher menu with `entries` is drawn: wide enough for its longest label
/// (within 18 to 40 columns).
pub fn launcher_rect(width: u16, height: u16, entries: &[(String, Launch)]) -> Rect {
    let h = u16::try_from(entries.len())
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let longest = entries
        .iter()
        .map(|(label, _)| display_width(label))
        .max()
        .unwrap_or(0);
    let w = u16::try_from(longest + 8).unwrap_or(u16::MAX).clamp(18, 40);
    let area = desktop_area(width, height);
    Rect::new(
        0,
        area.height.saturating_sub(h),
        w.min(width),
        h.min(area.height),
    )
}

impl Desktop {
    /// Draws the whole desktop into the frame.
    pub fn render(&self, frame: &mut Frame<'_>) {
        let cursor = self.draw(frame.area(), frame.buffer_mut());
        if let Some(position) = cursor {
            frame.set_cursor_position(position);
        }
    }

    /// Draws into a buffer; returns where the text cursor belongs, if anywhere.
    pub fn draw(&self, screen: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let theme = &self.theme;
        buf.set_style(screen, theme.desktop());
        let area = desktop_area(screen.width, screen.height);
        if self.replica.world().desktop.windows.is_empty() {
            self.draw_welcome(area, buf);
        }
        let mut cursor = None;
        for window in self.replica.world().desktop.visible() {
            let focused = self.replica.world().desktop.focused == Some(window.id);
            let at = self.draw_window(window, focused, area, buf);
            if focused && matches!(self.keymap.mode(), Mode::Normal | Mode::Copy(_)) {
                cursor = at;
            }
        }
        self.draw_hint(screen, buf);
        if self.replica.timeline().is_some() {
            self.draw_timeline(screen, buf);
        } else {
            self.draw_taskbar(screen, buf);
        }
        match self.keymap.mode() {
            Mode::Launcher { selected } => self.draw_launcher(selected, screen, buf),
            Mode::Help { scroll } => self.draw_help(scroll, screen, buf),
            _ => {}
        }
        cursor
    }

    fn draw_welcome(&self, area: Rect, buf: &mut Buffer) {
        let lines = [
            ("ChoirOS", self.theme.title_focused()),
            ("", Style::new()),
            ("C-a c   new chat        C-a s   shell", Style::new()),
            ("C-a Space   menu        F1   every binding", Style::new()),
            (
                "C-a q   quit (your sandbox keeps running)",
                self.theme.muted(),
            ),
        ];
        let top = area.y + area.height.saturating_sub(lines.len() as u16) / 2;
        for (i, (text, style)) in lines.iter().enumerate() {
            let w = display_width(text) as u16;
            let x = area.x + area.width.saturating_sub(w) / 2;
            if top + (i as u16) < area.y + area.height {
                buf.set_stringn(x, top + i as u16, text, usize::from(area.width), *style);
            }
        }
    }

    fn window_title(&self, window: &Window) -> String {
        let index = self
            .replica
            .world()
            .desktop
            .windows
            .keys()
            .position(|id| *id == window.id)
            .unwrap_or(0)
            + 1;
        let name = shown_title(self.replica.world(), window);
        let view = self.view(window);
        let status = match self.apps.get(&window.id) {
            Some(app) => app.status(&view),
            None => apps::open(&window.app, window.id).status(&view),
        };
        match status {
            Some(status) => format!(" {index}:{name} [{status}] "),
            None => format!(" {index}:{name} "),
        }
    }

    fn draw_window(
        &self,
        window: &Window,
        focused: bool,
        area: Rect,
        buf: &mut Buffer,
    ) -> Option<(u16, u16)> {
        let theme = &self.theme;
        let rect = geometry::placed(window.rect, window.maximized, area);
        if rect.width < 2 || rect.height < 2 {
            return None;
        }
        Clear.render(rect, buf);
        let (border, title_style) = if focused {
            (theme.border_focused(), theme.title_focused())
        } else {
            (theme.border(), theme.title())
        };
        let title = self.window_title(window);
        let room = usize::from(rect.width.saturating_sub(10));
        let block = Block::bordered()
            .border_type(if focused {
                BorderType::Thick
            } else {
                BorderType::Rounded
            })
            .border_style(border)
            .title(Line::from(Span::styled(
                truncate(&title, room).to_owned(),
                title_style,
            )));
        let inner = block.inner(rect);
        block.render(rect, buf);
        if rect.width >= 12 {
            let right = rect.x + rect.width;
            let y = rect.y;
            buf.set_string(right - MINIMIZE_FROM_RIGHT - 1, y, " _ □ × ", border);
            buf.set_string(right - CLOSE_FROM_RIGHT, y, "×", border);
            buf.set_string(
                right - MAXIMIZE_FROM_RIGHT,
                y,
                if window.maximized { "▣" } else { "□" },
                border,
            );
            buf.set_string(right - MINIMIZE_FROM_RIGHT, y, "_", border);
        }
        let view = self.view(window);
        match self.apps.get(&window.id) {
            Some(app) => app.draw(&view, inner, buf),
            None => apps::open(&window.app, window.id).draw(&view, inner, buf),
        }
    }

    /// What the keymap's mode says on the hint line (copy mode reads the focused shell).
    fn keymap_hint(&self) -> String {
        let world = self.replica.world();
        let terminal = world
            .desktop
            .focused
            .and_then(|id| world.shells.get(&id))
            .map(|shell| &shell.terminal);
        self.keymap.hint(terminal).unwrap_or_default()
    }

    /// What the focused window's app waits on the user for (an approval), or else its key
    /// hints.
    fn app_hint(&self) -> Option<(String, bool)> {
        let id = self.replica.world().desktop.focused?;
        let window = self.replica.world().desktop.window(id)?;
        let view = self.view(window);
        let opened;
        let app = match self.apps.get(&id) {
            Some(app) => app,
            None => {
                opened = apps::open(&window.app, id);
                &opened
            }
        };
        Some(match app.prompt(&view) {
            Some(prompt) => (prompt, true),
            None => (app.hint(&view), false),
        })
    }

    fn draw_hint(&self, screen: Rect, buf: &mut Buffer) {
        if screen.height < 2 {
            return;
        }
        let y = screen.height - 2;
        let theme = &self.theme;
        let (text, style) = match (&self.notice, self.keymap.mode()) {
            (Some(notice), _) => (
                notice.text.clone(),
                if notice.error {
                    theme.error()
                } else {
                    theme.ok()
                },
            ),
            (
                None,
                Mode::Prefix | Mode::Move(_) | Mode::Resize(_) | Mode::Copy(_) | Mode::Find(_),
            ) => (self.keymap_hint(), theme.warn()),
            (None, Mode::Launcher { .. } | Mode::Help { .. }) => {
                (self.keymap_hint(), theme.muted())
            }
            (None, _) if self.replica.timeline().is_some() => (self.timeline_hint(), theme.muted()),
            (None, Mode::Normal) => match self.app_hint() {
                Some((prompt, true)) => (prompt, theme.warn()),
                Some((hint, false)) => (hint, theme.muted()),
                None => (
                    "C-a c new chat · C-a Space menu · F1 help".into(),
                    theme.muted(),
                ),
            },
        };
        buf.set_stringn(0, y, format!(" {text}"), usize::from(screen.width), style);
    }

    fn draw_taskbar(&self, screen: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        let y = screen.height.saturating_sub(1);
        let bar = Rect::new(0, y, screen.width, 1);
        buf.set_style(bar, theme.taskbar());
        let items = taskbar_items(self.replica.world(), &self.attention, screen.width);
        let items_end = items.last().map_or(0, |(range, _, _)| range.end);
        for (range, hit, label) in items {
            let world = self.replica.world();
            let style = match hit {
                TaskbarHit::Window(id) => match world.desktop.window(id) {
                    _ if world.desktop.focused == Some(id) => theme.taskbar_active(),
                    Some(_) if self.attention.need(world, id).is_some() => {
                        theme.taskbar().patch(theme.warn())
                    }
                    Some(window) if window.minimized => theme.taskbar().patch(theme.muted()),
                    _ => theme.taskbar(),
                },
                _ => theme.taskbar(),
            };
            buf.set_stringn(
                range.start,
                y,
                label,
                usize::from(screen.width.saturating_sub(range.start)),
                style,
            );
        }
        let (state, tone) = self.connection.label(self.replica.is_read_only());
        let style = match tone {
            Tone::Ok => theme.ok(),
            Tone::Warn => theme.warn(),
            Tone::Error => theme.error(),
        };
        let right = format!("{state}  {} ", self.clock);
        let w = display_width(&right) as u16;
        if w < screen.width {
            let x = screen.width - w;
            buf.set_string(x, y, &state, theme.taskbar().patch(style));
            let clock_x = x + display_width(&state) as u16;
            buf.set_string(clock_x, y, format!("  {} ", self.clock), theme.taskbar());
            // The day's model use, where the window buttons leave room for it.
            if let Some(usage) = self.replica.model_usage() {
                let label = format!("{}  ", usage.label());
                let lw = display_width(&label) as u16;
                if x >= items_end + 1 + lw {
                    let style = if usage.exhausted() {
                        theme.error()
                    } else {
                        theme.muted()
                    };
                    buf.set_string(x - lw, y, &label, theme.taskbar().patch(style));
                }
            }
        }
    }

    fn draw_launcher(&self, selected: usize, screen: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        let entries = choir_desktop::launcher(&self.replica.world().apps);
        let rect = launcher_rect(screen.width, screen.height, &entries);
        Clear.render(rect, buf);
        let block = Block::bordered()
            .border_type(BorderType::Rounded)
            .border_style(theme.border_focused())
            .style(theme.overlay())
            .title(" Launch ");
        let inner = block.inner(rect);
        block.render(rect, buf);
        let rows = usize::from(inner.height);
        let first = launcher_first(selected, rows);
        for (row, (i, (label, launch))) in entries
            .iter()
            .enumerate()
            .skip(first)
            .take(rows)
            .enumerate()
        {
            let style = if i == selected {
                theme.selected()
            } else {
                theme.overlay()
            };
            // An installed app has no key of its own: a mark where the key would be.
            let key = match launch {
                Launch::Key(key) => *key,
                Launch::App(_) => '▸',
            };
            let width = usize::from(inner.width).saturating_sub(4);
            let text = format!(" {key}  {label:<width$}");
            buf.set_stringn(
                inner.x,
                inner.y + row as u16,
                text,
                usize::from(inner.width),
                style,
            );
        }
    }

    fn draw_help(&self, scroll: usize, screen: Rect, buf: &mut Buffer) {
        let theme = &self.theme;
        let bindings = self.keymap.help();
        let width = screen.width.saturating_sub(4).min(84);
        let height = (bindings.len() as u16 + 4).min(screen.height.saturating_sub(2));
        let rect = Rect::new(
            (screen.width - width) / 2,
            screen.height.saturating_sub(height + 2) / 2,
            width,
            height,
        );
        Clear.render(rect, buf);
        let rows = usize::from(height.saturating_sub(3));
        let hidden = bindings.len().saturating_sub(rows);
        let scroll = scroll.min(hidden);
        let title = if hidden > 0 {
            " Help — ↑↓ scroll · any other key closes "
        } else {
            " Help — any key closes "
        };
        let block = Block::bordered()
            .border_type(BorderType::Double)
            .border_style(theme.border_focused())
            .style(theme.overlay())
            .title(title);
        let inner = block.inner(rect);
        block.render(rect, buf);
        for (i, (keys, what)) in bindings.iter().skip(scroll).enumerate().take(rows) {
            let y = inner.y + 1 + i as u16;
            buf.set_stringn(inner.x + 1, y, keys, 16, theme.warn());
            buf.set_stringn(
                inner.x + 18,
                y,
                what,
                usize::from(inner.width.saturating_sub(19)),
                theme.overlay(),
            );
        }
    }
}
