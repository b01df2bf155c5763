//! Calendar windows in the desktop: a range folded from `calendar.*` events drawn as an
//! agenda or a week, the shared calendar keys sending commands, the form adding an event.

use super::*;
use choir_proto::calendar::CalendarItem;
use pretty_assertions::assert_eq;

const CAL: WindowId = WindowId(1);

fn item(uid: &str, title: &str, start: &str, end: &str) -> CalendarItem {
    CalendarItem {
        uid: uid.into(),
        title: title.into(),
        start: start.into(),
        end: end.into(),
        location: String::new(),
    }
}

fn with_week(week: bool) -> Harness {
    let mut h = Harness::new(100, 20);
    h.open(AppKind::Calendar, Cells::new(0, 0, 100, 18));
    h.commit(EventBody::CalendarRangeOpened {
        window_id: CAL,
        from: "2026-12-07".into(),
        days: 7,
        week,
    });
    h.commit(EventBody::CalendarRangeShown {
        window_id: CAL,
        account: "alice@example.test".into(),
        from: "2026-12-07".into(),
        days: 7,
        events: vec![
            item(
                "a",
                "Standup",
                "2026-12-07T09:00:00Z",
                "2026-12-07T09:15:00Z",
            ),
            item("h", "Holiday", "2026-12-08", "2026-12-09"),
            item(
                "b",
                "Lunch with Bob",
                "2026-12-08T12:00:00Z",
                "2026-12-08T13:00:00Z",
            ),
        ],
    });
    h
}

#[test]
fn an_agenda_lists_each_day_with_its_events() {
    let h = with_week(false);
    insta::assert_snapshot!(h.screen());
}

#[test]
fn a_week_shows_the_days_side_by_side() {
    let h = with_week(true);
    insta::assert_snapshot!(h.screen());
}

#[test]
fn keys_move_and_delete_the_selected_event_and_the_form_adds_one() {
    let mut h = with_week(false);
    h.bytes(b"jJ");
    assert_eq!(
        h.take_sent(),
        vec![],
        "an all-day event is not moved by the hour"
    );
    assert!(h.screen().contains("takes whole days"), "{}", h.screen());
    h.bytes(b"jL");
    assert_eq!(
        h.take_sent(),
        vec![Command::MoveCalendarEvent {
            window_id: CAL,
            uid: "b".into(),
            start: "2026-12-09T12:00:00Z".into(),
            end: "2026-12-09T13:00:00Z".into(),
        }]
    );
    h.bytes(b"d");
    assert!(h.screen().contains("press d again"), "{}", h.screen());
    h.bytes(b"d");
    assert_eq!(
        h.take_sent(),
        vec![Command::DeleteCalendarEvent {
            window_id: CAL,
            uid: "b".into()
        }]
    );
    // n opens the form on a day of the range; the times are the viewer's (UTC here).
    h.bytes(b"n");
    assert!(h.screen().contains("A new event"), "{}", h.screen());
    h.bytes(b"Review\t");
    h.bytes(&b"\x7f".repeat(10));
    h.bytes(b"2026-12-10\r15:00\r16:30\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::AddCalendarEvent {
            window_id: CAL,
            title: "Review".into(),
            start: "2026-12-10T15:00:00Z".into(),
            end: "2026-12-10T16:30:00Z".into(),
        }]
    );
}

#[test]
fn a_click_selects_an_event_in_the_agenda_and_in_the_week() {
    let mut h = with_week(false);
    // The window's inner area starts at (1, 1); its first row is the header. Rows: Mon (0),
    // Standup (1), Tue (2), Holiday (3), Lunch with Bob (4).
    h.click(6, 2 + 4);
    h.bytes(b"d");
    assert!(
        h.screen().contains("delete “Lunch with Bob”"),
        "{}",
        h.screen()
    );
    h.bytes(b"\x1b");
    let mut h = with_week(true);
    // Columns of 14 cells: Tuesday's second event is Lunch with Bob (rows: day, Holiday, Lunch).
    h.click(1 + 14 + 2, 2 + 2);
    h.bytes(b"d");
    assert!(
        h.screen().contains("delete “Lunch with Bob”"),
        "{}",
        h.screen()
    );
}
