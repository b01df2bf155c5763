//! Calendar windows: the range of days each shows and its events, folded from the
//! `calendar.*` events.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::calendar::CalendarItem;
use crate::event::{Event, EventBody};
use crate::ids::WindowId;

/// What one calendar window shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarView {
    pub window_id: WindowId,
    /// The account's name (its address); empty until the first range came.
    #[serde(default)]
    pub account: String,
    /// The first day shown (`YYYY-MM-DD`); empty until the first range came.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub days: u32,
    /// Shown as a week of columns rather than an agenda.
    #[serde(default)]
    pub week: bool,
    /// The range's events, by start.
    #[serde(default)]
    pub events: Vec<CalendarItem>,
    /// The seq that showed them (a share made later does not see them).
    #[serde(default)]
    pub shown_at: u64,
    /// A range or a change was asked for and has not come yet.
    #[serde(default)]
    pub loading: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl CalendarView {
    /// A window that waits for its first range.
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            account: String::new(),
            from: String::new(),
            days: 0,
            week: false,
            events: Vec::new(),
            shown_at: 0,
            loading: true,
            problem: None,
        }
    }

    /// Hides what was shown before seq `since` (a share made then).
    pub(crate) fn since(&mut self, since: u64) {
        if self.shown_at < since {
            self.events.clear();
        }
    }
}

/// Folds a `calendar.*` event (and a calendar window's opening and closing) into the views.
pub(crate) fn apply(views: &mut BTreeMap<WindowId, CalendarView>, event: &Event) {
    match &event.body {
        EventBody::WindowOpened {
            window_id,
            app: crate::AppKind::Calendar,
            ..
        } => {
            views.insert(*window_id, CalendarView::new(*window_id));
        }
        EventBody::WindowClosed { window_id } => {
            views.remove(window_id);
        }
        EventBody::CalendarRangeOpened {
            window_id,
            from,
            days,
            week,
        } => {
            if let Some(view) = views.get_mut(window_id) {
                view.from = from.clone();
                view.days = *days;
                view.week = *week;
                view.loading = true;
                view.problem = None;
            }
        }
        EventBody::CalendarRangeShown {
            window_id,
            account,
            from,
            days,
            events,
        } => {
            if let Some(view) = views.get_mut(window_id) {
                view.account = account.clone();
                view.from = from.clone();
                view.days = *days;
                view.events = events.clone();
                view.shown_at = event.seq;
                view.loading = false;
                view.problem = None;
            }
        }
        EventBody::CalendarAddRequested { window_id, .. }
        | EventBody::CalendarMoveRequested { window_id, .. }
        | EventBody::CalendarDeleteRequested { window_id, .. } => {
            if let Some(view) = views.get_mut(window_id) {
                view.loading = true;
                view.problem = None;
            }
        }
        EventBody::CalendarFailed { window_id, error } => {
            if let Some(view) = views.get_mut(window_id) {
                view.loading = false;
                view.problem = Some(error.clone());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::decide;
    use crate::grid::Rect;
    use crate::{AppKind, Command, Rejection, World};

    fn item(uid: &str, start: &str, end: &str) -> CalendarItem {
        CalendarItem {
            uid: uid.into(),
            title: format!("event {uid}"),
            start: start.into(),
            end: end.into(),
            location: String::new(),
        }
    }

    struct Log {
        world: World,
        seq: u64,
    }

    impl Log {
        fn new() -> Self {
            let mut log = Log {
                world: World::default(),
                seq: 0,
            };
            log.push(EventBody::WindowOpened {
                window_id: WindowId(1),
                app: AppKind::Calendar,
                title: "Calendar".into(),
                rect: Rect::new(0, 0, 80, 20),
            });
            log.push(EventBody::CalendarRangeShown {
                window_id: WindowId(1),
                account: "alice@example.test".into(),
                from: "2026-12-07".into(),
                days: 7,
                events: vec![item("a", "2026-12-07T09:00:00Z", "2026-12-07T09:15:00Z")],
            });
            log
        }

        fn push(&mut self, body: EventBody) -> u64 {
            self.seq += 1;
            self.world.apply(&Event {
                seq: self.seq,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body,
            });
            self.seq
        }

        fn decide(&self, command: Command) -> Result<Vec<EventBody>, Rejection> {
            decide(&self.world, &command)
        }

        fn view(&self) -> &CalendarView {
            &self.world.calendars[&WindowId(1)]
        }
    }

    #[test]
    fn a_range_is_asked_for_then_shown() {
        let mut log = Log::new();
        assert!(!log.view().loading);
        for body in log
            .decide(Command::OpenCalendarRange {
                window_id: WindowId(1),
                from: "2026-12-14".into(),
                days: 7,
                week: true,
            })
            .unwrap()
        {
            log.push(body);
        }
        assert!(log.view().loading && log.view().week);
        assert_eq!(log.view().from, "2026-12-14");
        let bad_day = log.decide(Command::OpenCalendarRange {
            window_id: WindowId(1),
            from: "2026-02-30".into(),
            days: 7,
            week: false,
        });
        assert!(
            matches!(bad_day, Err(Rejection::BadEvent(_))),
            "{bad_day:?}"
        );
        let too_long = log.decide(Command::OpenCalendarRange {
            window_id: WindowId(1),
            from: "2026-12-14".into(),
            days: 400,
            week: false,
        });
        assert!(matches!(too_long, Err(Rejection::BadEvent(_))));
    }

    #[test]
    fn events_are_checked_before_they_are_asked_for() {
        let log = Log::new();
        let add = |title: &str, start: &str, end: &str| {
            log.decide(Command::AddCalendarEvent {
                window_id: WindowId(1),
                title: title.into(),
                start: start.into(),
                end: end.into(),
            })
        };
        assert!(add("Lunch", "2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z").is_ok());
        assert!(add("Lunch", "2026-12-08T13:00:00Z", "2026-12-08T12:00:00Z").is_err());
        assert!(add("", "2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z").is_err());
        assert!(add("a\nb", "2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z").is_err());
        assert!(add("Lunch", "tomorrow", "2026-12-08T13:00:00Z").is_err());
        let move_unknown = log.decide(Command::MoveCalendarEvent {
            window_id: WindowId(1),
            uid: "nope".into(),
            start: "2026-12-08T12:00:00Z".into(),
            end: "2026-12-08T13:00:00Z".into(),
        });
        assert_eq!(move_unknown, Err(Rejection::UnknownEvent("nope".into())));
        let delete = log.decide(Command::DeleteCalendarEvent {
            window_id: WindowId(1),
            uid: "a".into(),
        });
        assert_eq!(
            delete,
            Ok(vec![EventBody::CalendarDeleteRequested {
                window_id: WindowId(1),
                uid: "a".into()
            }])
        );
        let not_calendar = decide(
            &log.world,
            &Command::DeleteCalendarEvent {
                window_id: WindowId(9),
                uid: "a".into(),
            },
        );
        assert!(not_calendar.is_err());
    }

    #[test]
    fn a_failure_ends_the_wait_and_a_share_sees_only_later_ranges() {
        let mut log = Log::new();
        log.push(EventBody::CalendarDeleteRequested {
            window_id: WindowId(1),
            uid: "a".into(),
        });
        assert!(log.view().loading);
        log.push(EventBody::CalendarFailed {
            window_id: WindowId(1),
            error: "gone".into(),
        });
        assert!(!log.view().loading);
        assert_eq!(log.view().problem.as_deref(), Some("gone"));
        let shared = log.world.clone().since(log.seq + 1);
        assert!(shared.calendars[&WindowId(1)].events.is_empty());
        assert_eq!(log.view().events.len(), 1, "the owner still sees it");
    }
}
