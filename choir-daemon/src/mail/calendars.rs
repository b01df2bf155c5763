//! The daemon's side of calendar windows. It follows the log and reads or changes the
//! account's CalDAV calendar as the events ask, recording what it found:
//!
//! - a calendar window opened, or a range of days shown in one: the range's events are read
//!   (`calendar.range_shown`, or `calendar.failed` saying why);
//! - an event added, moved or deleted from a window: the change is made on the server, then
//!   the window's range is read again;
//! - the agent's calendar tools finished, or every [`LOOK_EVERY`] (another CalDAV client may
//!   have changed the calendar): each window's range is read again, and recorded only if it
//!   changed.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use choir_mail::{Calendar, CalendarEvent};
use choir_proto::calendar::{CalendarItem, CALENDAR_DAYS};
use choir_proto::dates::{format_day, parse_day, parse_rfc3339, weekday, DAY_MS};
use choir_proto::{AppKind, CalendarView, CallId, EventBody, WindowId};
use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::requests::{account, append, Kind, Request, Requests};
use super::MailAccounts;
use crate::store::{EventStore, Follow, Step};

/// How often open calendar windows look for changes made elsewhere.
pub const LOOK_EVERY: Duration = Duration::from_secs(10);
/// What a calendar window says when no account has a calendar.
const NO_CALENDAR: &str = "no account has a calendar: add its CalDAV URL in a mail window's \
     form (C-a i, then A; the same address replaces the account) or with choir account add \
     --from-env (CHOIR_CALDAV_URL)";
/// The agent's tools that change the calendar.
const CALENDAR_TOOLS: &[&str] = &["calendar_add", "calendar_reply"];

/// Starts following the log from `head + 1`; `views` are the calendar windows open at `head`.
pub fn spawn(
    store: EventStore,
    accounts: MailAccounts,
    views: &BTreeMap<WindowId, CalendarView>,
    head: u64,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut windows = CalendarWindows {
        store: store.clone(),
        accounts,
        shown: BTreeMap::new(),
        latest: Requests::default(),
        calls: HashMap::new(),
    };
    for view in views.values() {
        let from = if view.from.is_empty() {
            this_week()
        } else {
            view.from.clone()
        };
        let days = if view.days == 0 {
            CALENDAR_DAYS
        } else {
            view.days
        };
        windows.shown.insert(
            view.window_id,
            Range {
                from,
                days,
                events: view.events.clone(),
            },
        );
        if view.loading {
            windows.read(view.window_id, head, None);
        }
    }
    tokio::spawn(windows.run(store, head, shutdown))
}

/// The days a window shows, and the events it showed last.
#[derive(Debug, Clone)]
struct Range {
    from: String,
    days: u32,
    events: Vec<CalendarItem>,
}

/// A change to make before the range is read again.
#[derive(Debug, Clone)]
enum Change {
    Add {
        title: String,
        start: String,
        end: String,
    },
    Move {
        uid: String,
        start: String,
        end: String,
    },
    Delete {
        uid: String,
    },
}

struct CalendarWindows {
    store: EventStore,
    accounts: MailAccounts,
    shown: BTreeMap<WindowId, Range>,
    latest: Requests,
    /// The agent's calendar tool calls under way.
    calls: HashMap<CallId, ()>,
}

impl CalendarWindows {
    async fn run(mut self, store: EventStore, head: u64, shutdown: CancellationToken) {
        let mut follow =
            Follow::<()>::new("the calendar windows", store.subscribe(head + 1), shutdown)
                .with_tick(LOOK_EVERY);
        while let Some(step) = follow.next().await {
            match step {
                Step::Event(event) => self.apply(event.seq, &event.body),
                Step::Tick => self.look_again(),
                Step::Message(()) => {}
            }
        }
    }

    fn apply(&mut self, seq: u64, body: &EventBody) {
        match body {
            EventBody::WindowOpened {
                window_id,
                app: AppKind::Calendar,
                ..
            } => {
                self.shown.insert(
                    *window_id,
                    Range {
                        from: this_week(),
                        days: CALENDAR_DAYS,
                        events: Vec::new(),
                    },
                );
                self.read(*window_id, seq, None);
            }
            EventBody::WindowClosed { window_id } => {
                self.shown.remove(window_id);
            }
            EventBody::CalendarRangeOpened {
                window_id,
                from,
                days,
                ..
            } => {
                if let Some(range) = self.shown.get_mut(window_id) {
                    range.from = from.clone();
                    range.days = *days;
                }
                self.read(*window_id, seq, None);
            }
            EventBody::CalendarRangeShown {
                window_id,
                from,
                days,
                events,
                ..
            } => {
                if let Some(range) = self.shown.get_mut(window_id) {
                    range.from = from.clone();
                    range.days = *days;
                    range.events = events.clone();
                }
            }
            EventBody::CalendarAddRequested {
                window_id,
                title,
                start,
                end,
            } => {
                let change = Change::Add {
                    title: title.clone(),
                    start: start.clone(),
                    end: end.clone(),
                };
                self.read(*window_id, seq, Some(change));
            }
            EventBody::CalendarMoveRequested {
                window_id,
                uid,
                start,
                end,
            } => {
                let change = Change::Move {
                    uid: uid.clone(),
                    start: start.clone(),
                    end: end.clone(),
                };
                self.read(*window_id, seq, Some(change));
            }
            EventBody::CalendarDeleteRequested { window_id, uid } => {
                self.read(*window_id, seq, Some(Change::Delete { uid: uid.clone() }));
            }
            EventBody::ToolStarted { call_id, tool, .. }
                if CALENDAR_TOOLS.contains(&tool.as_str()) =>
            {
                self.calls.insert(call_id.clone(), ());
            }
            EventBody::ToolFinished { call_id, .. } if self.calls.remove(call_id).is_some() => {
                self.look_again();
            }
            _ => {}
        }
    }

    /// Makes `change`, if any, then reads window `window_id`'s range and records it: the
    /// window's request at `seq`.
    fn read(&self, window_id: WindowId, seq: u64, change: Option<Change>) {
        let Some(range) = self.shown.get(&window_id).cloned() else {
            return;
        };
        let request = Request::new(&self.latest, window_id, Kind::Range, seq);
        let (accounts, store) = (self.accounts.clone(), self.store.clone());
        tokio::spawn(async move {
            match changed_then_read(&accounts, window_id, &range, change).await {
                Ok(body) => request.record(&store, body).await,
                // A change that failed is said even if the window asked for more since.
                Err(Failed::Change(error)) => {
                    append(&store, EventBody::CalendarFailed { window_id, error }).await
                }
                Err(Failed::Read(error)) => {
                    let body = EventBody::CalendarFailed { window_id, error };
                    request.record(&store, body).await
                }
            }
        });
    }

    /// Reads every window's range again, recording those that changed.
    fn look_again(&self) {
        for (window_id, range) in &self.shown {
            let request = Request::current(&self.latest, *window_id, Kind::Range);
            let (accounts, store) = (self.accounts.clone(), self.store.clone());
            let (window_id, range) = (*window_id, range.clone());
            tokio::spawn(async move {
                match changed_then_read(&accounts, window_id, &range, None).await {
                    Ok(EventBody::CalendarRangeShown { ref events, .. })
                        if *events == range.events => {}
                    Ok(body) => request.record(&store, body).await,
                    // Said when the window asks; a look that fails is tried at the next.
                    Err(Failed::Change(reason) | Failed::Read(reason)) => {
                        tracing::debug!(%reason, "cannot look at the calendar");
                    }
                }
            });
        }
    }
}

/// The Monday of this week, `YYYY-MM-DD` (UTC).
fn this_week() -> String {
    let today = choir_proto::now_ms().div_euclid(DAY_MS);
    format_day(today - weekday(today))
}

fn utc(text: &str) -> Result<DateTime<Utc>, String> {
    parse_rfc3339(text)
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .ok_or_else(|| format!("`{text}` is not a time like 2026-12-07T09:00:00Z"))
}

/// What went wrong: the change asked for, or reading the range.
enum Failed {
    Change(String),
    Read(String),
}

async fn changed_then_read(
    accounts: &MailAccounts,
    window_id: WindowId,
    range: &Range,
    change: Option<Change>,
) -> Result<EventBody, Failed> {
    let failed = if change.is_some() {
        Failed::Change
    } else {
        Failed::Read
    };
    let account = match accounts
        .all()
        .into_iter()
        .find(|account| account.caldav.is_some())
    {
        Some(account) => account,
        // Whatever is wrong with the accounts first (their file unreadable, say), else how
        // to add a calendar.
        None => {
            account(accounts, "").map_err(&failed)?;
            return Err(failed(NO_CALENDAR.to_owned()));
        }
    };
    let calendar = Calendar::open(&account)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let changed = match change {
        None => Ok(()),
        Some(Change::Add { title, start, end }) => match (utc(&start), utc(&end)) {
            (Ok(start), Ok(end)) => calendar.add(&title, start, end).await.map(drop),
            (Err(why), _) | (_, Err(why)) => return Err(Failed::Change(why)),
        },
        Some(Change::Move { uid, start, end }) => match (utc(&start), utc(&end)) {
            (Ok(start), Ok(end)) => calendar.reschedule(&uid, start, end).await,
            (Err(why), _) | (_, Err(why)) => return Err(Failed::Change(why)),
        },
        Some(Change::Delete { uid }) => calendar.remove(&uid).await,
    };
    changed.map_err(|e| Failed::Change(e.to_string()))?;
    read_range(&calendar, &account, window_id, range)
        .await
        .map_err(Failed::Read)
}

/// The range's events as the server has them now.
async fn read_range(
    calendar: &Calendar,
    account: &choir_mail::Account,
    window_id: WindowId,
    range: &Range,
) -> Result<EventBody, String> {
    let first = parse_day(&range.from).ok_or_else(|| format!("`{}` is not a day", range.from))?;
    // A day on each side, for clients whose days start hours before or after UTC's.
    let from = DateTime::<Utc>::from_timestamp_millis((first - 1) * DAY_MS);
    let to = DateTime::<Utc>::from_timestamp_millis((first + i64::from(range.days) + 1) * DAY_MS);
    let (Some(from), Some(to)) = (from, to) else {
        return Err(format!("`{}` is too far away", range.from));
    };
    let events = calendar
        .events(from, to)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(item)
        .collect();
    Ok(EventBody::CalendarRangeShown {
        window_id,
        account: account.address.clone(),
        from: range.from.clone(),
        days: range.days,
        events,
    })
}

fn item(event: CalendarEvent) -> CalendarItem {
    CalendarItem {
        uid: event.uid,
        title: event.title,
        start: event.start,
        end: event.end,
        location: event.location,
    }
}
