use super::*;
use crate::input::{Key, KeyCode, Mods, Mouse, MouseButton, MouseKind};
use pretty_assertions::assert_eq;

fn keys(bytes: &[u8]) -> Vec<InputEvent> {
    InputParser::new().feed(bytes)
}

fn k(code: KeyCode, mods: Mods) -> InputEvent {
    InputEvent::Key(Key { code, mods })
}

#[test]
fn text_controls_and_utf8() {
    assert_eq!(
        keys("hé漢\r\t\x7f\x01\n".as_bytes()),
        vec![
            k(KeyCode::Char('h'), Mods::NONE),
            k(KeyCode::Char('é'), Mods::NONE),
            k(KeyCode::Char('漢'), Mods::NONE),
            k(KeyCode::Enter, Mods::NONE),
            k(KeyCode::Tab, Mods::NONE),
            k(KeyCode::Backspace, Mods::NONE),
            k(KeyCode::Char('a'), Mods::CTRL),
            k(KeyCode::Char('j'), Mods::CTRL),
        ]
    );
}

#[test]
fn escape_sequences() {
    assert_eq!(
        keys(b"\x1b[A\x1b[1;2B\x1b[5~\x1b[6~\x1b[3~\x1bOP\x1b[15~\x1b[Z\x1b[1;3A\x1bx\x1b\r"),
        vec![
            k(KeyCode::Up, Mods::NONE),
            k(KeyCode::Down, Mods::SHIFT),
            k(KeyCode::PageUp, Mods::NONE),
            k(KeyCode::PageDown, Mods::NONE),
            k(KeyCode::Delete, Mods::NONE),
            k(KeyCode::F(1), Mods::NONE),
            k(KeyCode::F(5), Mods::NONE),
            k(KeyCode::BackTab, Mods::NONE),
            k(KeyCode::Up, Mods::ALT),
            k(KeyCode::Char('x'), Mods::ALT),
            k(KeyCode::Enter, Mods::ALT),
        ]
    );
}

#[test]
fn sgr_mouse_reports() {
    let mouse = |kind, x, y| {
        InputEvent::Mouse(Mouse {
            kind,
            x,
            y,
            mods: Mods::NONE,
        })
    };
    assert_eq!(
        keys(b"\x1b[<0;10;5M\x1b[<32;12;6M\x1b[<0;12;6m\x1b[<64;1;1M\x1b[<65;1;1M\x1b[<35;3;3M"),
        vec![
            mouse(MouseKind::Down(MouseButton::Left), 9, 4),
            mouse(MouseKind::Drag(MouseButton::Left), 11, 5),
            mouse(MouseKind::Up(MouseButton::Left), 11, 5),
            mouse(MouseKind::ScrollUp, 0, 0),
            mouse(MouseKind::ScrollDown, 0, 0),
            mouse(MouseKind::Moved, 2, 2),
        ]
    );
}

#[test]
fn sequences_split_across_reads_and_lone_escape() {
    let mut parser = InputParser::new();
    assert_eq!(parser.feed(b"\x1b["), vec![]);
    assert_eq!(parser.feed(b"<0;2;"), vec![]);
    assert_eq!(
        parser.feed(b"3M\xe6"),
        vec![InputEvent::Mouse(Mouse {
            kind: MouseKind::Down(MouseButton::Left),
            x: 1,
            y: 2,
            mods: Mods::NONE
        })]
    );
    assert_eq!(
        parser.feed(b"\xbc\xa2"),
        vec![k(KeyCode::Char('漢'), Mods::NONE)]
    );
    assert_eq!(parser.feed(b"\x1b"), vec![]);
    assert!(parser.has_pending());
    assert_eq!(parser.flush(), vec![k(KeyCode::Esc, Mods::NONE)]);
    assert!(!parser.has_pending());
}

#[test]
fn bracketed_paste_arrives_whole() {
    let mut parser = InputParser::new();
    assert_eq!(
        parser.feed(b"a\x1b[200~line one\r\nline"),
        vec![k(KeyCode::Char('a'), Mods::NONE)]
    );
    assert_eq!(parser.feed(b" two\x1b[20"), vec![]);
    assert_eq!(
        parser.feed(b"1~b"),
        vec![
            InputEvent::Paste("line one\nline two".into()),
            k(KeyCode::Char('b'), Mods::NONE)
        ]
    );
}

#[test]
fn garbage_never_panics_or_sticks() {
    let mut parser = InputParser::new();
    let garbage: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let _ = parser.feed(&garbage);
    let _ = parser.flush();
    assert_eq!(parser.feed(b"z"), vec![k(KeyCode::Char('z'), Mods::NONE)]);
    let long: Vec<u8> = std::iter::once(0x1b)
        .chain(std::iter::once(b'['))
        .chain(std::iter::repeat_n(b'1', 200))
        .collect();
    let _ = parser.feed(&long);
    assert_eq!(parser.feed(b"q"), vec![k(KeyCode::Char('q'), Mods::NONE)]);
}
