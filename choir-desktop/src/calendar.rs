//! A calendar window as every client has it: the range's days in the viewer's time, each
//! with its events, the selected event, the form that adds one, and what a key does. The
//! terminal and the browser draw the same days and send the same commands.

use choir_proto::calendar::CalendarItem;
use choir_proto::dates::{format_day, format_rfc3339, parse_day, parse_rfc3339, weekday, DAY_MS};
use choir_proto::{CalendarView, Command, WindowId};

pub use crate::handled::Handled;
use crate::key::{Key, KeyCode};

/// The key hints a calendar window shows.
pub const HINT: &str = "←→ week · t today · v week/agenda · ↑↓ select · H/L day · K/J hour · d delete · n new · g refresh";
/// The key hints while the form that adds an event is open.
pub const FORM_HINT: &str = "Tab/↓ next field · Enter on the last adds the event · Esc cancel";

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A day of the range, with its events by start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day<'a> {
    /// Days since 1970-01-01.
    pub day: i64,
    /// `Mon Dec 07`.
    pub label: String,
    pub events: Vec<&'a CalendarItem>,
}

/// `Mon Dec 07`.
pub fn day_label(day: i64) -> String {
    let (_, month, date) = choir_proto::dates::civil(day);
    format!(
        "{} {} {date:02}",
        WEEKDAYS[weekday(day) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// The day event `item` starts on, in the viewer's time (`utc_offset` seconds east of UTC).
pub fn local_day(item: &CalendarItem, utc_offset: i32) -> Option<i64> {
    if item.all_day() {
        return parse_day(&item.start);
    }
    let ms = parse_rfc3339(&item.start)? + i64::from(utc_offset) * 1000;
    Some(ms.div_euclid(DAY_MS))
}

/// When event `item` is, in the viewer's time: `09:00–09:15`, or `all day`.
pub fn time_span(item: &CalendarItem, utc_offset: i32) -> String {
    if item.all_day() {
        return "all day".into();
    }
    let clock = |text: &str| {
        parse_rfc3339(text).map(|ms| {
            let minutes = (ms.div_euclid(1000) + i64::from(utc_offset)).rem_euclid(86_400) / 60;
            format!("{:02}:{:02}", minutes / 60, minutes % 60)
        })
    };
    match (clock(&item.start), clock(&item.end)) {
        (Some(start), Some(end)) => format!("{start}–{end}"),
        (Some(start), None) => start,
        _ => item.start.clone(),
    }
}

/// The range's days in the viewer's time, each with its events by start.
pub fn days(view: &CalendarView, utc_offset: i32) -> Vec<Day<'_>> {
    let Some(first) = parse_day(&view.from) else {
        return Vec::new();
    };
    let mut days: Vec<Day<'_>> = (0..i64::from(view.days))
        .map(|offset| Day {
            day: first + offset,
            label: day_label(first + offset),
            events: Vec::new(),
        })
        .collect();
    for item in &view.events {
        let Some(day) = local_day(item, utc_offset) else {
            continue;
        };
        if let Some(slot) = days.iter_mut().find(|slot| slot.day == day) {
            slot.events.push(item);
        }
    }
    for day in &mut days {
        // All-day events first, then by time.
        day.events
            .sort_by_key(|item| (!item.all_day(), parse_rfc3339(&item.start)));
    }
    days
}

/// The range as its header says it: `Dec 07 – Dec 13 2026`.
pub fn range_label(view: &CalendarView) -> String {
    let Some(first) = parse_day(&view.from) else {
        return String::new();
    };
    let last = first + i64::from(view.days.max(1)) - 1;
    let (year, _, _) = choir_proto::dates::civil(last);
    let short = |day: i64| day_label(day)[4..].to_owned();
    format!("{} – {} {year}", short(first), short(last))
}

/// The fields of the form that adds an event: label, and what it looks like.
pub const EVENT_FIELDS: &[(&str, &str)] = &[
    ("Title", "Lunch with Bob"),
    ("Day", "2026-12-08"),
    ("From", "12:00"),
    ("To", "13:00"),
];

/// The command that adds the event the form's `values` (title, day, from, to, in the viewer's
/// time) name; or what is wrong with them.
pub fn add_event(window_id: WindowId, values: &[&str], utc_offset: i32) -> Result<Command, String> {
    let value = |index: usize| values.get(index).map_or("", |value| value.trim());
    let day = parse_day(value(1))
        .ok_or_else(|| format!("`{}` is not a day like 2026-12-08", value(1)))?;
    let at = |index: usize| -> Result<i64, String> {
        let text = value(index);
        let (hours, minutes) = text
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)))
            .filter(|(h, m)| (0..24).contains(h) && (0..60).contains(m))
            .ok_or_else(|| format!("`{text}` is not a time like 12:00"))?;
        Ok(day * DAY_MS + (hours * 60 + minutes) * 60_000 - i64::from(utc_offset) * 1000)
    };
    let (start, end) = (at(2)?, at(3)?);
    if end <= start {
        return Err("the event must end after it starts".into());
    }
    Ok(Command::AddCalendarEvent {
        window_id,
        title: value(0).to_owned(),
        start: format_rfc3339(start),
        end: format_rfc3339(end),
    })
}

/// This client's place in a calendar window: the selected event, by uid; the form that adds
/// one; a delete waiting for its second press.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarCursor {
    pub selected: Option<String>,
    pub form: bool,
    pub deleting: Option<String>,
}

impl CalendarCursor {
    /// The selected event, if the window shows it (else the first one shown).
    pub fn current<'a>(&self, order: &[&'a CalendarItem]) -> Option<&'a CalendarItem> {
        self.selected
            .as_ref()
            .and_then(|uid| order.iter().find(|item| &item.uid == uid))
            .or(order.first())
            .copied()
    }

    /// What `key` does in calendar window `window_id` showing `view`; `today` is the viewer's
    /// day (days since 1970-01-01), `utc_offset` their offset from UTC in seconds.
    pub fn key(
        &mut self,
        key: Key,
        window_id: WindowId,
        view: &CalendarView,
        today: i64,
        utc_offset: i32,
    ) -> Handled {
        if key.mods.ctrl || key.mods.alt {
            return Handled::No;
        }
        let deleting = self.deleting.take();
        let days = days(view, utc_offset);
        let order: Vec<&CalendarItem> = days.iter().flat_map(|day| day.events.clone()).collect();
        let current = self.current(&order);
        let index = current
            .and_then(|item| order.iter().position(|other| other.uid == item.uid))
            .unwrap_or(0);
        let first = parse_day(&view.from).unwrap_or(today - weekday(today));
        let range = |from: i64, week: bool| Command::OpenCalendarRange {
            window_id,
            from: format_day(from),
            days: view.days.max(1),
            week,
        };
        let command = match key.code {
            KeyCode::Left | KeyCode::Char('h') => range(first - 7, view.week),
            KeyCode::Right | KeyCode::Char('l') => range(first + 7, view.week),
            KeyCode::Char('t') => range(today - weekday(today), view.week),
            KeyCode::Char('v') => range(first, !view.week),
            KeyCode::Char('g') => range(first, view.week),
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = order
                    .get(index.saturating_sub(1))
                    .map(|item| item.uid.clone());
                return Handled::Yes;
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let next = (index + 1).min(order.len().saturating_sub(1));
                self.selected = order.get(next).map(|item| item.uid.clone());
                return Handled::Yes;
            }
            KeyCode::Char('n') => {
                self.form = true;
                return Handled::Yes;
            }
            KeyCode::Char(c @ ('H' | 'L' | 'K' | 'J')) => {
                let Some(item) = current else {
                    return Handled::Notice("no event to move".into());
                };
                let by = match c {
                    'H' => -DAY_MS,
                    'L' => DAY_MS,
                    'K' => -3_600_000,
                    _ => 3_600_000,
                };
                let (Some(start), Some(end)) =
                    (parse_rfc3339(&item.start), parse_rfc3339(&item.end))
                else {
                    return Handled::Notice(format!(
                        "“{}” takes whole days: it is moved by another calendar app for now",
                        item.title
                    ));
                };
                self.selected = Some(item.uid.clone());
                Command::MoveCalendarEvent {
                    window_id,
                    uid: item.uid.clone(),
                    start: format_rfc3339(start + by),
                    end: format_rfc3339(end + by),
                }
            }
            KeyCode::Char('d') | KeyCode::Delete => {
                let Some(item) = current else {
                    return Handled::Notice("no event to delete".into());
                };
                if deleting.as_deref() != Some(item.uid.as_str()) {
                    self.deleting = Some(item.uid.clone());
                    return Handled::Notice(format!(
                        "press d again to delete “{}” from the calendar",
                        item.title
                    ));
                }
                Command::DeleteCalendarEvent {
                    window_id,
                    uid: item.uid.clone(),
                }
            }
            _ => return Handled::No,
        };
        Handled::Send(command)
    }
}

#[cfg(test)]
mod tests;
