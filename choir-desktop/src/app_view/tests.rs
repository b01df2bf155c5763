use super::*;
use crate::key::Mods;
use choir_proto::apps::{Capability, Color};
use choir_proto::World;
use proptest::prelude::*;

fn text(t: &str) -> ViewNode {
    ViewNode::Text {
        spans: vec![Span::plain(t)],
    }
}

fn button(id: &str) -> ViewNode {
    ViewNode::Button {
        id: id.into(),
        label: id.to_uppercase(),
    }
}

/// A column: a title, a row of two buttons, a field, a list.
fn sample() -> ViewTree {
    ViewTree {
        nodes: vec![
            ViewNode::Column {
                children: vec![1, 2, 5, 6],
            },
            text("Pomodoro"),
            ViewNode::Row {
                children: vec![3, 4],
            },
            button("start"),
            button("reset"),
            ViewNode::Input {
                id: "name".into(),
                value: "ab".into(),
                placeholder: String::new(),
            },
            ViewNode::List {
                id: "items".into(),
                items: vec![vec![Span::plain("one")], vec![Span::plain("two")]],
                selected: Some(0),
            },
        ],
        tick_after_ms: None,
    }
}

const W: WindowId = WindowId(4);

fn sent(handled: Handled) -> AppInput {
    match handled {
        Handled::Send(Command::SendAppInput { window_id, input }) => {
            assert_eq!(window_id, W);
            input
        }
        other => panic!("not an input: {other:?}"),
    }
}

#[test]
fn layout_stacks_columns_and_shares_rows() {
    let placed = layout(&sample(), 20);
    let at = |node: u32| *placed.iter().find(|p| p.node == node).unwrap();
    assert_eq!(
        at(1),
        Placed {
            node: 1,
            x: 0,
            y: 0,
            w: 20,
            h: 1
        }
    );
    assert_eq!(
        at(3),
        Placed {
            node: 3,
            x: 0,
            y: 1,
            w: 10,
            h: 1
        }
    );
    assert_eq!(
        at(4),
        Placed {
            node: 4,
            x: 10,
            y: 1,
            w: 10,
            h: 1
        }
    );
    assert_eq!(at(5).y, 2);
    assert_eq!(
        at(6),
        Placed {
            node: 6,
            x: 0,
            y: 3,
            w: 20,
            h: 2
        }
    );
    assert_eq!(height(&sample(), 20), 5);
    // An odd width gives the remainder to the last.
    let placed = layout(&sample(), 21);
    assert_eq!(placed.iter().find(|p| p.node == 4).unwrap().w, 11);
}

#[test]
fn tab_moves_the_focus_in_the_views_order_and_enter_presses() {
    let tree = sample();
    let mut view = AppView::default();
    assert_eq!(focus_order(&tree), vec![3, 4, 5, 6]);
    assert_eq!(view.focused(&tree), Some(3));
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Enter))),
        AppInput::Click { id: "start".into() }
    );
    assert_eq!(
        view.on_key(W, &tree, Key::plain(KeyCode::Tab)),
        Handled::Yes
    );
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Enter))),
        AppInput::Click { id: "reset".into() }
    );
    // Back past the first is the last.
    view.on_key(W, &tree, Key::plain(KeyCode::BackTab));
    view.on_key(W, &tree, Key::plain(KeyCode::BackTab));
    assert_eq!(view.focused(&tree), Some(6));
}

#[test]
fn typing_into_a_field_then_enter_sends_its_text() {
    let tree = sample();
    let mut view = AppView::default();
    view.click(W, &tree, 5, None);
    for c in "c✓".chars() {
        assert_eq!(
            view.on_key(W, &tree, Key::plain(KeyCode::Char(c))),
            Handled::Yes
        );
    }
    view.on_key(W, &tree, Key::plain(KeyCode::Backspace));
    assert_eq!(view.field_text("name", "ab"), "abc");
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Enter))),
        AppInput::Submit {
            id: "name".into(),
            value: "abc".into()
        }
    );
    // Sent, the field shows the app's value again.
    assert_eq!(view.field_text("name", "ab"), "ab");
}

#[test]
fn arrows_select_in_a_list_and_a_click_selects_an_item() {
    let tree = sample();
    let mut view = AppView::default();
    view.click(W, &tree, 6, None);
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Down))),
        AppInput::Select {
            id: "items".into(),
            index: 1
        }
    );
    assert_eq!(
        sent(view.click(W, &tree, 6, Some(1))),
        AppInput::Select {
            id: "items".into(),
            index: 1
        }
    );
    assert_eq!(view.click(W, &tree, 6, Some(9)), Handled::Yes);
    assert_eq!(
        sent(view.click(W, &tree, 4, None)),
        AppInput::Click { id: "reset".into() }
    );
}

#[test]
fn other_keys_go_to_the_app_by_name() {
    let tree = ViewTree::text("no widgets");
    let mut view = AppView::default();
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Char(' ')))),
        AppInput::Key { key: " ".into() }
    );
    assert_eq!(
        sent(view.on_key(W, &tree, Key::ctrl('x'))),
        AppInput::Key { key: "C-x".into() }
    );
    let alt_up = Key {
        code: KeyCode::Up,
        mods: Mods::ALT,
    };
    assert_eq!(key_name(alt_up).as_deref(), Some("M-Up"));
    assert_eq!(
        view.on_key(W, &tree, Key::plain(KeyCode::PageDown)),
        Handled::Yes
    );
    assert_eq!(view.scroll, 10);
}

#[test]
fn wrapping_keeps_styles_and_breaks_at_spaces() {
    let bold = SpanStyle {
        bold: true,
        fg: Color::Red,
        ..SpanStyle::default()
    };
    let spans = vec![
        Span::plain("one two "),
        Span {
            text: "three".into(),
            style: bold,
        },
    ];
    let lines = wrap(&spans, 9);
    let plain: Vec<String> = lines
        .iter()
        .map(|line| line.iter().map(|(t, _)| t.as_str()).collect())
        .collect();
    assert_eq!(plain, vec!["one two ", "three"]);
    assert_eq!(lines[1], vec![("three".to_owned(), bold)]);
    assert_eq!(wrap(&[Span::plain("a\nb")], 10).len(), 2);
    assert_eq!(wrap(&[], 10), vec![Vec::new()]);
}

#[test]
fn table_columns_fit_the_width() {
    let header = vec!["tool".to_owned(), "calls".to_owned()];
    let rows = vec![vec![
        "read_file_with_a_long_name".to_owned(),
        "3".to_owned(),
    ]];
    assert_eq!(column_widths(&header, &rows, 40), vec![26, 5]);
    let narrow = column_widths(&header, &rows, 12);
    assert!(narrow.iter().sum::<u16>() < 12, "{narrow:?}");
}

fn arbitrary_tree() -> impl Strategy<Value = ViewTree> {
    // Node i's children are later nodes; a node is a leaf or a container.
    (1usize..24).prop_flat_map(|count| {
        proptest::collection::vec(
            (
                0u8..5,
                proptest::collection::vec(0usize..24, 0..4),
                "[a-z ]{0,30}",
            ),
            count,
        )
        .prop_map(move |specs| {
            let mut parented = vec![false; specs.len()];
            let nodes = specs
                .into_iter()
                .enumerate()
                .map(|(index, (kind, children, words))| {
                    let mut kids = Vec::new();
                    for child in children {
                        if child > index && child < count && !parented[child] {
                            parented[child] = true;
                            kids.push(child as u32);
                        }
                    }
                    match kind {
                        0 => ViewNode::Column { children: kids },
                        1 => ViewNode::Row { children: kids },
                        2 => text(&words),
                        3 => button(&words),
                        _ => ViewNode::List {
                            id: "l".into(),
                            items: words.split(' ').map(|w| vec![Span::plain(w)]).collect(),
                            selected: None,
                        },
                    }
                })
                .collect();
            ViewTree {
                nodes,
                tick_after_ms: None,
            }
        })
    })
}

proptest! {
    #[test]
    fn every_leaf_lands_inside_the_width_once_without_overlapping(tree in arbitrary_tree(), width in 1u16..60) {
        prop_assert!(tree.check().is_ok());
        let placed = layout(&tree, width);
        let mut seen = std::collections::BTreeSet::new();
        for p in &placed {
            prop_assert!(seen.insert(p.node), "node {} placed twice", p.node);
            prop_assert!(p.x + p.w <= width, "{p:?} beyond {width}");
        }
        for (i, a) in placed.iter().enumerate() {
            for b in &placed[i + 1..] {
                let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                prop_assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn wrapped_lines_fit_and_keep_every_letter(words in "[a-z ✓]{0,80}", width in 1u16..30) {
        let lines = wrap(&[Span::plain(words.clone())], width);
        let mut letters = String::new();
        for line in &lines {
            let text: String = line.iter().map(|(t, _)| t.as_str()).collect();
            prop_assert!(text.chars().map(|c| c.width().unwrap_or(0)).sum::<usize>() <= usize::from(width));
            letters.push_str(&text);
        }
        let strip = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
        prop_assert_eq!(strip(&letters), strip(&words));
    }
}

fn world_with_asks(asked: Vec<Capability>, call: Option<&str>) -> World {
    use choir_proto::{CallId, InstalledApp, PendingToolCall, ToolCallStatus};
    let mut world = World::default();
    world.apps.insert(
        "timer".into(),
        InstalledApp {
            name: "timer".into(),
            version: "v1".into(),
            bytes: 1,
            built_at: 1,
            answers: Vec::new(),
            asked,
            store: Default::default(),
        },
    );
    world.app_windows.insert(
        W,
        choir_proto::AppWindow {
            window_id: W,
            name: "timer".into(),
            version: "v1".into(),
            view: None,
            shown_at: 1,
            problem: None,
        },
    );
    if let Some(id) = call {
        world.pending_tools.insert(
            CallId(id.into()),
            PendingToolCall {
                call_id: CallId(id.into()),
                tool: "bash".into(),
                args: serde_json::json!({ "command": "date" }),
                thread_id: None,
                status: ToolCallStatus::AwaitingApproval,
                requested_seq: 2,
            },
        );
    }
    world
}

#[test]
fn y_grants_and_n_refuses_the_first_capability_asked() {
    let world = world_with_asks(vec![Capability::Store, Capability::ReadLog], None);
    let ask = Ask::of(&world, W).unwrap();
    assert_eq!(
        ask.key(Key::plain(KeyCode::Char('y'))),
        Handled::Send(Command::AnswerAppCapability {
            name: "timer".into(),
            capability: Capability::Store,
            granted: true
        })
    );
    assert!(matches!(
        ask.key(Key::plain(KeyCode::Char('n'))),
        Handled::Send(Command::AnswerAppCapability { granted: false, .. })
    ));
    assert_eq!(ask.key(Key::plain(KeyCode::Char('x'))), Handled::No);
    assert_eq!(ask.key(Key::ctrl('y')), Handled::No);
    assert_eq!(
        ask.prompt(),
        "timer asks to keep its own data — y allow · n refuse"
    );
    assert_eq!(Ask::of(&world_with_asks(Vec::new(), None), W), None);
}

#[test]
fn a_tool_call_of_the_window_is_approved_with_y_and_another_windows_is_not_asked() {
    let call = format!("{}abc", call_prefix(W));
    let world = world_with_asks(Vec::new(), Some(&call));
    let ask = Ask::of(&world, W).unwrap();
    assert_eq!(
        ask.prompt(),
        "timer asks to run bash {\"command\":\"date\"} — y approve · n deny"
    );
    assert_eq!(
        ask.key(Key::plain(KeyCode::Char('y'))),
        Handled::Send(Command::ApproveTool {
            call_id: choir_proto::CallId(call.clone())
        })
    );
    assert!(matches!(
        ask.key(Key::plain(KeyCode::Char('n'))),
        Handled::Send(Command::DenyTool { .. })
    ));
    // A call of window 40 is not window 4's, though its id begins with "app-4".
    let other = format!("{}abc", call_prefix(WindowId(40)));
    assert_eq!(Ask::of(&world_with_asks(Vec::new(), Some(&other)), W), None);
}

#[test]
fn a_question_is_answered_only_once_shown_a_second_and_never_from_a_field() {
    let world = world_with_asks(vec![Capability::Store], None);
    let ask = Ask::of(&world, W).unwrap();
    let view = AppView::default();
    let y = Key::plain(KeyCode::Char('y'));
    // Shown at 10 s: a `y` at 10.5 s is not an answer yet; at 11 s it is.
    assert_eq!(view.showing(&ask, 10_000), 10_000);
    assert!(matches!(
        view.answer_key(None, &ask, y, 10_500),
        Handled::Notice(_)
    ));
    assert!(matches!(
        view.answer_click(&ask, true, 10_500),
        Handled::Notice(_)
    ));
    assert_eq!(
        view.showing(&ask, 10_900),
        10_000,
        "the same question keeps its time"
    );
    assert_eq!(
        view.answer_key(None, &ask, y, 11_000),
        Handled::Send(ask.answer(true))
    );
    assert_eq!(
        view.answer_click(&ask, false, 11_000),
        Handled::Send(ask.answer(false))
    );
    // Another question starts again.
    let other = Ask::of(&world_with_asks(vec![Capability::ReadLog], None), W).unwrap();
    assert!(matches!(
        view.answer_key(None, &other, y, 11_000),
        Handled::Notice(_)
    ));
    // With a field focused, `y` is typed there.
    let tree = sample();
    let mut typing = AppView::default();
    typing.click(W, &tree, 5, None);
    typing.showing(&ask, 0);
    assert_eq!(typing.answer_key(Some(&tree), &ask, y, 60_000), Handled::No);
}

#[test]
fn list_keys_stay_in_the_list_whatever_the_app_says_is_selected() {
    let tree = ViewTree {
        nodes: vec![ViewNode::List {
            id: "l".into(),
            items: vec![vec![Span::plain("a")], vec![Span::plain("b")]],
            selected: Some(u32::MAX),
        }],
        tick_after_ms: None,
    };
    let mut view = AppView::default();
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Down))),
        AppInput::Select {
            id: "l".into(),
            index: 1
        }
    );
    assert_eq!(
        sent(view.on_key(W, &tree, Key::plain(KeyCode::Up))),
        AppInput::Select {
            id: "l".into(),
            index: 0
        }
    );
}
