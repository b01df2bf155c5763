use proptest::prelude::*;

use super::*;

fn term(rows: u16, cols: u16) -> Terminal {
    Terminal::new(TermSize::new(rows, cols))
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
    /// chunk by chunk draws the same screen as the whole output fed at once; and a copy made
    /// from an image at any point, fed the rest, ends the same.
    #[test]
    fn chunked_output_and_images_give_the_live_screen(
        pieces in proptest::collection::vec(piece(), 1..80),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        image_at in any::<prop::sample::Index>(),
    ) {
        let output = pieces.concat().into_bytes();
        let mut live = term(12, 30);
        live.feed(&output);

        let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(output.len() + 1)).collect();
        points.push(0);
        points.push(output.len());
        points.sort_unstable();
        points.dedup();
        let mut folded = term(12, 30);
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
        let mut before = term(12, 30);
        before.feed(head.as_bytes());
        let mut resumed = Terminal::from_image(before.size(), &before.image());
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
