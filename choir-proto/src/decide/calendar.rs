//! Calendar windows' commands: the range of days a window shows, and events added, moved and
//! deleted from it.

use super::{existing, Rejection};
use crate::app_kind::AppKind;
use crate::calendar::{MAX_EVENT_TITLE, MAX_RANGE_DAYS};
use crate::dates::{parse_day, parse_rfc3339};
use crate::event::EventBody;
use crate::ids::WindowId;
use crate::world::{CalendarView, World};

fn calendar_window(world: &World, window_id: WindowId) -> Result<&CalendarView, Rejection> {
    if existing(&world.desktop, window_id)?.app != AppKind::Calendar {
        return Err(Rejection::NotACalendarWindow(window_id));
    }
    world
        .calendars
        .get(&window_id)
        .ok_or(Rejection::NotACalendarWindow(window_id))
}

fn bad(text: impl Into<String>) -> Rejection {
    Rejection::BadEvent(text.into())
}

pub(super) fn open_range(
    world: &World,
    window_id: WindowId,
    from: &str,
    days: u32,
    week: bool,
) -> Result<Vec<EventBody>, Rejection> {
    calendar_window(world, window_id)?;
    if parse_day(from).is_none() {
        return Err(bad(format!("`{from}` is not a day like 2026-12-07")));
    }
    if !(1..=MAX_RANGE_DAYS).contains(&days) {
        return Err(bad(format!("a range is 1 to {MAX_RANGE_DAYS} days")));
    }
    Ok(vec![EventBody::CalendarRangeOpened {
        window_id,
        from: from.to_owned(),
        days,
        week,
    }])
}

/// Checks an event's start and end (RFC 3339, the end after the start).
fn times(start: &str, end: &str) -> Result<(), Rejection> {
    let parse = |text: &str| {
        parse_rfc3339(text)
            .ok_or_else(|| bad(format!("`{text}` is not a time like 2026-12-07T09:00:00Z")))
    };
    if parse(end)? <= parse(start)? {
        return Err(bad("an event must end after it starts"));
    }
    Ok(())
}

pub(super) fn add(
    world: &World,
    window_id: WindowId,
    title: &str,
    start: &str,
    end: &str,
) -> Result<Vec<EventBody>, Rejection> {
    calendar_window(world, window_id)?;
    let title = title.trim();
    if title.is_empty()
        || title.chars().count() > MAX_EVENT_TITLE
        || title.chars().any(char::is_control)
    {
        return Err(bad(format!(
            "an event's title is one line of 1 to {MAX_EVENT_TITLE} characters"
        )));
    }
    times(start, end)?;
    Ok(vec![EventBody::CalendarAddRequested {
        window_id,
        title: title.to_owned(),
        start: start.to_owned(),
        end: end.to_owned(),
    }])
}

pub(super) fn move_event(
    world: &World,
    window_id: WindowId,
    uid: &str,
    start: &str,
    end: &str,
) -> Result<Vec<EventBody>, Rejection> {
    shown(world, window_id, uid)?;
    times(start, end)?;
    Ok(vec![EventBody::CalendarMoveRequested {
        window_id,
        uid: uid.to_owned(),
        start: start.to_owned(),
        end: end.to_owned(),
    }])
}

pub(super) fn delete(
    world: &World,
    window_id: WindowId,
    uid: &str,
) -> Result<Vec<EventBody>, Rejection> {
    shown(world, window_id, uid)?;
    Ok(vec![EventBody::CalendarDeleteRequested {
        window_id,
        uid: uid.to_owned(),
    }])
}

/// The window shows event `uid`.
fn shown(world: &World, window_id: WindowId, uid: &str) -> Result<(), Rejection> {
    let view = calendar_window(world, window_id)?;
    if !view.events.iter().any(|event| event.uid == uid) {
        return Err(Rejection::UnknownEvent(uid.to_owned()));
    }
    Ok(())
}
