//! The event log app: the live stream of events, filtered by type, following or paused.

use std::collections::VecDeque;
use std::sync::Arc;

use choir_desktop::find::Find;
use choir_proto::Event;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::{clock, mark_found, App, Context, View, WHEEL_LINES};
use crate::input::{Key, KeyCode, Mouse, MouseKind};
use crate::theme::Theme;

pub const HINT: &str = "/ filter by type · f follow/pause · PgUp/PgDn scroll · C-a ? help";
pub const FILTER_HINT: &str = "type to filter by event type · Enter done · Esc clear";

#[derive(Debug, Clone)]
pub struct EventLogView {
    pub filter: String,
    pub editing_filter: bool,
    /// Following shows the newest events; paused keeps the view on `anchor`.
    pub follow: bool,
    /// When paused: the seq of the last line shown.
    pub anchor: u64,
}

impl Default for EventLogView {
    fn default() -> Self {
        Self {
            filter: String::new(),
            editing_filter: false,
            follow: true,
            anchor: 0,
        }
    }
}

impl EventLogView {
    fn matches(&self, event: &Event) -> bool {
        self.filter.is_empty() || event.body.type_name().contains(self.filter.as_str())
    }

    /// Handles a key; `false` if it was not for this app.
    pub fn handle_key(&mut self, key: Key, log: &VecDeque<Arc<Event>>, page: usize) -> bool {
        if self.editing_filter {
            match key.code {
                KeyCode::Enter => self.editing_filter = false,
                KeyCode::Esc => {
                    self.filter.clear();
                    self.editing_filter = false;
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => self.filter.push(c),
                _ => return false,
            }
            return true;
        }
        match key.code {
            KeyCode::Char('/') => self.editing_filter = true,
            KeyCode::Char('f') => {
                self.follow = !self.follow;
                self.anchor = self.last_matching(log, u64::MAX).unwrap_or(0);
            }
            KeyCode::PageUp | KeyCode::Up => {
                let steps = if key.code == KeyCode::Up {
                    1
                } else {
                    page.max(1)
                };
                let from = if self.follow { u64::MAX } else { self.anchor };
                self.follow = false;
                self.anchor = self.step_back(log, from, steps);
            }
            KeyCode::PageDown | KeyCode::Down if !self.follow => {
                let steps = if key.code == KeyCode::Down {
                    1
                } else {
                    page.max(1)
                };
                let next = log
                    .iter()
                    .filter(|event| event.seq > self.anchor && self.matches(event))
                    .take(steps)
                    .last()
                    .map(|event| event.seq);
                match next {
                    Some(seq) => self.anchor = seq,
                    None => self.follow = true,
                }
            }
            KeyCode::End => self.follow = true,
            _ => return false,
        }
        true
    }

    fn last_matching(&self, log: &VecDeque<Arc<Event>>, at_most: u64) -> Option<u64> {
        log.iter()
            .rev()
            .filter(|event| event.seq <= at_most && self.matches(event))
            .map(|event| event.seq)
            .next()
    }

    fn step_back(&self, log: &VecDeque<Arc<Event>>, from: u64, steps: usize) -> u64 {
        let mut matching = log
            .iter()
            .rev()
            .filter(|event| event.seq <= from && self.matches(event))
            .map(|event| event.seq);
        let newest = matching.next().unwrap_or(0);
        matching.take(steps).last().unwrap_or(newest)
    }

    /// The title suffix: state and filter.
    pub fn status(&self) -> String {
        let state = if self.follow { "following" } else { "paused" };
        if self.filter.is_empty() && !self.editing_filter {
            state.to_owned()
        } else {
            format!("{state} · type~{}", self.filter)
        }
    }
}

impl App for EventLogView {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        self.handle_key(key, cx.log, usize::from(cx.area.height.saturating_sub(1)))
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let key = match mouse.kind {
            MouseKind::ScrollUp => KeyCode::Up,
            MouseKind::ScrollDown => KeyCode::Down,
            _ => return,
        };
        for _ in 0..WHEEL_LINES {
            self.handle_key(Key::plain(key), cx.log, 1);
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        render(
            self,
            view.log,
            view.utc_offset,
            area,
            buf,
            view.theme,
            view.find,
        );
        None
    }

    fn hint(&self, _view: &View<'_>) -> String {
        if self.editing_filter {
            FILTER_HINT
        } else {
            HINT
        }
        .into()
    }

    fn status(&self, _view: &View<'_>) -> Option<String> {
        Some(EventLogView::status(self))
    }
}

pub fn render(
    view: &EventLogView,
    log: &VecDeque<Arc<Event>>,
    utc_offset: i32,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
    find: Option<&Find>,
) {
    if area.height == 0 {
        return;
    }
    let mut body = area;
    if view.editing_filter {
        let prompt = format!("filter: {}▏", view.filter);
        buf.set_stringn(
            area.x,
            area.y + area.height - 1,
            prompt,
            usize::from(area.width),
            theme.warn(),
        );
        body.height -= 1;
    }
    let height = usize::from(body.height);
    let found = find.and_then(Find::at);
    let limit = match found {
        // A search shows the event it is on, in the middle when it can.
        Some(seq) => log
            .iter()
            .filter(|event| event.seq >= seq && view.matches(event))
            .take(height / 2 + 1)
            .last()
            .map_or(seq, |event| event.seq),
        None if view.follow => u64::MAX,
        None => view.anchor,
    };
    let query = find.and_then(Find::query);
    let lines: Vec<&Arc<Event>> = log
        .iter()
        .rev()
        .filter(|event| event.seq <= limit && view.matches(event))
        .take(height)
        .collect();
    if lines.is_empty() {
        let note = if log.is_empty() {
            "No events yet."
        } else {
            "No events match the filter."
        };
        buf.set_stringn(body.x, body.y, note, usize::from(body.width), theme.muted());
    }
    for (row, event) in lines.iter().rev().enumerate() {
        let data =
            serde_json::to_string(&event.body.data().unwrap_or_default()).unwrap_or_default();
        let line = format!(
            "{:>5} {} {:<20} {:<12} {}",
            event.seq,
            clock(event.ts, utc_offset, true),
            event.body.type_name(),
            event.actor,
            data
        );
        let y = body.y + row as u16;
        let style = if found == Some(event.seq) {
            theme.selected()
        } else {
            Style::new()
        };
        buf.set_stringn(body.x, y, &line, usize::from(body.width), style);
        if let Some(query) = &query {
            mark_found(buf, body, y, &line, query, theme);
        }
    }
}
