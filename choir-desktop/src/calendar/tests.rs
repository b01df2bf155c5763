use super::*;

fn item(uid: &str, start: &str, end: &str) -> CalendarItem {
    CalendarItem {
        uid: uid.into(),
        title: format!("event {uid}"),
        start: start.into(),
        end: end.into(),
        location: String::new(),
    }
}

fn view(events: Vec<CalendarItem>) -> CalendarView {
    let mut view = CalendarView::new(WindowId(1));
    view.loading = false;
    view.account = "alice@example.test".into();
    view.from = "2026-12-07".into();
    view.days = 7;
    view.events = events;
    view
}

fn key(code: KeyCode) -> Key {
    Key::plain(code)
}

const TODAY: &str = "2026-12-09";

fn press(cursor: &mut CalendarCursor, code: KeyCode, view: &CalendarView, offset: i32) -> Handled {
    cursor.key(
        key(code),
        WindowId(1),
        view,
        parse_day(TODAY).unwrap(),
        offset,
    )
}

#[test]
fn events_fall_on_the_viewers_days() {
    let shown = view(vec![
        item("late", "2026-12-07T23:30:00Z", "2026-12-08T00:30:00Z"),
        item("holiday", "2026-12-08", "2026-12-09"),
        item("early", "2026-12-08T08:00:00Z", "2026-12-08T09:00:00Z"),
    ]);
    let at_utc = days(&shown, 0);
    assert_eq!(at_utc.len(), 7);
    assert_eq!(at_utc[0].label, "Mon Dec 07");
    assert_eq!(at_utc[0].events.len(), 1);
    let tuesday: Vec<&str> = at_utc[1].events.iter().map(|e| e.uid.as_str()).collect();
    assert_eq!(tuesday, ["holiday", "early"], "all-day first, then by time");
    // An hour east of UTC, the late event is on Tuesday.
    let east = days(&shown, 3600);
    assert!(east[0].events.is_empty());
    assert_eq!(east[1].events.len(), 3);
    assert_eq!(time_span(&shown.events[0], 3600), "00:30–01:30");
    assert_eq!(time_span(&shown.events[1], 0), "all day");
    assert_eq!(range_label(&shown), "Dec 07 – Dec 13 2026");
}

#[test]
fn keys_step_through_weeks_and_events_and_move_them() {
    let shown = view(vec![
        item("a", "2026-12-07T09:00:00Z", "2026-12-07T09:15:00Z"),
        item("b", "2026-12-08T12:00:00Z", "2026-12-08T13:00:00Z"),
    ]);
    let mut cursor = CalendarCursor::default();
    let sent = |handled: Handled| match handled {
        Handled::Send(command) => command,
        other => panic!("{other:?}"),
    };
    let next = sent(press(&mut cursor, KeyCode::Right, &shown, 0));
    assert!(
        matches!(next, Command::OpenCalendarRange { ref from, days: 7, week: false, .. } if from == "2026-12-14")
    );
    let today = sent(press(&mut cursor, KeyCode::Char('t'), &shown, 0));
    assert!(matches!(today, Command::OpenCalendarRange { ref from, .. } if from == "2026-12-07"));
    let week = sent(press(&mut cursor, KeyCode::Char('v'), &shown, 0));
    assert!(matches!(
        week,
        Command::OpenCalendarRange { week: true, .. }
    ));
    assert_eq!(press(&mut cursor, KeyCode::Down, &shown, 0), Handled::Yes);
    assert_eq!(cursor.selected.as_deref(), Some("b"));
    let later = sent(press(&mut cursor, KeyCode::Char('J'), &shown, 0));
    assert_eq!(
        later,
        Command::MoveCalendarEvent {
            window_id: WindowId(1),
            uid: "b".into(),
            start: "2026-12-08T13:00:00Z".into(),
            end: "2026-12-08T14:00:00Z".into(),
        }
    );
    let earlier_day = sent(press(&mut cursor, KeyCode::Char('H'), &shown, 0));
    assert!(
        matches!(earlier_day, Command::MoveCalendarEvent { ref start, .. } if start == "2026-12-07T12:00:00Z")
    );
}

#[test]
fn a_delete_asks_for_a_second_press() {
    let shown = view(vec![item(
        "a",
        "2026-12-07T09:00:00Z",
        "2026-12-07T09:15:00Z",
    )]);
    let mut cursor = CalendarCursor::default();
    assert!(
        matches!(press(&mut cursor, KeyCode::Char('d'), &shown, 0), Handled::Notice(ref text) if text.contains("again"))
    );
    assert_eq!(
        press(&mut cursor, KeyCode::Char('d'), &shown, 0),
        Handled::Send(Command::DeleteCalendarEvent {
            window_id: WindowId(1),
            uid: "a".into()
        })
    );
    // Another key between the two presses starts over.
    press(&mut cursor, KeyCode::Char('d'), &shown, 0);
    press(&mut cursor, KeyCode::Down, &shown, 0);
    assert!(matches!(
        press(&mut cursor, KeyCode::Char('d'), &shown, 0),
        Handled::Notice(_)
    ));
    // An empty window has nothing to delete or move.
    let empty = view(Vec::new());
    assert!(matches!(
        press(&mut cursor, KeyCode::Char('d'), &empty, 0),
        Handled::Notice(_)
    ));
    assert!(matches!(
        press(&mut cursor, KeyCode::Char('L'), &empty, 0),
        Handled::Notice(_)
    ));
}

#[test]
fn the_form_turns_the_viewers_time_into_utc() {
    let command = add_event(
        WindowId(1),
        &["Lunch", "2026-12-08", "12:00", "13:30"],
        3600,
    )
    .unwrap();
    assert_eq!(
        command,
        Command::AddCalendarEvent {
            window_id: WindowId(1),
            title: "Lunch".into(),
            start: "2026-12-08T11:00:00Z".into(),
            end: "2026-12-08T12:30:00Z".into(),
        }
    );
    assert!(add_event(WindowId(1), &["Lunch", "2026-12-32", "12:00", "13:00"], 0).is_err());
    assert!(add_event(WindowId(1), &["Lunch", "2026-12-08", "25:00", "13:00"], 0).is_err());
    let backwards = add_event(WindowId(1), &["Lunch", "2026-12-08", "13:00", "12:00"], 0);
    assert_eq!(backwards, Err("the event must end after it starts".into()));
}
