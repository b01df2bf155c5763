//! Properties of the reducer: live application equals replay, a snapshot plus the tail equals
//! the full replay, and the desktop's invariants hold whatever the events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod samples;

use choir_proto::{
    decide, AppKind, CallId, ChatThread, Command, DocId, Event, EventBody, Rect, TextOp, ThreadId,
    ThreadPage, WindowId, World, WELCOME_CHAT_BYTES,
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
        (window_id(), proptest::option::of(rect()))
            .prop_map(|(window_id, area)| EventBody::WindowMaximized { window_id, area }),
        window_id().prop_map(|window_id| EventBody::WindowUnmaximized { window_id }),
        window_id().prop_map(|window_id| EventBody::WindowClosed { window_id }),
        (thread.clone(), "[a-z]{0,6}")
            .prop_map(|(thread_id, title)| EventBody::ChatThreadCreated { thread_id, title }),
        (thread.clone(), ".{0,12}")
            .prop_map(|(thread_id, text)| EventBody::ChatUserMessage { thread_id, text }),
        (thread.clone(), ".{0,12}").prop_map(|(thread_id, text)| EventBody::ChatAssistantMessage {
            thread_id,
            text,
            ending: None,
            tool_calls: Vec::new()
        }),
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
                preview: None,
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

/// Events with chat messages of up to 9,000 characters, and chat windows showing threads.
fn long_chats() -> impl Strategy<Value = Vec<Event>> {
    let thread = (1u64..5).prop_map(ThreadId);
    let body = prop_oneof![
        2 => (thread.clone(), 0usize..9000).prop_map(|(thread_id, len)| EventBody::ChatUserMessage {
            thread_id,
            text: "m".repeat(len),
        }),
        1 => thread.clone().prop_map(|thread_id| EventBody::ChatThreadCreated { thread_id, title: "t".into() }),
        1 => (1u64..5, rect()).prop_map(|(id, rect)| EventBody::WindowOpened {
            window_id: WindowId(id),
            app: AppKind::Chat,
            title: "chat".into(),
            rect,
        }),
        1 => (1u64..5).prop_map(|id| EventBody::WindowFocused { window_id: WindowId(id) }),
        1 => (1u64..5).prop_map(|id| EventBody::WindowClosed { window_id: WindowId(id) }),
        1 => event_body(),
    ];
    prop::collection::vec(body, 0..60).prop_map(|bodies| {
        bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| samples::event(i as u64 + 1, body))
            .collect()
    })
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
        1 => window_id().prop_map(|window_id| Command::ToggleMaximize { window_id, area: None }),
        1 => window_id().prop_map(|window_id| Command::CloseWindow { window_id }),
        1 => (0u16..20, 0u16..10, 0u16..250, 0u16..80)
            .prop_map(|(x, y, w, h)| Command::TileWindows { area: Rect::new(x, y, w, h) }),
        1 => (window_id(), any::<bool>(), 20u16..250, 8u16..80)
            .prop_map(|(window_id, stacked, w, h)| Command::SplitWindow { window_id, stacked, area: Rect::new(0, 0, w, h) }),
        1 => (20u16..250, 8u16..80)
            .prop_map(|(w, h)| Command::FitLayout { area: Rect::new(0, 0, w, h) }),
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

/// A split layout holds two windows or more, each once, each where the layout puts it (after
/// a command's events: between them a window may be on its way).
fn assert_layout_invariants(world: &World) {
    let desktop = &world.desktop;
    if let Some(layout) = &desktop.layout {
        let rects = layout.rects();
        assert!(rects.len() >= 2, "{layout:?}");
        let mut ids: Vec<WindowId> = rects.iter().map(|(id, _)| *id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rects.len(), "{layout:?}");
        for (id, rect) in rects {
            let window = desktop.window(id).expect("a window of the layout exists");
            assert_eq!(window.rect, rect, "{id} in {layout:?}");
        }
    }
}

/// A daemon's answer to a `thread.messages` query, from its log: the last `limit` messages
/// before `before`.
fn page(log: &[Event], thread_id: ThreadId, before: u64, limit: u32) -> ThreadPage {
    let older: Vec<Event> = log
        .iter()
        .filter(|event| event.seq < before)
        .cloned()
        .collect();
    let thread: ChatThread = match World::replay(&older).chats.get(&thread_id) {
        Some(thread) => thread.clone(),
        None => {
            return ThreadPage {
                thread_id,
                messages: Vec::new(),
                tools: Vec::new(),
                more: false,
            }
        }
    };
    let skip = thread.messages.len().saturating_sub(limit as usize);
    ThreadPage {
        thread_id,
        more: skip > 0,
        messages: thread.messages[skip..].to_vec(),
        tools: Vec::new(),
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

    /// What a daemon persists (a summary: threads trimmed, documents without text) plus the
    /// events after it gives what the full replay gives, as far as a summary shows.
    #[test]
    fn a_summary_plus_the_tail_equals_the_full_replay(
        events in events(),
        split in any::<prop::sample::Index>(),
        keep in 1usize..6,
    ) {
        let at = split.index(events.len() + 1);
        let mut resumed = via_json(&World::replay(&events[..at]).summary(keep));
        for event in &events[at..] {
            resumed.apply(event);
        }
        let full = World::replay(&events);
        prop_assert_eq!(resumed.summary(keep), full.summary(keep));
        for (id, thread) in &full.chats {
            prop_assert_eq!(resumed.chats[id].total, thread.total);
        }
    }

    /// A welcome carries at most its budget of chat text; with the events after it, it gives
    /// the full replay's summary, and each thread holds the latest of its messages.
    #[test]
    fn a_welcome_plus_the_tail_holds_the_latest_messages_within_its_budget(
        events in long_chats(),
        split in any::<prop::sample::Index>(),
    ) {
        let at = split.index(events.len() + 1);
        let welcome = World::replay(&events[..at]).welcome();
        let text: usize = welcome
            .chats
            .values()
            .flat_map(|thread| &thread.messages)
            .map(|message| message.text.len())
            .sum();
        prop_assert!(text <= WELCOME_CHAT_BYTES, "{text} bytes of chat in a welcome");
        let mut resumed = via_json(&welcome);
        for event in &events[at..] {
            resumed.apply(event);
        }
        let full = World::replay(&events);
        prop_assert_eq!(resumed.summary(0), full.summary(0));
        for (id, thread) in &full.chats {
            let held = &resumed.chats[id].messages;
            prop_assert!(thread.messages.ends_with(held), "thread {} holds other messages", id);
        }
    }

    /// A client that got a welcome, then live messages and older pages in any interleaving,
    /// ends with every message of the thread exactly once, in order.
    #[test]
    fn paging_back_while_messages_arrive_holds_each_message_once(
        count in 0usize..60,
        welcome_at in any::<prop::sample::Index>(),
        keep in 0usize..8,
        steps in prop::collection::vec((any::<bool>(), 1u32..12), 0..200),
    ) {
        let thread_id = ThreadId(1);
        let mut log = vec![samples::event(1, EventBody::ChatThreadCreated { thread_id, title: "t".into() })];
        for i in 0..count {
            let body = if i % 3 == 2 {
                EventBody::ChatAssistantMessage { thread_id, text: format!("reply {i}"), ending: None, tool_calls: Vec::new() }
            } else {
                EventBody::ChatUserMessage { thread_id, text: format!("message {i}") }
            };
            log.push(samples::event(log.len() as u64 + 1, body));
        }
        let head = 1 + welcome_at.index(count + 1);
        let mut client = via_json(&World::replay(&log[..head]).summary(keep));
        let mut delivered = head;
        for (live, limit) in steps {
            if live && delivered < log.len() {
                client.apply(&log[delivered]);
                delivered += 1;
            } else {
                // The daemon answers from what it has committed, which is at least what it sent.
                let before = client.chats[&thread_id].page_before();
                client.prepend_page(page(&log, thread_id, before, limit));
            }
        }
        for event in &log[delivered..] {
            client.apply(event);
        }
        while client.chats[&thread_id].older() > 0 {
            let before = client.chats[&thread_id].page_before();
            client.prepend_page(page(&log, thread_id, before, 5));
        }
        let all = World::replay(&log).chats[&thread_id].messages.clone();
        prop_assert_eq!(&client.chats[&thread_id].messages, &all);
        prop_assert_eq!(client.chats[&thread_id].total, all.len() as u64);
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
            assert_layout_invariants(&live);
        }
        prop_assert_eq!(World::replay(&log), live);
    }
}
