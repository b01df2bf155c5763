//! App windows in the desktop: a view tree folded from `app.view_shown` drawn as cells, the
//! shared keys and clicks sending the app its inputs, the capability prompt answered with
//! `y`, a stopped app said.

use super::*;
use choir_proto::apps::{AppInput, Capability, Color, Span, SpanStyle, ViewNode, ViewTree};
use pretty_assertions::assert_eq;

const APP: WindowId = WindowId(1);

fn timer_view(clock: &str) -> ViewTree {
    ViewTree {
        nodes: vec![
            ViewNode::Column {
                children: vec![1, 2, 5, 6],
            },
            ViewNode::Text {
                spans: vec![Span {
                    text: format!("Pomodoro  {clock}"),
                    style: SpanStyle {
                        fg: Color::Green,
                        bold: true,
                        ..SpanStyle::default()
                    },
                }],
            },
            ViewNode::Row {
                children: vec![3, 4],
            },
            ViewNode::Button {
                id: "start".into(),
                label: "Start".into(),
            },
            ViewNode::Button {
                id: "reset".into(),
                label: "Reset".into(),
            },
            ViewNode::Input {
                id: "note".into(),
                value: String::new(),
                placeholder: "what for?".into(),
            },
            ViewNode::Table {
                header: vec!["hour".into(), "calls".into()],
                rows: vec![vec!["09:00".into(), "3".into()]],
            },
        ],
        tick_after_ms: Some(1000),
    }
}

fn with_timer() -> Harness {
    let mut h = Harness::new(60, 14);
    h.commit(EventBody::AppBuilt {
        name: "timer".into(),
        version: "v1".into(),
        bytes: 1,
    });
    h.open(AppKind::App("timer".into()), Cells::new(0, 0, 40, 10));
    h.commit(EventBody::AppViewShown {
        window_id: APP,
        version: "v1".into(),
        view: timer_view("25:00"),
    });
    h
}

#[test]
fn an_app_windows_view_is_drawn_as_cells() {
    let h = with_timer();
    insta::assert_snapshot!(h.screen());
}

#[test]
fn keys_and_clicks_reach_the_app_as_inputs() {
    let mut h = with_timer();
    h.bytes(b"\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::SendAppInput {
            window_id: APP,
            input: AppInput::Click { id: "start".into() }
        }]
    );
    // Tab twice to the field, type, Enter sends what was typed.
    h.bytes(b"\t\tdeep work\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::SendAppInput {
            window_id: APP,
            input: AppInput::Submit {
                id: "note".into(),
                value: "deep work".into()
            }
        }]
    );
    // The Reset button is on the window's third row, its right half.
    h.click(25, 2);
    assert_eq!(
        h.take_sent(),
        vec![Command::SendAppInput {
            window_id: APP,
            input: AppInput::Click { id: "reset".into() }
        }]
    );
}

#[test]
fn a_capability_asked_is_answered_with_y_and_a_stopped_app_is_said() {
    let mut h = with_timer();
    h.commit(EventBody::AppCapabilityAsked {
        name: "timer".into(),
        capability: Capability::Store,
    });
    assert!(
        h.screen().contains("timer asks to keep its own data"),
        "{}",
        h.screen()
    );
    // Not at once: a question takes an answer once it has been shown a second.
    h.bytes(b"y");
    assert_eq!(h.take_sent(), vec![]);
    assert!(h.screen().contains("shown a second"), "{}", h.screen());
    std::thread::sleep(std::time::Duration::from_millis(1050));
    h.bytes(b"y");
    assert_eq!(
        h.take_sent(),
        vec![Command::AnswerAppCapability {
            name: "timer".into(),
            capability: Capability::Store,
            granted: true
        }]
    );
    assert!(!h.screen().contains("asks to"), "{}", h.screen());
    h.commit(EventBody::AppFailed {
        window_id: APP,
        error: "the app ran out of fuel (200000000 instructions in one call): a loop that does not end?".into(),
    });
    let screen = h.screen();
    assert!(screen.contains("ran out of fuel"), "{screen}");
    assert!(screen.contains("starts it again"), "{screen}");
}
