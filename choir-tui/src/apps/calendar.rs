//! The calendar app: a header line (account, the range, agenda or week), then the range's days
//! as an agenda (a day's label, its events under it) or as a week of columns; `n` opens the
//! form that adds an event. What a key does is `choir_desktop::calendar`'s, the same as in the
//! browser; this only draws, and holds the form's text.

use choir_desktop::calendar::{self, CalendarCursor, Day};
use choir_proto::{CalendarView, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::form::{Field, Form, FormKey};
use super::{note, App, Context, View};
use crate::input::{Key, KeyCode, Mouse, MouseButton, MouseKind};
use crate::theme::Theme;
use crate::wrap::truncate;

pub struct CalendarApp {
    window_id: WindowId,
    cursor: CalendarCursor,
    /// The form that adds an event (`calendar::EVENT_FIELDS`), while it is open.
    form: Option<Form>,
}

impl CalendarApp {
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            cursor: CalendarCursor::default(),
            form: None,
        }
    }

    fn form_key(&mut self, key: Key, view: &CalendarView, cx: &mut Context<'_>) {
        let form = self.form.get_or_insert_with(|| {
            let mut form = Form::new(calendar::EVENT_FIELDS.len());
            // The day starts as the range's first, or today when that is in the range.
            let today = today(cx.utc_offset);
            let first = choir_proto::dates::parse_day(&view.from).unwrap_or(today);
            let day = if (first..first + i64::from(view.days)).contains(&today) {
                today
            } else {
                first
            };
            if let Some(field) = form.field_mut(1) {
                field.insert_str(&choir_proto::dates::format_day(day));
            }
            form
        });
        match form.key(key) {
            FormKey::Cancel => self.close_form(),
            FormKey::Submit => {
                match calendar::add_event(self.window_id, &form.values(), cx.utc_offset) {
                    Ok(command) => {
                        cx.send(command);
                        self.close_form();
                    }
                    Err(problem) => cx.notify(problem, true),
                }
            }
            FormKey::Stay => {}
        }
    }

    fn close_form(&mut self) {
        self.cursor.form = false;
        self.form = None;
    }
}

/// The viewer's day, days since 1970-01-01.
fn today(utc_offset: i32) -> i64 {
    (choir_proto::now_ms() + i64::from(utc_offset) * 1000).div_euclid(choir_proto::dates::DAY_MS)
}

impl App for CalendarApp {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        let Some(view) = cx.world().calendars.get(&self.window_id).cloned() else {
            return false;
        };
        if self.cursor.form {
            self.form_key(key, &view, cx);
            return true;
        }
        let today = today(cx.utc_offset);
        cx.carry_out(
            self.cursor
                .key(key, self.window_id, &view, today, cx.utc_offset),
        )
    }

    fn on_paste(&mut self, text: &str, _cx: &mut Context<'_>) {
        if let Some(form) = self.form.as_mut() {
            form.paste(text);
        }
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        if self.cursor.form {
            return;
        }
        let Some(view) = cx.world().calendars.get(&self.window_id) else {
            return;
        };
        match mouse.kind {
            MouseKind::Down(MouseButton::Left) => {
                let days = calendar::days(view, cx.utc_offset);
                let order: Vec<_> = days.iter().flat_map(|day| day.events.clone()).collect();
                let selected = self.cursor.current(&order).map(|item| item.uid.as_str());
                // The body starts under the header row.
                let body = Rect::new(0, 1, cx.area.width, cx.area.height.saturating_sub(1));
                let clicked = event_at(
                    &days,
                    view.week,
                    selected,
                    cx.utc_offset,
                    body,
                    (mouse.x, mouse.y),
                );
                if let Some(uid) = clicked {
                    self.cursor.selected = Some(uid.to_owned());
                }
            }
            MouseKind::ScrollUp => {
                self.on_key(Key::plain(KeyCode::Up), cx);
            }
            MouseKind::ScrollDown => {
                self.on_key(Key::plain(KeyCode::Down), cx);
            }
            _ => {}
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let theme = view.theme;
        let Some(shown) = view.world().calendars.get(&self.window_id) else {
            note(buf, area, "this calendar window is not known here", theme);
            return None;
        };
        if area.height == 0 || area.width == 0 {
            return None;
        }
        let mut head = if shown.account.is_empty() {
            "Calendar".to_owned()
        } else {
            format!(
                "{} · {} · {}",
                shown.account,
                calendar::range_label(shown),
                if shown.week { "week" } else { "agenda" }
            )
        };
        if shown.loading {
            head.push_str(" · loading…");
        }
        buf.set_stringn(
            area.x,
            area.y,
            &head,
            area.width.into(),
            theme.muted().add_modifier(Modifier::BOLD),
        );
        let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
        if self.cursor.form {
            return self.draw_form(buf, body, theme);
        }
        if let Some(problem) = &shown.problem {
            super::problem(buf, body, problem, theme);
            return None;
        }
        let days = calendar::days(shown, view.utc_offset);
        let order: Vec<_> = days.iter().flat_map(|day| day.events.clone()).collect();
        let selected = self.cursor.current(&order).map(|item| item.uid.as_str());
        if shown.week {
            draw_week(buf, body, &days, selected, view.utc_offset, theme);
        } else {
            draw_agenda(buf, body, &days, selected, view.utc_offset, theme);
        }
        None
    }

    fn hint(&self, _view: &View<'_>) -> String {
        if self.cursor.form {
            calendar::FORM_HINT.into()
        } else {
            calendar::HINT.into()
        }
    }
}

impl CalendarApp {
    fn draw_form(&self, buf: &mut Buffer, rect: Rect, theme: &Theme) -> Option<(u16, u16)> {
        let fields: Vec<Field<'_>> = calendar::EVENT_FIELDS
            .iter()
            .map(|(label, example)| Field {
                label,
                example,
                secret: false,
            })
            .collect();
        let empty = Form::new(fields.len());
        self.form.as_ref().unwrap_or(&empty).draw(
            buf,
            rect,
            "A new event, in your time",
            &fields,
            theme,
        )
    }
}

fn event_style(uid: &str, selected: Option<&str>, theme: &Theme) -> Style {
    if selected == Some(uid) {
        theme.selected()
    } else {
        Style::default()
    }
}

/// The agenda's rows: each day's label, then its events (with their uid), and the first row
/// shown in `height` rows so that the selected event is in view.
fn agenda_rows<'a>(
    days: &[Day<'a>],
    selected: Option<&str>,
    utc_offset: i32,
    height: u16,
) -> (Vec<(String, Option<&'a str>)>, usize) {
    let mut rows: Vec<(String, Option<&'a str>)> = Vec::new();
    for day in days {
        rows.push((day.label.clone(), None));
        for item in &day.events {
            let mut line = format!(
                "  {:<11} {}",
                calendar::time_span(item, utc_offset),
                item.title
            );
            if !item.location.is_empty() {
                line.push_str(&format!("  ({})", item.location));
            }
            rows.push((line, Some(item.uid.as_str())));
        }
    }
    let at = rows
        .iter()
        .position(|(_, uid)| uid.is_some() && *uid == selected)
        .unwrap_or(0);
    let first = at.saturating_sub(usize::from(height).saturating_sub(1));
    (rows, first)
}

fn draw_agenda(
    buf: &mut Buffer,
    rect: Rect,
    days: &[Day<'_>],
    selected: Option<&str>,
    utc_offset: i32,
    theme: &Theme,
) {
    let (rows, first) = agenda_rows(days, selected, utc_offset, rect.height);
    for (row, (line, uid)) in rows.iter().skip(first).take(rect.height.into()).enumerate() {
        let style = match uid {
            Some(uid) => event_style(uid, selected, theme),
            None => Style::default().add_modifier(Modifier::BOLD),
        };
        buf.set_stringn(rect.x, rect.y + row as u16, line, rect.width.into(), style);
    }
}

/// The event under cell (`x`, `y`) of the body `rect` (both counted from the window's inner
/// top left), as drawn.
fn event_at<'a>(
    days: &[Day<'a>],
    week: bool,
    selected: Option<&str>,
    utc_offset: i32,
    rect: Rect,
    (x, y): (u16, u16),
) -> Option<&'a str> {
    if y < rect.y || y >= rect.y + rect.height {
        return None;
    }
    let row = usize::from(y - rect.y);
    if week {
        let column = (usize::from(rect.width) / days.len().max(1)).max(1);
        let day = days.get(usize::from(x.saturating_sub(rect.x)) / column)?;
        let item = day.events.get(row.checked_sub(1)?)?;
        Some(item.uid.as_str())
    } else {
        let (rows, first) = agenda_rows(days, selected, utc_offset, rect.height);
        rows.get(first + row)?.1
    }
}

fn draw_week(
    buf: &mut Buffer,
    rect: Rect,
    days: &[Day<'_>],
    selected: Option<&str>,
    utc_offset: i32,
    theme: &Theme,
) {
    if days.is_empty() || rect.height == 0 {
        return;
    }
    let column = (usize::from(rect.width) / days.len()).max(1);
    for (index, day) in days.iter().enumerate() {
        let x = rect.x + (index * column) as u16;
        if x >= rect.x + rect.width {
            break;
        }
        let width = column.saturating_sub(1).max(1);
        buf.set_stringn(
            x,
            rect.y,
            truncate(&day.label, width),
            width,
            Style::default().add_modifier(Modifier::BOLD),
        );
        for (row, item) in day.events.iter().enumerate() {
            let y = rect.y + 1 + row as u16;
            if y >= rect.y + rect.height {
                break;
            }
            let text = if item.all_day() {
                item.title.clone()
            } else {
                let span = calendar::time_span(item, utc_offset);
                let start = span.split('–').next().unwrap_or_default();
                format!("{start} {}", item.title)
            };
            buf.set_stringn(
                x,
                y,
                truncate(&text, width),
                width,
                event_style(&item.uid, selected, theme),
            );
        }
    }
}
