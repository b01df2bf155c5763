//! Properties of the reducer: live application equals replay, a snapshot plus the tail equals
//! the full replay, and the desktop's invariants hold whatever the events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod samples;

use choir_proto::{
    decide, AppKind, CallId, Command, DocId, Event, EventBody, Rect, TextOp, ThreadId, WindowId,
    World,
};
use pretty_assertions::assert_eq;
use proptest::prelude::*;
use serde_json::json;

fn window_id() -> impl Strategy<Value = WindowId> {
    (1u64..7).prop_map(WindowId)
}

fn rect() -> impl Strategy<Value = Rect> {
    (0u16..200, 0u16..60, 12u16..120, 4u16..50).prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
}

fn app() -> impl Strategy<Value = AppKind> {
    prop_oneof![
        Just(AppKind::Chat),
        Just(AppKind::Writer),
        Just(AppKind::EventLog),
        Just(AppKind::Other("clock".into())),
    ]
}

fn event_body() -> impl Strategy<Value = EventBody> {
    let thread = (1u64..4).prop_map(ThreadId);
    let doc = (1u64..4).prop_map(DocId);
    let call = (0u8..3).prop_map(|n| CallId(format!("call_{n}")));
    prop_oneof![
        (window_id(), app(), "[a-z ]{0,8}", rect()).prop_map(|(window_id, app, title, rect)| {
            EventBody::WindowOpened {
                window_id,
                app,
                title,
                rect,
            }
        }),
        (window_id(), 0u16..300, 0u16..100).prop_map(|(window_id, x, y)| EventBody::WindowMoved {
            window_id,
            x,
            y
        }),
        (window_id(), 12u16..200, 4u16..80)
            .prop_map(|(window_id, w, h)| EventBody::WindowResized { window_id, w, h }),
        window_id().prop_map(|window_id| EventBody::WindowFocused { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowMinimized { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowRestored { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowMaximized { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowUnmaximized { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowClosed { window_id }),
        (thread.clone(), "[a-z]{0,6}")
            .prop_map(|(thread_id, title)| EventBody::ChatThreadCreated { thread_id, title }),
        (thread.clone(), ".{0,12}")
            .prop_map(|(thread_id, text)| EventBody::ChatUserMessage { thread_id, text }),
        (thread.clone(), ".{0,12}")
            .prop_map(|(thread_id, text)| EventBody::ChatAssistantMessage { thread_id, text }),
        thread
            .clone()
            .prop_map(|thread_id| EventBody::ChatTurnStarted { thread_id }),
        thread
            .clone()
            .prop_map(|thread_id| EventBody::ChatTurnCompleted { thread_id }),
        thread
            .clone()
            .prop_map(|thread_id| EventBody::ChatTurnCancelled { thread_id }),
        thread.prop_map(|thread_id| EventBody::ChatTurnFailed {
            thread_id,
            error: "x".into()
        }),
        (doc.clone(), "[a-z]{0,6}", ".{0,20}").prop_map(|(doc_id, title, content)| {
            EventBody::DocCreated {
                doc_id,
                title,
                content,
            }
        }),
        (doc.clone(), "[a-z]{0,6}")
            .prop_map(|(doc_id, title)| EventBody::DocRenamed { doc_id, title }),
        (doc.clone(), 1u64..4, "[a-z]{0,3}", 0usize..12).prop_map(
            |(doc_id, version, text, keep)| EventBody::DocEdited {
                doc_id,
                version,
                op: TextOp::new().insert(&text).retain(keep),
                edit_id: None,
            }
        ),
        doc.clone()
            .prop_map(|doc_id| EventBody::DocDeleted { doc_id }),
        (window_id(), prop::option::of(doc))
            .prop_map(|(window_id, doc_id)| EventBody::WriterDocShown { window_id, doc_id }),
        (call.clone(), any::<bool>()).prop_map(|(call_id, needs_approval)| {
            EventBody::ToolRequested {
                call_id,
                tool: "bash".into(),
                args: json!({"cmd": "ls"}),
                thread_id: Some(ThreadId(1)),
                needs_approval,
            }
        }),
        call.clone()
            .prop_map(|call_id| EventBody::ToolApproved { call_id }),
        call.clone().prop_map(|call_id| EventBody::ToolDenied {
            call_id,
            reason: "no".into()
        }),
        call.clone().prop_map(|call_id| EventBody::ToolStarted {
            call_id,
            tool: "bash".into(),
            args: json!({}),
            thread_id: Some(ThreadId(2)),
        }),
        call.prop_map(|call_id| EventBody::ToolFinished {
            call_id,
            ok: true,
            exit_code: Some(0),
            output: String::new(),
            duration_ms: 1,
        }),
        Just(EventBody::Unknown {
            type_name: "future.x".into(),
            data: json!(1)
        }),
    ]
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(event_body(), 0..80).prop_map(|bodies| {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| samples::event(i as u64 + 1, body))
            .collect()
    })
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (app(), prop::option::of(rect()))
            .prop_map(|(app, rect)| Command::OpenWindow { app, title: None, rect }),
        1 => (window_id(), 0u16..300, 0u16..100)
            .prop_map(|(window_id, x, y)| Command::MoveWindow { window_id, x, y }),
        1 => (window_id(), 0u16..200, 0u16..80)
            .prop_map(|(window_id, w, h)| Command::ResizeWindow { window_id, w, h }),
        1 => window_id().prop_map(|window_id| Command::FocusWindow { window_id }),
        1 => window_id().prop_map(|window_id| Command::MinimizeWindow { window_id }),
        1 => window_id().prop_map(|window_id| Command::RestoreWindow { window_id }),
        1 => window_id().prop_map(|window_id| Command::ToggleMaximize { window_id }),
        1 => window_id().prop_map(|window_id| Command::CloseWindow { window_id }),
        1 => (0u16..20, 0u16..10, 0u16..250, 0u16..80)
            .prop_map(|(x, y, w, h)| Command::TileWindows { area: Rect::new(x, y, w, h) }),
        1 => ((1u64..7).prop_map(ThreadId), "[a-z ]{0,6}")
            .prop_map(|(thread_id, text)| Command::PostChat { thread_id, text }),
        1 => (1u64..7).prop_map(|id| Command::CancelTurn { thread_id: ThreadId(id) }),
        1 => (0u8..3).prop_map(|n| Command::ApproveTool { call_id: CallId(format!("call_{n}")) }),
        1 => (0u8..3).prop_map(|n| Command::DenyTool { call_id: CallId(format!("call_{n}")), reason: None }),
        1 => ("[a-z ]{0,6}", "[a-z\n]{0,8}", any::<bool>(), prop::option::of(window_id()))
            .prop_map(|(title, content, open, window_id)| Command::CreateDoc { title, content, open, window_id }),
        3 => (1u64..4, 0u64..5, 0usize..10, 0usize..10, 0usize..3, "[a-z]{0,3}", prop::option::of("[a-c]"))
            .prop_map(|(doc, base_version, len, start, delete, text, edit_id)| Command::EditDoc {
                doc_id: DocId(doc),
                base_version,
                op: TextOp::splice(len, start.min(len), start + delete, &text),
                edit_id,
            }),
        1 => ((1u64..4).prop_map(DocId), "[a-z]{0,4}")
            .prop_map(|(doc_id, title)| Command::RenameDoc { doc_id, title }),
        1 => (1u64..4).prop_map(|id| Command::DeleteDoc { doc_id: DocId(id) }),
        1 => (window_id(), prop::option::of((1u64..4).prop_map(DocId)))
            .prop_map(|(window_id, doc_id)| Command::ShowDoc { window_id, doc_id }),
    ]
}

/// z-order holds every window once; the focused window is the topmost visible one.
fn assert_desktop_invariants(world: &World) {
    let desktop = &world.desktop;
    let mut in_z = desktop.z_order.clone();
    in_z.sort();
    let keys: Vec<WindowId> = desktop.windows.keys().copied().collect();
    assert_eq!(in_z, keys, "z-order must hold every window exactly once");
    let top_visible = desktop.visible().next_back().map(|window| window.id);
    assert_eq!(
        desktop.focused, top_visible,
        "focus must be the topmost visible window"
    );
    if let Some(max) = desktop.windows.keys().max() {
        assert!(desktop.next_window_id > max.0);
    }
}

fn via_json(world: &World) -> World {
    serde_json::from_str(&serde_json::to_string(world).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn live_apply_equals_replay(events in events()) {
        let mut live = World::default();
        for event in &events {
            live.apply(event);
            assert_desktop_invariants(&live);
        }
        prop_assert_eq!(&live, &World::replay(&events));
        prop_assert_eq!(live.head, events.len() as u64);
    }

    #[test]
    fn snapshot_plus_tail_equals_full_replay(events in events(), split in any::<prop::sample::Index>()) {
        let at = split.index(events.len() + 1);
        let mut resumed = via_json(&World::replay(&events[..at]));
        for event in &events[at..] {
            resumed.apply(event);
        }
        prop_assert_eq!(resumed, World::replay(&events));
    }

    #[test]
    fn decided_events_change_the_world_and_replay_to_it(commands in prop::collection::vec(command(), 0..60)) {
        let mut live = World::default();
        let mut log = Vec::new();
        for command in &commands {
            let Ok(bodies) = decide(&live, command) else { continue };
            for body in bodies {
                let before = live.clone();
                let event = samples::event(log.len() as u64 + 1, body);
                live.apply(&event);
                let mut changed = live.clone();
                changed.head = before.head;
                prop_assert_ne!(&changed, &before, "{:?} changed nothing", event.body);
                assert_desktop_invariants(&live);
                log.push(event);
            }
        }
        prop_assert_eq!(World::replay(&log), live);
    }
}
