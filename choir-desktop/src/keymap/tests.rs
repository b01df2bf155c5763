use choir_proto::{decide, Event, World, MAX_WINDOW_COORD, MIN_WINDOW_W};

use super::*;
use crate::key::Mods;

/// A world after the daemon ran `commands`.
fn world(commands: &[Command]) -> World {
    let mut world = World::default();
    let mut seq = 0;
    for command in commands {
        for body in decide(&world, command).unwrap_or_else(|err| panic!("{err:?}")) {
            seq += 1;
            world.apply(&Event {
                seq,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body,
            });
        }
    }
    world
}

fn open_at(app: AppKind, rect: Rect) -> Command {
    Command::OpenWindow {
        app,
        title: None,
        rect: Some(rect),
    }
}

/// Three windows, the last (3) focused.
fn three() -> World {
    world(&[
        open_at(AppKind::Chat, Rect::new(0, 0, 30, 10)),
        open_at(AppKind::Writer, Rect::new(5, 5, 30, 10)),
        open_at(AppKind::Shell, Rect::new(10, 3, 30, 10)),
    ])
}

const AREA: Rect = Rect::new(0, 0, 120, 33);

fn screen(world: &World) -> Screen<'_> {
    Screen {
        desktop: &world.desktop,
        area: AREA,
        focused_takes_every_key: false,
        focused_terminal: None,
        focused_items: None,
        installed: &world.apps,
    }
}

fn opened_at(app: AppKind, rect: Option<Rect>) -> Command {
    Command::OpenWindow {
        app,
        title: None,
        rect,
    }
}

fn ch(c: char) -> Key {
    Key::plain(KeyCode::Char(c))
}

fn sent(intents: &[Intent]) -> Vec<Command> {
    intents
        .iter()
        .filter_map(|intent| match intent {
            Intent::Send(command) => Some(command.clone()),
            _ => None,
        })
        .collect()
}

fn is_not_bound(intents: &[Intent]) -> bool {
    intents.iter().any(
        |intent| matches!(intent, Intent::Notice { text, error: true } if text.contains("is not bound")),
    )
}

#[test]
fn each_key_after_the_prefix_does_what_the_table_says_and_no_more() {
    let world = three();
    for front in [Front::Terminal, Front::Browser] {
        for byte in 0x20u8..0x7f {
            let c = char::from(byte);
            let mut keys = Keymap::new(front);
            assert!(keys.on_key(PREFIX, &screen(&world)).is_empty());
            let intents = keys.on_key(ch(c), &screen(&world));
            let bound = bindings::is_bound(front, c);
            assert_eq!(
                is_not_bound(&intents),
                !bound,
                "{front:?}: C-a {c:?} gave {intents:?} (bound in the table: {bound})"
            );
            let no_such_window = c
                .to_digit(10)
                .is_some_and(|n| n as usize > world.desktop.windows.len());
            if bound && !no_such_window {
                let acted = !intents.is_empty() || keys.mode() != Mode::Normal;
                assert!(
                    acted,
                    "{front:?}: C-a {c:?} is in the table and did nothing"
                );
            } else {
                assert_eq!(keys.mode(), Mode::Normal, "{front:?}: C-a {c:?}");
            }
        }
    }
}

#[test]
fn the_browser_refuses_what_only_a_terminal_has_in_its_own_words() {
    let world = three();
    let mut keys = Keymap::new(Front::Browser);
    keys.on_key(PREFIX, &screen(&world));
    assert_eq!(
        keys.on_key(ch('q'), &screen(&world)),
        vec![Intent::Notice {
            text: "Ctrl-a q is not bound (F1 lists the bindings)".into(),
            error: true
        }]
    );
    let mut keys = Keymap::new(Front::Terminal);
    keys.on_key(PREFIX, &screen(&world));
    assert_eq!(keys.on_key(ch('q'), &screen(&world)), vec![Intent::Quit]);
}

#[test]
fn commands_after_the_prefix() {
    let world = three();
    let run = |c: char| {
        let mut keys = Keymap::new(Front::Terminal);
        keys.on_key(PREFIX, &screen(&world));
        sent(&keys.on_key(ch(c), &screen(&world)))
    };
    // New windows take the largest free space: right of the three, to the screen's edge.
    let free = Some(Rect::new(40, 0, 80, 33));
    assert_eq!(run('c'), vec![opened_at(AppKind::Chat, free)]);
    assert_eq!(run('s'), vec![opened_at(AppKind::Shell, free)]);
    assert_eq!(run('t'), vec![Command::TileWindows { area: AREA }]);
    let focused = WindowId(3);
    assert_eq!(
        run('%'),
        vec![Command::SplitWindow {
            window_id: focused,
            stacked: false,
            area: AREA
        }]
    );
    assert_eq!(
        run('"'),
        vec![Command::SplitWindow {
            window_id: focused,
            stacked: true,
            area: AREA
        }]
    );
    assert_eq!(
        run('z'),
        vec![Command::ToggleMaximize {
            window_id: focused,
            area: Some(AREA)
        }]
    );
    assert_eq!(run('x'), vec![Command::CloseWindow { window_id: focused }]);
    assert_eq!(
        run('1'),
        vec![Command::FocusWindow {
            window_id: WindowId(1)
        }]
    );
    assert_eq!(run('9'), vec![], "no ninth window: nothing");
    // Next and previous wrap around, in id order.
    assert_eq!(
        run('n'),
        vec![Command::FocusWindow {
            window_id: WindowId(1)
        }]
    );
    assert_eq!(
        run('p'),
        vec![Command::FocusWindow {
            window_id: WindowId(2)
        }]
    );
}

#[test]
fn commands_on_the_focused_window_say_when_there_is_none() {
    let world = world(&[]);
    let mut keys = Keymap::new(Front::Browser);
    keys.on_key(PREFIX, &screen(&world));
    assert_eq!(
        keys.on_key(ch('x'), &screen(&world)),
        vec![Intent::Notice {
            text: "no window has focus".into(),
            error: true
        }]
    );
}

#[test]
fn a_doubled_prefix_goes_to_the_app() {
    let world = three();
    let mut keys = Keymap::new(Front::Browser);
    keys.on_key(PREFIX, &screen(&world));
    assert_eq!(
        keys.on_key(PREFIX, &screen(&world)),
        vec![Intent::ToApp(PREFIX)]
    );
    assert_eq!(keys.mode(), Mode::Normal);
}

#[test]
fn move_and_resize_with_the_arrows_from_where_the_window_is_shown() {
    // Window 1 lies beyond a small screen's right edge: it is shown at its edge, and a move
    // starts from there, not from where it is kept.
    let world = world(&[open_at(AppKind::Chat, Rect::new(100, 2, 30, 10))]);
    let small = Screen {
        area: Rect::new(0, 0, 80, 22),
        ..screen(&world)
    };
    let mut keys = Keymap::new(Front::Terminal);
    keys.on_key(PREFIX, &small);
    keys.on_key(ch('m'), &small);
    assert_eq!(keys.mode(), Mode::Move(WindowId(1)));
    assert!(keys.hint(None).is_some_and(|hint| hint.starts_with("move")));
    assert_eq!(
        sent(&keys.on_key(Key::plain(KeyCode::Left), &small)),
        vec![Command::MoveWindow {
            window_id: WindowId(1),
            x: 49,
            y: 2
        }]
    );
    let shift_up = Key {
        code: KeyCode::Up,
        mods: Mods::SHIFT,
    };
    assert_eq!(
        sent(&keys.on_key(shift_up, &small)),
        vec![Command::MoveWindow {
            window_id: WindowId(1),
            x: 50,
            y: 0
        }],
        "by five, stopping at the top"
    );
    keys.on_key(Key::plain(KeyCode::Enter), &small);
    assert_eq!(keys.mode(), Mode::Normal);

    keys.on_key(PREFIX, &small);
    keys.on_key(ch('r'), &small);
    let left = Key {
        code: KeyCode::Left,
        mods: Mods::SHIFT,
    };
    assert_eq!(
        sent(&keys.on_key(left, &small)),
        vec![Command::ResizeWindow {
            window_id: WindowId(1),
            w: 25,
            h: 10
        }]
    );
    let narrow = world_with_narrow();
    let narrow = Screen {
        area: Rect::new(0, 0, 80, 22),
        ..screen(&narrow)
    };
    assert_eq!(
        sent(&keys.on_key(left, &narrow)),
        vec![Command::ResizeWindow {
            window_id: WindowId(1),
            w: MIN_WINDOW_W,
            h: 10
        }],
        "never below the smallest window"
    );
    keys.window_closed(WindowId(1));
    assert_eq!(keys.mode(), Mode::Normal, "a closed window ends its resize");
}

fn world_with_narrow() -> World {
    world(&[open_at(
        AppKind::Chat,
        Rect::new(0, 0, MIN_WINDOW_W + 2, 10),
    )])
}

#[test]
fn moves_stop_at_the_largest_coordinate() {
    let far = MAX_WINDOW_COORD - 1;
    let world = world(&[open_at(AppKind::Chat, Rect::new(far, 0, 30, 10))]);
    let huge = Screen {
        area: Rect::new(0, 0, u16::MAX, 100),
        ..screen(&world)
    };
    let mut keys = Keymap::new(Front::Browser);
    keys.set_mode(Mode::Move(WindowId(1)));
    let right = Key {
        code: KeyCode::Right,
        mods: Mods::SHIFT,
    };
    assert_eq!(
        sent(&keys.on_key(right, &huge)),
        vec![Command::MoveWindow {
            window_id: WindowId(1),
            x: MAX_WINDOW_COORD,
            y: 0
        }]
    );
}

#[test]
fn the_help_opens_scrolls_and_closes() {
    let world = three();
    let mut keys = Keymap::new(Front::Terminal);
    keys.on_key(Key::plain(KeyCode::F(1)), &screen(&world));
    assert_eq!(keys.mode(), Mode::Help { scroll: 0 });
    keys.on_key(Key::plain(KeyCode::Down), &screen(&world));
    keys.on_key(ch('j'), &screen(&world));
    keys.on_key(ch('k'), &screen(&world));
    assert_eq!(keys.mode(), Mode::Help { scroll: 1 });
    assert!(keys
        .on_key(Key::plain(KeyCode::Esc), &screen(&world))
        .is_empty());
    assert_eq!(keys.mode(), Mode::Normal);

    // A shell's program gets F1.
    let shell = Screen {
        focused_takes_every_key: true,
        ..screen(&world)
    };
    assert_eq!(
        keys.on_key(Key::plain(KeyCode::F(1)), &shell),
        vec![Intent::ToApp(Key::plain(KeyCode::F(1)))]
    );
    // A '?' the app has no use for opens it.
    keys.unused_by_app(ch('?'));
    assert!(keys.help_shown());
}

#[test]
fn the_launcher_opens_what_is_chosen() {
    let world = world(&[]);
    let mut keys = Keymap::new(Front::Terminal);
    // On an empty terminal desktop, Enter opens the launcher.
    keys.on_key(Key::plain(KeyCode::Enter), &screen(&world));
    assert_eq!(keys.mode(), Mode::Launcher { selected: 0 });
    keys.on_key(Key::plain(KeyCode::Down), &screen(&world));
    keys.on_key(Key::plain(KeyCode::Down), &screen(&world));
    assert_eq!(
        sent(&keys.on_key(Key::plain(KeyCode::Enter), &screen(&world))),
        // The whole screen is free.
        vec![opened_at(AppKind::Writer, Some(AREA))]
    );
    assert_eq!(keys.mode(), Mode::Normal);
    // In the browser the page has Enter.
    let mut keys = Keymap::new(Front::Browser);
    assert_eq!(
        keys.on_key(Key::plain(KeyCode::Enter), &screen(&world)),
        vec![Intent::ToApp(Key::plain(KeyCode::Enter))]
    );
}

#[test]
fn every_launcher_entry_is_a_bound_command_of_the_terminal() {
    for (label, c) in LAUNCHER {
        assert!(bindings::is_bound(Front::Terminal, *c), "{label}");
    }
}

#[test]
fn the_prefix_hint_names_only_what_the_client_has() {
    let mut keys = Keymap::new(Front::Browser);
    keys.set_mode(Mode::Prefix);
    let hint = keys.hint(None).unwrap_or_default();
    assert!(hint.starts_with("Ctrl-a … c chat"), "{hint}");
    assert!(!hint.contains("quit"), "{hint}");
    let mut keys = Keymap::new(Front::Terminal);
    keys.set_mode(Mode::Prefix);
    assert!(keys.hint(None).unwrap_or_default().contains("q quit"));
}

#[test]
fn the_prefix_then_m_sends_the_mail_written_in_the_focused_writer() {
    let mut world = world(&[
        open_at(AppKind::Chat, Rect::new(0, 0, 30, 10)),
        Command::CreateDoc {
            title: "Mail: Re: lunch".into(),
            content: "To: bob@example.test\nSubject: Re: lunch\n\nyes".into(),
            open: true,
            window_id: None,
        },
    ]);
    let mut keys = Keymap::new(Front::Browser);
    keys.on_key(PREFIX, &screen(&world));
    let doc_id = world.docs.keys().next().copied().unwrap();
    assert_eq!(
        keys.on_key(ch('M'), &screen(&world)),
        vec![Intent::Send(Command::SendMail { doc_id })]
    );
    // Anywhere else it says what it is for, and sends nothing.
    world.desktop.focused = Some(WindowId(1));
    keys.on_key(PREFIX, &screen(&world));
    let said = keys.on_key(ch('M'), &screen(&world));
    assert!(
        matches!(&said[..], [Intent::Notice { text, error: true }] if text.contains("writer")),
        "{said:?}"
    );
}
