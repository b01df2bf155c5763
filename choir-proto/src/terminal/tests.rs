use proptest::prelude::*;

use super::*;

fn term(rows: u16, cols: u16) -> Terminal {
    Terminal::new(TermSize::new(rows, cols))
}

/// A terminal that keeps `lines` lines of scrollback.
fn kept(rows: u16, cols: u16, lines: u32) -> Terminal {
    Terminal::with_history(TermSize::new(rows, cols), History::new(lines))
}

fn history_text(terminal: &Terminal) -> Vec<String> {
    terminal.history().lines().map(Line::text).collect()
}

/// `seq 1 count`, as a shell's terminal gets it.
fn seq(count: usize) -> String {
    (1..=count).map(|n| format!("{n}\r\n")).collect()
}

#[test]
fn lines_that_scroll_off_the_top_are_kept_in_order_with_their_colours() {
    let mut terminal = kept(10, 20, 100);
    terminal.feed(b"\x1b[31mred\x1b[0m\r\n");
    terminal.feed(seq(60).as_bytes());
    // 61 lines and the cursor's row on a 10-row screen: 52 scrolled off.
    let lines = history_text(&terminal);
    assert_eq!(lines.len(), 52);
    assert_eq!(lines[0], "red");
    assert_eq!(lines[1], "1");
    assert_eq!(lines[51], "51");
    assert_eq!(terminal.text().lines().next(), Some("52"));
    assert!(terminal
        .history()
        .get(0)
        .unwrap()
        .styled
        .contains("\x1b[31m"));
    assert_eq!(terminal.first_line(), 0);
    assert_eq!(terminal.screen_start(), 52);
    assert_eq!(terminal.line_text(53), Some(("53".to_owned(), false)));
    assert_eq!(terminal.line_text(62), None);
}

#[test]
fn scrollback_is_bounded_and_keeps_each_lines_number() {
    let mut terminal = kept(4, 10, 5);
    terminal.feed(seq(20).as_bytes());
    // 17 scrolled off; the oldest 12 were let go.
    assert_eq!(history_text(&terminal), ["13", "14", "15", "16", "17"]);
    assert_eq!(terminal.first_line(), 12);
    assert_eq!(terminal.line_text(12).unwrap().0, "13");
    assert_eq!(terminal.line_text(11), None);
    // No scrollback at all: nothing kept, the numbering still goes on.
    let mut none = kept(4, 10, 0);
    none.feed(seq(20).as_bytes());
    assert!(none.history().is_empty());
    assert_eq!(none.screen_start(), 17);
}

#[test]
fn a_line_that_ran_past_the_edge_is_marked_as_going_on() {
    let mut terminal = kept(3, 10, 50);
    terminal.feed(b"0123456789abcdef\r\nshort\r\n\r\n\r\n");
    let lines: Vec<(String, bool)> = terminal
        .history()
        .lines()
        .map(|line| (line.text(), line.wrapped))
        .collect();
    assert_eq!(
        lines,
        [
            ("0123456789".to_owned(), true),
            ("abcdef".to_owned(), false),
            ("short".to_owned(), false),
        ]
    );
}

#[test]
fn clear_empties_the_scrollback_and_the_numbering_goes_on() {
    let mut terminal = kept(4, 10, 50);
    terminal.feed(seq(10).as_bytes());
    assert_eq!(terminal.history().len(), 7);
    // What `clear` writes: home, erase the screen, erase the scrollback; then new output.
    terminal.feed(b"\x1b[H\x1b[2J\x1b[3Jnew\r\n");
    assert!(terminal.history().is_empty());
    assert_eq!(terminal.first_line(), 7);
    terminal.feed(seq(4).as_bytes());
    assert_eq!(history_text(&terminal), ["new", "1"]);
    assert_eq!(terminal.first_line(), 7);
}

#[test]
fn a_full_screen_program_adds_nothing_to_the_scrollback() {
    let mut terminal = kept(4, 10, 50);
    terminal.feed(b"before\r\n\x1b[?1049h");
    terminal.feed(seq(30).as_bytes());
    terminal.feed(b"\x1b[?1049l");
    assert!(
        terminal.history().is_empty(),
        "{:?}",
        history_text(&terminal)
    );
    assert_eq!(terminal.text().lines().next(), Some("before"));
}

#[test]
fn an_image_after_a_flood_keeps_the_scrollback_and_says_what_was_skipped() {
    let mut terminal = kept(4, 10, 50);
    terminal.feed(b"one\r\ntwo\r\nthree\r\nfour\r\nfive");
    let mut after = kept(4, 10, 0);
    after.feed(b"tail\r\n$ ");
    terminal.show_image(after.size(), &after.image(), 20_000_000);
    assert_eq!(
        history_text(&terminal),
        [
            "one",
            "two",
            "three",
            "four",
            "five",
            "⋯ 20.0 MB of output skipped ⋯"
        ]
    );
    assert_eq!(terminal.text().lines().next(), Some("tail"));
    // An image that skipped nothing (after a resize) only redraws the screen.
    let size = terminal.size();
    terminal.show_image(size, &after.image(), 0);
    assert_eq!(terminal.history().len(), 6);
}

#[test]
fn a_view_back_shows_scrollback_above_the_screen_in_its_colours() {
    let mut terminal = kept(4, 10, 50);
    terminal.feed(b"\x1b[32mgreen\x1b[0m\r\n");
    terminal.feed(seq(6).as_bytes());
    // Scrollback: green 1 2 3; screen: 4 5 6 and the cursor's row.
    let start = terminal.screen_start();
    assert_eq!(start, 4);
    let view = terminal.scrolled(start - 2);
    assert_eq!(view.text(), "2\n3\n4\n5");
    assert_eq!(view.cursor(), None);
    let top = terminal.scrolled(0);
    assert_eq!(top.text(), "green\n1\n2\n3");
    assert_eq!(
        top.screen().cell(0, 0).unwrap().fgcolor(),
        vt100::Color::Idx(2)
    );
    // At the bottom it is the screen itself; beyond either end it stops there.
    assert_eq!(terminal.scrolled(start).text(), terminal.text());
    assert_eq!(terminal.scrolled(999).text(), terminal.text());
}

#[test]
fn a_line_kept_from_a_wider_terminal_is_cut_at_the_edge_in_a_view() {
    let mut terminal = kept(3, 20, 50);
    terminal.feed(b"abcdefghijklmnop\r\n\r\n\r\n");
    terminal.resize(TermSize::new(3, 8));
    let view = terminal.scrolled(0);
    assert_eq!(view.text().lines().next(), Some("abcdefgh"));
    assert_eq!(view.text().lines().nth(1), Some(""));
}

#[test]
fn scrollback_goes_over_the_wire_and_comes_back_the_same() {
    let mut terminal = kept(4, 10, 3);
    terminal.feed(seq(12).as_bytes());
    let json = serde_json::to_string(&terminal).unwrap();
    let back: Terminal = serde_json::from_str(&json).unwrap();
    assert_eq!(back, terminal);
    assert_eq!(back.first_line(), terminal.first_line());
    // A terminal without scrollback stores none, as before.
    let plain = serde_json::to_value(term(2, 2)).unwrap();
    assert!(plain.get("history").is_none());
}

#[test]
fn an_image_redraws_text_colours_cursor_and_modes() {
    let mut live = term(6, 20);
    live.feed(b"plain\r\n\x1b[1;31mred bold\x1b[0m and \x1b[7mreverse\x1b[0m\r\n");
    live.feed(b"\x1b[?1h\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[4;7H\x1b[32m");
    let copy = Terminal::from_image(live.size(), &live.image());
    assert_eq!(copy, live);
    assert_eq!(copy.cursor(), Some((3, 6)));
    assert!(copy.screen().application_cursor());
    assert!(copy.screen().bracketed_paste());
    assert_eq!(
        copy.screen().mouse_protocol_mode(),
        vt100::MouseProtocolMode::PressRelease
    );
    assert!(copy.screen().cell(1, 0).unwrap().bold());
    assert_eq!(copy.text().lines().nth(1), Some("red bold and reverse"));
    // Text typed after the copy was made lands the same in both.
    live.feed(b"after");
    let mut copy = copy;
    copy.feed(b"after");
    assert_eq!(copy, live);
}

#[test]
fn an_image_of_the_alternate_screen_keeps_it_alternate() {
    let mut live = term(4, 10);
    live.feed(b"prompt$ \x1b[?1049h\x1b[H\x1b[2Jvim here\x1b[?25l");
    let copy = Terminal::from_image(live.size(), &live.image());
    assert!(copy.screen().alternate_screen());
    assert_eq!(copy.text().lines().next(), Some("vim here"));
    assert_eq!(copy.cursor(), None);
    assert_eq!(copy, live);
}

#[test]
fn keys_are_encoded_as_xterm_does() {
    let screen = term(2, 2);
    let key = |code, shift, alt, ctrl| {
        encode_key(
            TermKey {
                code,
                shift,
                alt,
                ctrl,
            },
            screen.screen(),
        )
    };
    use TermKeyCode::*;
    assert_eq!(key(Char('c'), false, false, true).as_deref(), Some("\x03"));
    assert_eq!(key(Char('x'), false, true, false).as_deref(), Some("\x1bx"));
    assert_eq!(key(Char('é'), false, false, false).as_deref(), Some("é"));
    assert_eq!(key(Enter, false, false, false).as_deref(), Some("\r"));
    assert_eq!(key(Backspace, false, false, false).as_deref(), Some("\x7f"));
    assert_eq!(key(Up, false, false, false).as_deref(), Some("\x1b[A"));
    assert_eq!(key(Right, false, false, true).as_deref(), Some("\x1b[1;5C"));
    assert_eq!(key(Delete, false, false, false).as_deref(), Some("\x1b[3~"));
    assert_eq!(key(F(1), false, false, false).as_deref(), Some("\x1bOP"));
    assert_eq!(key(F(5), false, false, false).as_deref(), Some("\x1b[15~"));
    assert_eq!(key(F(20), false, false, false), None);
    assert_eq!(key(Char('1'), false, false, true), None);
    // Application cursor mode (vim, less) changes the arrows.
    let mut app = term(2, 2);
    app.feed(b"\x1b[?1h");
    let up = encode_key(TermKey::plain(Up), app.screen());
    assert_eq!(up.as_deref(), Some("\x1bOA"));
}

#[test]
fn the_mouse_is_reported_only_as_the_program_asked() {
    let mut screen = term(10, 10);
    let press = TermMouse::Press { button: 0 };
    let none = (false, false, false);
    assert_eq!(encode_mouse(press, 2, 3, none, screen.screen()), None);
    screen.feed(b"\x1b[?1000h");
    assert_eq!(
        encode_mouse(press, 2, 3, none, screen.screen()).as_deref(),
        Some("\x1b[M $#")
    );
    assert_eq!(
        encode_mouse(TermMouse::Moved, 2, 3, none, screen.screen()),
        None
    );
    screen.feed(b"\x1b[?1006h\x1b[?1002h");
    assert_eq!(
        encode_mouse(
            TermMouse::Release { button: 2 },
            0,
            0,
            (false, false, true),
            screen.screen()
        )
        .as_deref(),
        Some("\x1b[<18;1;1m")
    );
    assert_eq!(
        encode_mouse(TermMouse::Drag { button: 0 }, 4, 5, none, screen.screen()).as_deref(),
        Some("\x1b[<32;6;5M")
    );
}

#[test]
fn a_paste_is_bracketed_when_asked_and_cannot_end_itself() {
    let mut screen = term(2, 2);
    assert_eq!(encode_paste("a\nb", screen.screen()), "a\rb");
    screen.feed(b"\x1b[?2004h");
    assert_eq!(
        encode_paste("x\x1b[201~rm -rf ~\n", screen.screen()),
        "\x1b[200~x[201~rm -rf ~\r\x1b[201~"
    );
    // A marker split around another, which taking the inner one out would join.
    let nested = encode_paste("\x1b[20\x1b[201~1~\nrm -rf ~\n", screen.screen());
    assert_eq!(nested.matches("\x1b[201~").count(), 1, "{nested:?}");
    assert!(nested.ends_with("\x1b[201~"));
}

#[test]
fn long_input_is_cut_between_characters() {
    let text = "é".repeat(crate::MAX_SHELL_INPUT);
    let parts = input_parts(&text);
    assert_eq!(parts.len(), 2);
    assert!(parts
        .iter()
        .all(|part| part.len() <= crate::MAX_SHELL_INPUT));
    assert_eq!(parts.concat(), text);
    assert!(input_parts("").is_empty());
}

#[test]
fn sizes_are_clamped() {
    assert_eq!(
        TermSize::inside(Rect::new(0, 0, 1000, 3)),
        TermSize::new(1, 400)
    );
    assert_eq!(TermSize::inside(Rect::new(0, 0, 12, 4)).cols, 10);
    assert_eq!(TermSize::new(0, 0), TermSize { rows: 1, cols: 1 });
}

/// Pieces of terminal output: text (some wide), line ends, and the escape sequences
/// full-screen programs use.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{1,12}".prop_map(String::from),
        Just("\r\n".to_owned()),
        Just("日本".to_owned()),
        Just("\x1b[2J".to_owned()),
        Just("\x1b[H".to_owned()),
        (1u8..30, 1u8..90).prop_map(|(r, c)| format!("\x1b[{r};{c}H")),
        (0u8..8).prop_map(|c| format!("\x1b[3{c}m")),
        Just("\x1b[0m".to_owned()),
        Just("\x1b[1;7m".to_owned()),
        Just("\x1b[K".to_owned()),
        Just("\x1b[2;5r".to_owned()),
        Just("\x1b[r".to_owned()),
        Just("\x1b[3L".to_owned()),
        Just("\x1b[2M".to_owned()),
        Just("\x1b[?1049h".to_owned()),
        Just("\x1b[?1049l".to_owned()),
        Just("\x1b[?25l".to_owned()),
        Just("\x1b[?25h".to_owned()),
        Just("\x1b[?1h".to_owned()),
        Just("\x1b[?2004h".to_owned()),
        Just("\x08\t".to_owned()),
    ]
}

proptest! {
    /// Output cut into chunks anywhere (inside escape sequences and characters) and folded
    /// chunk by chunk draws the same screen and scrollback as the whole output fed at once;
    /// and a copy made from what a snapshot stores at any point, fed the rest, ends the same.
    #[test]
    fn chunked_output_and_images_give_the_live_screen(
        pieces in proptest::collection::vec(piece(), 1..80),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        image_at in any::<prop::sample::Index>(),
    ) {
        let output = pieces.concat().into_bytes();
        let mut live = kept(12, 30, 20);
        live.feed(&output);

        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(output.len() + 1)).collect();
        points.push(0);
        points.push(output.len());
        points.sort_unstable();
        points.dedup();
        let mut folded = kept(12, 30, 20);
        for pair in points.windows(2) {
            folded.feed(&output[pair[0]..pair[1]]);
        }
        prop_assert_eq!(&folded, &live);

        // An image taken between two pieces (the daemon takes images between whole reads of
        // its own emulator) and then the rest, as a client that connects late gets them.
        // Images do not carry the scroll region, nor the screen and cursor under the alternate
        // one (the daemon sends a new image when a program leaves it): such cases are left out.
        let split = image_at.index(pieces.len() + 1);
        let head = pieces[..split].concat();
        let rest = pieces[split..].concat();
        let mut before = kept(12, 30, 20);
        before.feed(head.as_bytes());
        // As a snapshot stores it, or a late client receives it: image and scrollback.
        let json = serde_json::to_string(&before).unwrap();
        let mut resumed: Terminal = serde_json::from_str(&json).unwrap();
        resumed.feed(rest.as_bytes());
        let regions = pieces.iter().any(|piece| piece.ends_with('r'));
        // Leaving the alternate screen restores the screen and cursor from before it.
        // An image taken on the alternate screen carries nothing of the screen under it, so
        // leaving it at any point of the rest is left out too.
        let leaves = rest.find("\x1b[?1049l");
        let enters = rest.find("\x1b[?1049h");
        let on_alternate = head.rfind("\x1b[?1049h") > head.rfind("\x1b[?1049l");
        let leaves_alternate = leaves.is_some_and(|at| {
            on_alternate || enters.is_none_or(|enter| at < enter)
        });
        if !regions && !leaves_alternate {
            prop_assert_eq!(&resumed, &live);
        }
    }
}
