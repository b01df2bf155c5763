//! What a calendar window shows, as the daemon read it from the account's CalDAV calendar: the
//! events of a range of days. The log holds them (each range shown, with its events), so every
//! client, a replay and a share show the same window; the calendar itself stays on the server.

use serde::{Deserialize, Serialize};

/// Days a calendar window shows: a week.
pub const CALENDAR_DAYS: u32 = 7;
/// Most days a range may hold.
pub const MAX_RANGE_DAYS: u32 = 62;
/// Longest event title, in characters.
pub const MAX_EVENT_TITLE: usize = 200;

/// An event as a calendar window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarItem {
    pub uid: String,
    pub title: String,
    /// RFC 3339 in UTC, or a date (`2026-12-24`) for an all-day event.
    pub start: String,
    #[serde(default)]
    pub end: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
}

impl CalendarItem {
    /// Whether it takes whole days (its start is a date).
    pub fn all_day(&self) -> bool {
        self.start.len() == 10
    }
}
