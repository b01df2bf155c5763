//! Shell windows in the desktop: the screen folded from `shell.*` events drawn in the
//! window, keys, mouse and pastes encoded for the shell, the prefix key kept.

use super::*;
use pretty_assertions::assert_eq;

const SHELL: WindowId = WindowId(1);

fn with_shell(width: u16, height: u16) -> Harness {
    let mut h = Harness::new(width, height);
    h.open(AppKind::Shell, Cells::new(2, 1, 42, 12));
    h.commit(EventBody::ShellStarted {
        window_id: SHELL,
        program: "/bin/sh in ~/workspace".into(),
        rows: 10,
        cols: 40,
        scrollback: 100,
    });
    h
}

fn output(h: &mut Harness, data: &str) {
    h.commit(EventBody::ShellOutput {
        window_id: SHELL,
        data: data.into(),
        chunk: 0,
    });
}

fn inputs(sent: Vec<Command>) -> Vec<String> {
    sent.into_iter()
        .map(|command| match command {
            Command::ShellInput { window_id, data } => {
                assert_eq!(window_id, SHELL);
                data
            }
            other => panic!("expected shell input, got {other:?}"),
        })
        .collect()
}

/// The rows of the window's content on `screen` (the window at (2, 1), 40x10 inside).
fn content(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip(2)
        .take(10)
        .map(|line| {
            let line = line.trim_matches('"');
            line.chars().skip(3).take(40).collect::<String>()
        })
        .collect()
}

#[test]
fn a_shell_window_shows_its_screen_and_cursor() {
    let mut h = with_shell(80, 24);
    output(&mut h, "$ ls\r\n\x1b[1;34mdocs\x1b[0m  notes.txt\r\n$ ");
    let screen = h.screen();
    let rows = content(&screen);
    assert_eq!(rows[0].trim_end(), "$ ls");
    assert_eq!(rows[1].trim_end(), "docs  notes.txt");
    assert_eq!(rows[2].trim_end(), "$");
    // The terminal's cursor is where the shell's is.
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| h.desktop.render(frame)).unwrap();
    terminal
        .backend_mut()
        .assert_cursor_position(ratatui::layout::Position::new(3 + 2, 2 + 2));
    // Colours and bold come through.
    let buffer = terminal.backend().buffer().clone();
    let cell = &buffer[(3, 3)];
    assert_eq!(cell.symbol(), "d");
    assert_eq!(cell.fg, ratatui::style::Color::Indexed(4));
    assert!(cell.modifier.contains(ratatui::style::Modifier::BOLD));
    insta::assert_snapshot!(screen);
}

#[test]
fn keys_go_to_the_shell_and_the_prefix_stays_the_desktops() {
    let mut h = with_shell(80, 24);
    h.bytes(b"ls -l\r");
    assert_eq!(inputs(h.take_sent()), ["l", "s", " ", "-", "l", "\r"]);
    // Ctrl keys, arrows, F1 and `?` are the program's.
    h.bytes(b"\x03\x1b[A\x1bOP?");
    assert_eq!(inputs(h.take_sent()), ["\x03", "\x1b[A", "\x1bOP", "?"]);
    // A full-screen program asks for application cursor keys: the arrows change.
    output(&mut h, "\x1b[?1h");
    h.bytes(b"\x1b[A");
    assert_eq!(inputs(h.take_sent()), ["\x1bOA"]);
    // C-a is the desktop's; C-a C-a types one.
    h.bytes(&prefixed("\x01"));
    assert_eq!(inputs(h.take_sent()), ["\x01"]);
    h.bytes(&prefixed("c"));
    assert!(matches!(
        h.take_sent()[..],
        [Command::OpenWindow {
            app: AppKind::Chat,
            ..
        }]
    ));
}

#[test]
fn pastes_are_bracketed_when_the_program_asks_and_clicks_reported_when_it_wants_them() {
    let mut h = with_shell(80, 24);
    h.bytes(b"\x1b[200~echo a\necho b\x1b[201~");
    assert_eq!(inputs(h.take_sent()), ["echo a\recho b"]);
    output(&mut h, "\x1b[?2004h");
    h.bytes(b"\x1b[200~rm x\x1b[201~");
    assert_eq!(inputs(h.take_sent()), ["\x1b[200~rm x\x1b[201~"]);

    // No mouse reporting asked for: a click only focuses.
    h.click(10, 5);
    assert!(h.take_sent().is_empty());
    // With SGR mouse reporting, the click arrives at the cell inside the window.
    output(&mut h, "\x1b[?1000h\x1b[?1006h");
    h.click(10, 5);
    assert_eq!(
        inputs(h.take_sent()),
        ["\x1b[<0;8;4M", "\x1b[<0;8;4m"],
        "column 10 is the 8th cell inside the window, row 5 the 4th"
    );
    h.bytes(b"\x1b[<64;11;6M");
    assert_eq!(inputs(h.take_sent()), ["\x1b[<64;8;4M"]);
    // The title bar is still the desktop's: a drag moves the window.
    h.drag((10, 1), (12, 2));
    assert_eq!(h.window(1).rect, Cells::new(4, 2, 42, 12));
}

#[test]
fn an_ended_shell_says_so_and_enter_starts_a_new_one() {
    let mut h = with_shell(80, 24);
    output(&mut h, "$ exit\r\n");
    h.commit(EventBody::ShellEnded {
        window_id: SHELL,
        reason: "the daemon restarted, which ended this shell".into(),
        exit_code: None,
    });
    let screen = h.screen();
    assert!(screen.contains("the daemon restarted"), "{screen}");
    assert!(screen.contains("Enter starts a new shell"), "{screen}");
    assert!(screen.contains("[ended]"), "{screen}");
    h.bytes(b"x");
    assert!(h.take_sent().is_empty());
    h.bytes(b"\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::RestartShell { window_id: SHELL }]
    );
}

/// Two clients of different sizes draw the same terminal: the window's content is the same
/// cells in both.
#[test]
fn two_clients_of_different_sizes_draw_the_same_screen() {
    let mut small = with_shell(60, 20);
    let mut large = with_shell(160, 50);
    let session = "$ vim notes.txt\r\n\x1b[?1049h\x1b[H\x1b[2J~\r\n~\r\n\x1b[7m notes.txt \x1b[0m\x1b[1;1Hhello";
    output(&mut small, session);
    output(&mut large, session);
    let a = content(&small.screen());
    let b = content(&large.screen());
    assert_eq!(a, b);
    assert_eq!(a[0].trim_end(), "hello");
    assert_eq!(a[2].trim_end(), " notes.txt");
}

/// A flood's marker: the title says how much output was not recorded.
#[test]
fn skipped_output_is_shown_in_the_title() {
    let mut h = with_shell(80, 24);
    h.commit(EventBody::ShellScreen {
        window_id: SHELL,
        rows: 10,
        cols: 40,
        image: "y\r\ny\r\ny".into(),
        skipped: 104_857_600,
    });
    let screen = h.screen();
    assert!(screen.contains("[104.9 MB skipped]"), "{screen}");
    assert_eq!(content(&screen)[2].trim_end(), "y");
}

/// Maximizing says how big this client's desktop is: a shell window's terminal takes it.
#[test]
fn maximizing_sends_this_clients_desktop_area() {
    let mut h = with_shell(100, 30);
    h.bytes(&prefixed("z"));
    let area = desktop_area(100, 30);
    assert_eq!(
        h.take_sent(),
        vec![Command::ToggleMaximize {
            window_id: SHELL,
            area: Some(Cells::new(area.x, area.y, area.width, area.height)),
        }]
    );
    assert!(h.window(1).maximized);
}

/// `seq 1 count` as the shell writes it.
fn seq(count: usize) -> String {
    (1..=count).map(|n| format!("{n}\r\n")).collect()
}

#[test]
fn lines_scrolled_off_come_back_in_copy_mode_and_are_searched_and_copied() {
    let mut h = with_shell(80, 24);
    output(&mut h, &seq(60));
    assert_eq!(content(&h.screen())[0].trim_end(), "52");
    // C-a [ holds the window still; k moves up past its top into the scrollback.
    h.bytes(&prefixed("["));
    h.bytes(b"kkkkkkkkkkkk");
    let rows = content(&h.screen());
    assert_eq!(rows[0].trim_end(), "49", "{rows:?}");
    assert!(h.screen().contains("[3/51]"), "{}", h.screen());
    // Keys are copy mode's: nothing went to the shell.
    assert!(h.take_sent().is_empty());
    // Output goes on underneath; the view stays on its lines.
    output(&mut h, "61\r\n");
    assert_eq!(content(&h.screen())[0].trim_end(), "49");
    // A search for "7" from line 49 finds 57; N goes back to 47; the hint counts them.
    h.bytes(b"/7\r");
    assert!(h.screen().contains("match 6 of 6"), "{}", h.screen());
    h.bytes(b"N");
    h.bytes(b"0v$y");
    assert_eq!(h.copied, ["47"]);
    assert!(h.screen().contains("copied 1 line"));
    // Copying left copy mode: keys are the shell's again, and it shows the live screen.
    h.bytes(b"x");
    assert_eq!(inputs(h.take_sent()), ["x"]);
    assert_eq!(content(&h.screen())[0].trim_end(), "53");
}

#[test]
fn the_wheel_scrolls_back_unless_the_program_asked_for_the_mouse() {
    let mut h = with_shell(80, 24);
    output(&mut h, &seq(60));
    // The wheel up over the window's content: three lines back per turn.
    h.bytes(b"\x1b[<64;10;5M\x1b[<64;10;5M");
    assert_eq!(content(&h.screen())[0].trim_end(), "46");
    assert!(h.take_sent().is_empty());
    // Dragging over it selects, and letting go copies.
    h.drag((3, 2), (4, 3));
    assert_eq!(h.copied, ["46\n47"]);
    // Down again to the bottom leaves copy mode.
    h.bytes(b"\x1b[<65;10;5M\x1b[<65;10;5M");
    assert_eq!(content(&h.screen())[0].trim_end(), "52");
    h.bytes(b"y");
    assert_eq!(inputs(h.take_sent()), ["y"]);
    // A program that asked for the mouse gets the wheel.
    output(&mut h, "\x1b[?1000h\x1b[?1006h");
    h.bytes(b"\x1b[<64;10;5M");
    assert_eq!(inputs(h.take_sent()), ["\x1b[<64;7;3M"]);
    assert_eq!(content(&h.screen())[0].trim_end(), "52");
}

#[test]
fn a_key_for_the_shell_asks_for_no_frame_but_the_desktops_keys_do() {
    let mut h = with_shell(80, 24);
    h.bytes(b"x");
    assert!(h.desktop.last_input_quiet(), "the echo will come as output");
    h.bytes(b"\x01");
    assert!(!h.desktop.last_input_quiet(), "the prefix shows its hint");
    h.bytes(b"\x1b");
    assert!(!h.desktop.last_input_quiet());
}
