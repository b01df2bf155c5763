use choir_proto::terminal::{History, TermSize};
use choir_proto::{decide, AppKind, Command, Event, Rect, World};
use proptest::prelude::*;

use super::*;
use crate::{Front, Intent, Keymap, Mode, Screen, PREFIX};

/// A 6-row, 20-column terminal that keeps `kept` lines, after `seq 1 count`.
fn seq_terminal(count: usize, kept: u32) -> Terminal {
    let mut terminal = Terminal::with_history(TermSize::new(6, 20), History::new(kept));
    let output: String = (1..=count).map(|n| format!("line {n}\r\n")).collect();
    terminal.feed(output.as_bytes());
    terminal
}

/// A world with one shell window, focused.
fn shell_world() -> World {
    let mut world = World::default();
    let open = Command::OpenWindow {
        app: AppKind::Shell,
        title: None,
        rect: Some(Rect::new(0, 0, 22, 8)),
    };
    for (seq, body) in decide(&world, &open).unwrap().into_iter().enumerate() {
        world.apply(&Event {
            seq: seq as u64 + 1,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        });
    }
    world
}

fn ch(c: char) -> Key {
    Key::plain(KeyCode::Char(c))
}

fn keys(copy: &mut CopyMode, terminal: &Terminal, typed: &str) -> Outcome {
    let mut last = Outcome::Stay;
    for c in typed.chars() {
        let key = match c {
            '\n' => Key::plain(KeyCode::Enter),
            c => ch(c),
        };
        last = copy.on_key(key, terminal);
    }
    last
}

fn view_text(copy: &CopyMode, terminal: &Terminal) -> Vec<String> {
    copy.view(terminal)
        .screen
        .text()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_prefix_and_bracket_enter_copy_mode_and_q_leaves() {
    let world = shell_world();
    let id = world.desktop.focused.unwrap();
    let terminal = seq_terminal(30, 100);
    let screen = Screen {
        desktop: &world.desktop,
        area: Rect::new(0, 0, 80, 24),
        focused_takes_every_key: true,
        focused_terminal: Some(&terminal),
        focused_items: None,
        installed: &world.apps,
    };
    let mut keymap = Keymap::new(Front::Terminal);
    keymap.on_key(PREFIX, &screen);
    assert!(keymap.on_key(ch('['), &screen).is_empty());
    assert_eq!(keymap.mode(), Mode::Copy(id));
    // Keys are copy mode's now, not the shell's.
    assert!(keymap.on_key(ch('k'), &screen).is_empty());
    let hint = keymap.hint(Some(&terminal)).unwrap();
    assert!(hint.starts_with("[0/25]"), "{hint}");
    for _ in 0..6 {
        keymap.on_key(ch('k'), &screen);
    }
    let hint = keymap.hint(Some(&terminal)).unwrap();
    assert!(hint.starts_with("[2/25]"), "{hint}");
    let view = keymap.copy_view(id, &terminal).unwrap();
    assert_eq!(view.screen.text().lines().next(), Some("line 24"));
    assert_eq!(keymap.on_key(ch('q'), &screen), vec![]);
    assert_eq!(keymap.mode(), Mode::Normal);
    assert!(keymap.copy_view(id, &terminal).is_none());
    // Where there is no shell (a chat, or a shell not started) it says so.
    let no_shell = Screen {
        focused_terminal: None,
        ..screen
    };
    keymap.on_key(PREFIX, &no_shell);
    assert_eq!(
        keymap.on_key(ch('['), &no_shell),
        vec![Intent::Notice {
            text: "copy mode is for shell windows, search for chat windows".into(),
            error: true
        }]
    );
}

#[test]
fn the_view_stays_on_its_lines_while_output_goes_on() {
    let mut terminal = seq_terminal(30, 100);
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    keys(&mut copy, &terminal, "kkkkkkkkk");
    let before = view_text(&copy, &terminal);
    assert_eq!(before[0], "line 22");
    terminal.feed(b"line 31\r\nline 32\r\n");
    assert_eq!(view_text(&copy, &terminal), before);
    // g goes to the oldest line, G to the last.
    keys(&mut copy, &terminal, "g");
    assert_eq!(view_text(&copy, &terminal)[0], "line 1");
    keys(&mut copy, &terminal, "G");
    assert_eq!(
        view_text(&copy, &terminal),
        terminal
            .text()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_selection_is_copied_with_its_lines_and_copy_mode_ends() {
    let terminal = seq_terminal(30, 100);
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    // The cursor is on the empty row under "line 30": up two, to "line 29".
    keys(&mut copy, &terminal, "kk0v");
    let outcome = keys(&mut copy, &terminal, "j$y");
    assert_eq!(outcome, Outcome::Copy("line 29\nline 30".into()));
    // Part of one line, by cells.
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    keys(&mut copy, &terminal, "k0wv$");
    assert_eq!(keys(&mut copy, &terminal, "\n"), Outcome::Copy("30".into()));
    // Nothing selected: the cursor's line.
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    assert_eq!(
        keys(&mut copy, &terminal, "kkky"),
        Outcome::Copy("line 28".into())
    );
}

#[test]
fn a_line_that_went_on_is_copied_without_a_break() {
    let mut terminal = Terminal::with_history(TermSize::new(4, 10), History::new(50));
    terminal.feed(b"0123456789abcdef\r\n\r\n\r\n\r\n\r\n");
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    keys(&mut copy, &terminal, "gv");
    let outcome = keys(&mut copy, &terminal, "j$y");
    assert_eq!(outcome, Outcome::Copy("0123456789abcdef".into()));
}

#[test]
fn search_finds_forward_and_back_wraps_around_and_counts() {
    let terminal = seq_terminal(30, 100);
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    // Backward from the bottom: "line 3" is in lines 3 and 30.
    keys(&mut copy, &terminal, "?line 3\n");
    assert_eq!(copy.cursor, Pos { line: 29, col: 0 });
    assert!(
        copy.hint(&terminal).contains("match 2 of 2"),
        "{}",
        copy.hint(&terminal)
    );
    keys(&mut copy, &terminal, "n");
    assert_eq!(copy.cursor, Pos { line: 2, col: 0 });
    assert!(copy.hint(&terminal).contains("match 1 of 2"));
    assert_eq!(view_text(&copy, &terminal)[0], "line 3");
    // N goes the other way; past the last it wraps to the first.
    keys(&mut copy, &terminal, "N");
    assert_eq!(copy.cursor.line, 29);
    keys(&mut copy, &terminal, "N");
    assert_eq!(copy.cursor.line, 2);
    // The matches in view are marked.
    let view = copy.view(&terminal);
    assert!(view.marks.contains(&Mark {
        row: 0,
        cols: 0..6,
        kind: MarkKind::Found
    }));
    // Lower case matches either case; a capital only itself.
    keys(&mut copy, &terminal, "/LINE\n");
    assert!(copy.hint(&terminal).contains("“LINE” not found"));
    keys(&mut copy, &terminal, "/LINE 1");
    // While typing, Backspace edits, Esc gives up.
    copy.on_key(Key::plain(KeyCode::Backspace), &terminal);
    assert!(copy.hint(&terminal).starts_with("/LINE ▏"));
    copy.on_key(Key::plain(KeyCode::Esc), &terminal);
    assert!(copy.hint(&terminal).starts_with('['));
}

#[test]
fn the_wheel_scrolls_back_and_down_again_out_of_copy_mode() {
    let world = shell_world();
    let id = world.desktop.focused.unwrap();
    let terminal = seq_terminal(30, 100);
    let mut keymap = Keymap::new(Front::Browser);
    // Down at the bottom does nothing.
    assert!(keymap.wheel(id, &terminal, false).is_empty());
    assert_eq!(keymap.mode(), Mode::Normal);
    keymap.wheel(id, &terminal, true);
    keymap.wheel(id, &terminal, true);
    assert_eq!(keymap.mode(), Mode::Copy(id));
    assert_eq!(keymap.copy_mode(id).unwrap().back(&terminal), 6);
    keymap.wheel(id, &terminal, false);
    assert_eq!(keymap.copy_mode(id).unwrap().back(&terminal), 3);
    keymap.wheel(id, &terminal, false);
    assert_eq!(keymap.mode(), Mode::Normal);
    // A terminal with nothing scrolled off has nothing to go back to.
    let fresh = seq_terminal(2, 100);
    assert!(keymap.wheel(id, &fresh, true).is_empty());
    assert_eq!(keymap.mode(), Mode::Normal);
}

#[test]
fn dragging_selects_and_letting_go_copies() {
    let world = shell_world();
    let id = world.desktop.focused.unwrap();
    let terminal = seq_terminal(30, 100);
    let mut keymap = Keymap::new(Front::Terminal);
    // Not in copy mode: the click is the window's.
    assert!(keymap
        .copy_click(id, &terminal, (0, 0), Click::Down)
        .is_none());
    keymap.wheel(id, &terminal, true);
    // The view shows lines 23..28 (3 back): drag from "line 23" to the 4 of "line 24".
    keymap.copy_click(id, &terminal, (0, 0), Click::Down);
    keymap.copy_click(id, &terminal, (1, 3), Click::Drag);
    let intents = keymap.copy_click(id, &terminal, (1, 5), Click::Up).unwrap();
    assert_eq!(intents[0], Intent::CopyText("line 23\nline 2".into()));
    assert_eq!(keymap.mode(), Mode::Copy(id));
}

#[test]
fn old_lines_let_go_while_looking_at_them_bring_the_view_to_the_oldest_kept() {
    let mut terminal = seq_terminal(30, 10);
    let mut copy = CopyMode::new(WindowId(1), &terminal);
    keys(&mut copy, &terminal, "g");
    assert_eq!(view_text(&copy, &terminal)[0], "line 16");
    terminal.feed("more\r\n".repeat(5).as_bytes());
    assert_eq!(view_text(&copy, &terminal)[0], "line 21");
    assert!(copy.hint(&terminal).starts_with("[10/10]"));
}

fn any_key() -> impl Strategy<Value = Key> {
    prop_oneof![
        "[hjklgGwbv0$^ynNq/?x1]".prop_map(|s| ch(s.chars().next().unwrap())),
        Just(Key::plain(KeyCode::PageUp)),
        Just(Key::plain(KeyCode::PageDown)),
        Just(Key::plain(KeyCode::Enter)),
        Just(Key::plain(KeyCode::Esc)),
        Just(Key::plain(KeyCode::Backspace)),
        Just(Key::ctrl('u')),
        Just(Key::ctrl('d')),
    ]
}

proptest! {
    /// Whatever is typed, and whatever the shell writes meanwhile, the view is the
    /// terminal's size, its cursor inside it, and a copy is text the terminal holds.
    #[test]
    fn any_keys_keep_the_view_and_cursor_inside_the_terminal(
        typed in proptest::collection::vec(any_key(), 0..60),
        lines in 0usize..40,
        kept in 0u32..20,
        rows in 1u16..8,
    ) {
        let mut terminal = Terminal::with_history(TermSize::new(rows, 12), History::new(kept));
        terminal.feed((1..=lines).map(|n| format!("l{n} x\r\n")).collect::<String>().as_bytes());
        let mut copy = CopyMode::new(WindowId(1), &terminal);
        for (i, key) in typed.into_iter().enumerate() {
            if i % 7 == 3 {
                terminal.feed(b"out\r\n");
            }
            let outcome = copy.on_key(key, &terminal);
            let view = copy.view(&terminal);
            prop_assert_eq!(view.screen.size(), terminal.size());
            prop_assert!(view.cursor.0 < rows && view.cursor.1 < 12);
            if let Outcome::Copy(text) = outcome {
                for line in text.lines() {
                    let held = (terminal.first_line()..terminal.end())
                        .any(|n| terminal.line_text(n).unwrap().0.contains(line));
                    prop_assert!(held, "{:?} is not in the terminal", line);
                }
                break;
            }
            if outcome == Outcome::Leave {
                break;
            }
        }
    }
}
