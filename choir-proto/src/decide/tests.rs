//! Given these events, when this command, then these events or this rejection.

use super::*;
use crate::app_kind::AppKind;
use crate::event::Event;
use crate::ids::{DocId, ThreadId};

fn given(bodies: Vec<EventBody>) -> World {
    let mut world = World::default();
    for (i, body) in bodies.into_iter().enumerate() {
        world.apply(&Event {
            seq: i as u64 + 1,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        });
    }
    world
}

fn opened(id: u64) -> EventBody {
    EventBody::WindowOpened {
        window_id: WindowId(id),
        app: AppKind::Chat,
        title: format!("w{id}"),
        rect: Rect::new(0, 0, 40, 10),
    }
}

#[test]
fn open_assigns_the_next_id_and_cascades() {
    let world = given(vec![
        opened(1),
        EventBody::WindowClosed {
            window_id: WindowId(1),
        },
    ]);
    let command = Command::OpenWindow {
        app: AppKind::Writer,
        title: None,
        rect: None,
    };
    assert_eq!(
        decide(&world, &command),
        Ok(vec![EventBody::WindowOpened {
            window_id: WindowId(2),
            app: AppKind::Writer,
            title: "Writer".into(),
            rect: Rect::new(2, 1, 60, 16),
        }])
    );
}

#[test]
fn open_refuses_bad_geometry_and_long_titles() {
    let world = World::default();
    let tiny = Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: Some(Rect::new(0, 0, 3, 3)),
    };
    assert!(matches!(
        decide(&world, &tiny),
        Err(Rejection::InvalidGeometry(_))
    ));
    let far = Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: Some(Rect::new(MAX_WINDOW_COORD + 1, 0, 20, 5)),
    };
    assert!(matches!(
        decide(&world, &far),
        Err(Rejection::InvalidGeometry(_))
    ));
    let long = Command::OpenWindow {
        app: AppKind::Chat,
        title: Some("x".repeat(MAX_TITLE_CHARS + 1)),
        rect: None,
    };
    assert_eq!(decide(&world, &long), Err(Rejection::TitleTooLong));
}

#[test]
fn open_refuses_past_the_window_limit() {
    let world = given((1..=MAX_WINDOWS as u64).map(opened).collect());
    let command = Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: None,
    };
    assert_eq!(decide(&world, &command), Err(Rejection::TooManyWindows));
}

#[test]
fn commands_on_missing_windows_are_not_found() {
    let world = given(vec![opened(1)]);
    let command = Command::CloseWindow {
        window_id: WindowId(9),
    };
    let rejection = decide(&world, &command).unwrap_err();
    assert_eq!(rejection, Rejection::UnknownWindow(WindowId(9)));
    assert_eq!(rejection.code(), ErrorCode::NotFound);
}

#[test]
fn no_op_commands_produce_no_events() {
    let world = given(vec![opened(1)]);
    let id = WindowId(1);
    for command in [
        Command::MoveWindow {
            window_id: id,
            x: 0,
            y: 0,
        },
        Command::ResizeWindow {
            window_id: id,
            w: 40,
            h: 10,
        },
        Command::FocusWindow { window_id: id },
        Command::RestoreWindow { window_id: id },
    ] {
        assert_eq!(decide(&world, &command), Ok(vec![]), "{command:?}");
    }
}

#[test]
fn focusing_a_minimized_window_restores_it() {
    let world = given(vec![
        opened(1),
        opened(2),
        EventBody::WindowMinimized {
            window_id: WindowId(1),
        },
    ]);
    assert_eq!(
        decide(
            &world,
            &Command::FocusWindow {
                window_id: WindowId(1)
            }
        ),
        Ok(vec![EventBody::WindowRestored {
            window_id: WindowId(1)
        }])
    );
}

#[test]
fn maximize_toggles_and_restore_unmaximizes() {
    let id = WindowId(1);
    let world = given(vec![opened(1)]);
    assert_eq!(
        decide(
            &world,
            &Command::ToggleMaximize {
                window_id: id,
                area: None
            }
        ),
        Ok(vec![EventBody::WindowMaximized {
            window_id: id,
            area: None
        }])
    );
    let world = given(vec![
        opened(1),
        EventBody::WindowMaximized {
            window_id: id,
            area: None,
        },
    ]);
    assert_eq!(
        decide(
            &world,
            &Command::ToggleMaximize {
                window_id: id,
                area: None
            }
        ),
        Ok(vec![EventBody::WindowUnmaximized { window_id: id }])
    );
    assert_eq!(
        decide(&world, &Command::RestoreWindow { window_id: id }),
        Ok(vec![EventBody::WindowUnmaximized { window_id: id }])
    );
}

#[test]
fn closing_the_focused_window_focuses_the_next_visible_one() {
    let world = given(vec![
        opened(1),
        opened(2),
        opened(3),
        EventBody::WindowMinimized {
            window_id: WindowId(2),
        },
        EventBody::WindowClosed {
            window_id: WindowId(3),
        },
    ]);
    assert_eq!(world.desktop.focused, Some(WindowId(1)));
    assert_eq!(world.desktop.z_order, vec![WindowId(1), WindowId(2)]);
}

#[test]
fn opening_a_chat_window_creates_its_thread() {
    let world = given(vec![opened(1)]);
    let command = Command::OpenWindow {
        app: AppKind::Chat,
        title: Some("Ideas".into()),
        rect: None,
    };
    let events = decide(&world, &command).unwrap();
    assert_eq!(
        events[1..],
        [EventBody::ChatThreadCreated {
            thread_id: ThreadId(2),
            title: "Ideas".into()
        }]
    );
}

#[test]
fn posting_needs_an_existing_thread_and_some_text() {
    let world = given(vec![EventBody::ChatThreadCreated {
        thread_id: ThreadId(4),
        title: "t".into(),
    }]);
    let post = |thread: u64, text: &str| {
        decide(
            &world,
            &Command::PostChat {
                thread_id: ThreadId(thread),
                text: text.into(),
            },
        )
    };
    assert_eq!(
        post(4, "hi"),
        Ok(vec![EventBody::ChatUserMessage {
            thread_id: ThreadId(4),
            text: "hi".into()
        }])
    );
    assert_eq!(post(5, "hi"), Err(Rejection::UnknownThread(ThreadId(5))));
    assert_eq!(post(4, "  \n"), Err(Rejection::EmptyMessage));
    assert_eq!(
        post(4, &"x".repeat(MAX_CHAT_CHARS + 1)),
        Err(Rejection::MessageTooLong)
    );
}

#[test]
fn tiling_fills_the_area_with_a_grid_of_visible_windows() {
    let world = given(vec![
        opened(1),
        opened(2),
        opened(3),
        opened(4),
        EventBody::WindowMinimized {
            window_id: WindowId(4),
        },
        EventBody::WindowMaximized {
            window_id: WindowId(1),
            area: None,
        },
    ]);
    let mut tiled = world.clone();
    let events = decide(
        &world,
        &Command::TileWindows {
            area: Rect::new(0, 0, 120, 40),
        },
    )
    .unwrap();
    for (i, body) in events.into_iter().enumerate() {
        tiled.apply(&Event {
            seq: 100 + i as u64,
            ts: 0,
            actor: "t".into(),
            correlation: None,
            v: 1,
            body,
        });
    }
    let rects: Vec<Rect> = (1..=3)
        .map(|id| tiled.desktop.windows[&WindowId(id)].rect)
        .collect();
    // Two columns on the first row, the third window alone across the second row.
    assert_eq!(
        rects,
        vec![
            Rect::new(0, 0, 60, 20),
            Rect::new(60, 0, 60, 20),
            Rect::new(0, 20, 120, 20)
        ]
    );
    assert!(!tiled.desktop.windows[&WindowId(1)].maximized);
    assert_eq!(
        tiled.desktop.windows[&WindowId(4)].rect,
        Rect::new(0, 0, 40, 10)
    );
    // Tiling again changes nothing.
    assert_eq!(
        decide(
            &tiled,
            &Command::TileWindows {
                area: Rect::new(0, 0, 120, 40)
            }
        ),
        Ok(vec![])
    );
}

#[test]
fn cancel_needs_a_running_turn() {
    let thread_id = ThreadId(2);
    let idle = given(vec![EventBody::ChatThreadCreated {
        thread_id,
        title: "t".into(),
    }]);
    assert_eq!(
        decide(&idle, &Command::CancelTurn { thread_id }),
        Err(Rejection::NothingToCancel(thread_id))
    );
    let busy = given(vec![
        EventBody::ChatThreadCreated {
            thread_id,
            title: "t".into(),
        },
        EventBody::ChatTurnStarted { thread_id },
    ]);
    assert_eq!(
        decide(&busy, &Command::CancelTurn { thread_id }),
        Ok(vec![EventBody::ChatCancelRequested { thread_id }])
    );
}

#[test]
fn approvals_need_a_call_that_waits_for_one() {
    use crate::ids::CallId;
    let call = |id: &str, needs_approval| EventBody::ToolRequested {
        call_id: CallId(id.into()),
        tool: "bash".into(),
        args: serde_json::json!({"cmd": "ls"}),
        thread_id: None,
        needs_approval,
        preview: None,
    };
    let world = given(vec![call("waiting", true), call("free", false)]);
    let approve = |id: &str| {
        decide(
            &world,
            &Command::ApproveTool {
                call_id: CallId(id.into()),
            },
        )
    };
    assert_eq!(
        approve("waiting"),
        Ok(vec![EventBody::ToolApproved {
            call_id: CallId("waiting".into())
        }])
    );
    assert_eq!(
        approve("free"),
        Err(Rejection::NotAwaitingApproval(CallId("free".into())))
    );
    assert_eq!(
        approve("gone"),
        Err(Rejection::UnknownCall(CallId("gone".into())))
    );
    assert_eq!(
        decide(
            &world,
            &Command::DenyTool {
                call_id: CallId("waiting".into()),
                reason: None
            }
        ),
        Ok(vec![EventBody::ToolDenied {
            call_id: CallId("waiting".into()),
            reason: "denied by the user".into()
        }])
    );
}

fn doc(id: u64, content: &str) -> EventBody {
    EventBody::DocCreated {
        doc_id: DocId(id),
        title: format!("doc {id}"),
        content: content.into(),
    }
}

fn edited(id: u64, version: u64, op: TextOp, edit_id: Option<&str>) -> EventBody {
    EventBody::DocEdited {
        doc_id: DocId(id),
        version,
        op,
        edit_id: edit_id.map(str::to_owned),
    }
}

#[test]
fn create_doc_with_open_shows_it_in_a_new_writer_window() {
    let world = given(vec![opened(1), doc(4, "")]);
    let events = decide(
        &world,
        &Command::CreateDoc {
            title: "  Plan ".into(),
            content: "# Plan\n".into(),
            open: true,
            window_id: None,
        },
    )
    .unwrap();
    assert_eq!(
        events,
        vec![
            EventBody::DocCreated {
                doc_id: DocId(5),
                title: "Plan".into(),
                content: "# Plan\n".into()
            },
            EventBody::WindowOpened {
                window_id: WindowId(2),
                app: AppKind::Writer,
                title: "Plan".into(),
                rect: Rect::new(6, 3, 60, 16),
            },
            EventBody::WriterDocShown {
                window_id: WindowId(2),
                doc_id: Some(DocId(5))
            },
        ]
    );
    let blank = Command::CreateDoc {
        title: " ".into(),
        content: String::new(),
        open: false,
        window_id: None,
    };
    assert_eq!(decide(&world, &blank), Err(Rejection::EmptyTitle));
}

#[test]
fn an_edit_against_an_old_version_is_rebased_over_later_edits() {
    // "ab" → v1 "Xab" (someone else), then an edit made against v0 appends "!".
    let world = given(vec![
        doc(1, "ab"),
        edited(1, 1, TextOp::new().insert("X").retain(2), Some("other-0")),
    ]);
    let late = Command::EditDoc {
        doc_id: DocId(1),
        base_version: 0,
        op: TextOp::new().retain(2).insert("!"),
        edit_id: Some("me-0".into()),
    };
    let events = decide(&world, &late).unwrap();
    assert_eq!(
        events,
        vec![edited(
            1,
            2,
            TextOp::new().retain(3).insert("!"),
            Some("me-0")
        )]
    );
    let after = given(vec![
        doc(1, "ab"),
        edited(1, 1, TextOp::new().insert("X").retain(2), Some("other-0")),
        events[0].clone(),
    ]);
    assert_eq!(
        after.docs[&DocId(1)].content.as_ref().unwrap().to_string(),
        "Xab!"
    );
    // The same tag again (a client resending after a reconnect) changes nothing.
    assert_eq!(decide(&after, &late), Ok(Vec::new()));
}

#[test]
fn bad_edits_are_refused_with_reasons() {
    let mut bodies = vec![doc(1, "")];
    for version in 1..=(crate::world::DOC_HISTORY as u64 + 2) {
        let len = version as usize - 1;
        bodies.push(edited(
            1,
            version,
            TextOp::new().retain(len).insert("x"),
            None,
        ));
    }
    let world = given(bodies);
    let doc = &world.docs[&DocId(1)];
    assert_eq!(doc.oldest_base(), 2);
    let edit = |base_version, op: TextOp| Command::EditDoc {
        doc_id: DocId(1),
        base_version,
        op,
        edit_id: None,
    };
    assert!(matches!(
        decide(&world, &edit(1, TextOp::new().retain(1).insert("y"))),
        Err(Rejection::StaleBase {
            base: 1,
            oldest: 2,
            ..
        })
    ));
    assert!(matches!(
        decide(&world, &edit(doc.version + 1, TextOp::new().insert("y"))),
        Err(Rejection::StaleBase { .. })
    ));
    assert_eq!(
        decide(&world, &edit(2, TextOp::new().retain(99).insert("y"))),
        Err(Rejection::EditDoesNotFit {
            doc_id: DocId(1),
            base: 2,
            expected: 99,
            actual: 2
        })
    );
    let missing = Command::EditDoc {
        doc_id: DocId(9),
        base_version: 0,
        op: TextOp::new(),
        edit_id: None,
    };
    assert_eq!(
        decide(&world, &missing),
        Err(Rejection::UnknownDoc(DocId(9)))
    );
    assert_eq!(Rejection::UnknownDoc(DocId(9)).code(), ErrorCode::NotFound);
}

#[test]
fn show_doc_needs_a_writer_window_and_a_document() {
    let mut writer = opened(2);
    if let EventBody::WindowOpened { app, .. } = &mut writer {
        *app = AppKind::Writer;
    }
    let world = given(vec![opened(1), writer, doc(3, "")]);
    let show = |window, doc: Option<u64>| Command::ShowDoc {
        window_id: WindowId(window),
        doc_id: doc.map(DocId),
    };
    assert_eq!(
        decide(&world, &show(1, Some(3))),
        Err(Rejection::NotAWriter(WindowId(1)))
    );
    assert_eq!(
        decide(&world, &show(2, Some(4))),
        Err(Rejection::UnknownDoc(DocId(4)))
    );
    assert_eq!(decide(&world, &show(2, None)), Ok(Vec::new()));
    let shown = decide(&world, &show(2, Some(3))).unwrap();
    let mut world = world;
    for (i, body) in shown
        .into_iter()
        .chain([EventBody::DocDeleted { doc_id: DocId(3) }])
        .enumerate()
    {
        world.apply(&Event {
            seq: 10 + i as u64,
            ts: 0,
            actor: "t".into(),
            correlation: None,
            v: 1,
            body,
        });
        if i == 0 {
            assert_eq!(world.desktop.windows[&WindowId(2)].doc_id, Some(DocId(3)));
        }
    }
    assert_eq!(
        world.desktop.windows[&WindowId(2)].doc_id,
        None,
        "deleting a document sends its windows back to the list"
    );
}

#[test]
fn edits_with_absurd_or_untidy_parts_are_refused_or_tidied_not_a_panic() {
    let world = given(vec![doc(1, "abc")]);
    let edit = |parts: Vec<crate::text_op::OpPart>| Command::EditDoc {
        doc_id: DocId(1),
        base_version: 0,
        op: serde_json::from_value(serde_json::to_value(parts).unwrap()).unwrap(),
        edit_id: None,
    };
    use crate::text_op::OpPart::{Delete, Insert, Retain};
    assert!(matches!(
        decide(
            &world,
            &edit(vec![Retain(usize::MAX), Retain(usize::MAX), Delete(3)])
        ),
        Err(Rejection::EditDoesNotFit { .. })
    ));
    let untidy = vec![
        Retain(0),
        Insert(String::new()),
        Retain(1),
        Delete(1),
        Insert("X".into()),
        Retain(1),
    ];
    assert_eq!(
        decide(&world, &edit(untidy)),
        Ok(vec![edited(
            1,
            1,
            TextOp::new().retain(1).insert("X").delete(1).retain(1),
            None
        )])
    );
}

/// Runs `command` on `world` and applies what it decided.
fn run(world: &mut World, command: Command) -> Vec<EventBody> {
    let events = decide(world, &command).unwrap_or_else(|err| panic!("{command:?}: {err}"));
    let head = world.head;
    for (i, body) in events.iter().enumerate() {
        world.apply(&Event {
            seq: head + i as u64 + 1,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body: body.clone(),
        });
    }
    events
}

fn rect_of(world: &World, id: u64) -> Rect {
    world.desktop.window(WindowId(id)).unwrap().rect
}

#[test]
fn splits_open_a_shell_in_the_second_half_and_closing_gives_the_room_back() {
    let mut world = given(vec![opened(1)]);
    let area = Rect::new(0, 0, 120, 33);
    // C-a %: side by side.
    let events = run(
        &mut world,
        Command::SplitWindow {
            window_id: WindowId(1),
            stacked: false,
            area,
        },
    );
    assert!(matches!(
        events.last(),
        Some(EventBody::LayoutChanged { layout: Some(_) })
    ));
    assert_eq!(rect_of(&world, 1), Rect::new(0, 0, 60, 33));
    assert_eq!(rect_of(&world, 2), Rect::new(60, 0, 60, 33));
    assert_eq!(
        world.desktop.window(WindowId(2)).unwrap().app,
        AppKind::Shell
    );
    assert_eq!(world.desktop.focused, Some(WindowId(2)));
    // C-a " in the new one: stacked.
    run(
        &mut world,
        Command::SplitWindow {
            window_id: WindowId(2),
            stacked: true,
            area,
        },
    );
    assert_eq!(rect_of(&world, 2), Rect::new(60, 0, 60, 17));
    assert_eq!(rect_of(&world, 3), Rect::new(60, 17, 60, 16));
    // Another screen's size: the layout follows it.
    run(
        &mut world,
        Command::FitLayout {
            area: Rect::new(0, 0, 80, 22),
        },
    );
    assert_eq!(rect_of(&world, 1), Rect::new(0, 0, 40, 22));
    assert_eq!(rect_of(&world, 3), Rect::new(40, 11, 40, 11));
    // Fitted again to the same area: nothing to do.
    assert!(decide(
        &world,
        &Command::FitLayout {
            area: Rect::new(0, 0, 80, 22)
        }
    )
    .unwrap()
    .is_empty());
    // Closing 3: 2 takes the right half again.
    run(
        &mut world,
        Command::CloseWindow {
            window_id: WindowId(3),
        },
    );
    assert_eq!(rect_of(&world, 2), Rect::new(40, 0, 40, 22));
    // Moving 2 by hand takes it out: 1, alone, takes the whole area and floats.
    run(
        &mut world,
        Command::MoveWindow {
            window_id: WindowId(2),
            x: 5,
            y: 5,
        },
    );
    assert_eq!(rect_of(&world, 1), Rect::new(0, 0, 80, 22));
    assert_eq!(world.desktop.layout, None);
}

#[test]
fn a_split_too_small_is_refused_and_tiling_gives_the_layout_up() {
    let mut world = given(vec![opened(1)]);
    let small = Rect::new(0, 0, 30, 10);
    run(
        &mut world,
        Command::SplitWindow {
            window_id: WindowId(1),
            stacked: false,
            area: small,
        },
    );
    let again = decide(
        &world,
        &Command::SplitWindow {
            window_id: WindowId(2),
            stacked: false,
            area: small,
        },
    );
    assert!(
        matches!(&again, Err(Rejection::InvalidGeometry(why)) if why.contains("too small")),
        "{again:?}"
    );
    run(&mut world, Command::TileWindows { area: small });
    assert_eq!(world.desktop.layout, None);
}
