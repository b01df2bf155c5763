use super::*;
use crate::input::Mods;
use choir_proto::EventBody;

fn doc(text: &str) -> Doc {
    let mut world = choir_proto::World::default();
    world.apply(&choir_proto::Event {
        seq: 1,
        ts: 0,
        actor: "t".into(),
        correlation: None,
        v: 1,
        body: EventBody::DocCreated {
            doc_id: DocId(1),
            title: "t".into(),
            content: text.into(),
        },
    });
    world.docs[&DocId(1)].clone()
}

struct Typist {
    editor: Editor,
    clipboard: String,
    sent: Vec<Command>,
    notices: Vec<String>,
}

impl Typist {
    fn new(text: &str) -> Self {
        Self {
            editor: Editor::open(&doc(text), "t".into()).unwrap(),
            clipboard: String::new(),
            sent: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn key(&mut self, key: Key) -> &mut Self {
        let mut out = Vec::new();
        self.editor
            .handle_key(key, (20, 5), &mut self.clipboard, &mut out);
        for effect in out {
            match effect {
                EditorEffect::Send(command) => self.sent.push(command),
                EditorEffect::Notice(text) => self.notices.push(text),
                EditorEffect::Copy(_) | EditorEffect::Close => {}
            }
        }
        self
    }

    fn code(&mut self, code: KeyCode) -> &mut Self {
        self.key(Key::plain(code))
    }

    fn shift(&mut self, code: KeyCode) -> &mut Self {
        self.key(Key {
            code,
            mods: Mods {
                shift: true,
                ..Mods::NONE
            },
        })
    }

    fn ctrl(&mut self, c: char) -> &mut Self {
        self.key(Key::ctrl(c))
    }

    fn type_str(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            self.code(if c == '\n' {
                KeyCode::Enter
            } else {
                KeyCode::Char(c)
            });
        }
        self
    }

    fn text(&self) -> String {
        self.editor.text().to_string()
    }
}

#[test]
fn typing_moving_and_deleting() {
    let mut t = Typist::new("");
    t.type_str("hello world")
        .code(KeyCode::Home)
        .code(KeyCode::Delete)
        .type_str("H")
        .code(KeyCode::End)
        .code(KeyCode::Backspace);
    assert_eq!(t.text(), "Hello worl");
    assert_eq!(t.editor.cursor(), 10);
    // The first keystroke went out at once; the rest wait for it to be confirmed.
    assert_eq!(t.sent.len(), 1);
    assert!(!t.editor.is_saved());
}

#[test]
fn select_cut_and_paste() {
    let mut t = Typist::new("alpha beta");
    t.key(Key {
        code: KeyCode::Right,
        mods: Mods {
            ctrl: true,
            shift: true,
            alt: false,
        },
    });
    assert_eq!(t.editor.selection(), Some((0, 5)));
    t.ctrl('x').code(KeyCode::End).ctrl('v');
    assert_eq!(t.text(), " betaalpha");
    assert_eq!(t.clipboard, "alpha");
    t.ctrl('a').type_str("x");
    assert_eq!(t.text(), "x", "typing replaces the selection");
    t.ctrl('c');
    assert_eq!(
        t.notices.last().map(String::as_str),
        Some("select text first (Shift-arrows)")
    );
    t.code(KeyCode::Home).shift(KeyCode::Right);
    assert_eq!(t.editor.selection(), Some((0, 1)));
    t.code(KeyCode::Right);
    assert_eq!(
        t.editor.selection(),
        None,
        "moving without Shift ends the selection"
    );
}

#[test]
fn undo_takes_back_a_typed_word_at_a_time_and_redo_restores() {
    let mut t = Typist::new("");
    t.type_str("one two");
    assert_eq!(t.text(), "one two");
    t.ctrl('z');
    assert_eq!(t.text(), "one ");
    t.ctrl('z');
    assert_eq!(t.text(), "one");
    t.ctrl('z');
    assert_eq!(t.text(), "");
    t.ctrl('z');
    assert_eq!(
        t.notices.last().map(String::as_str),
        Some("nothing to undo")
    );
    t.ctrl('y').ctrl('y');
    assert_eq!(t.text(), "one ");
    assert_eq!(t.editor.cursor(), 4);
    // Typing somewhere else after a move is a step of its own.
    t.type_str("x").code(KeyCode::Home).type_str("y");
    assert_eq!(t.text(), "yone x");
    t.ctrl('z');
    assert_eq!(t.text(), "one x");
}

#[test]
fn a_remote_edit_keeps_the_cursor_on_its_text_and_undo_on_its_own_edits() {
    let mut t = Typist::new("abc");
    t.code(KeyCode::End).type_str("XY");
    // Confirm our edit (the first keystroke; the second waits) as the daemon would.
    let Command::EditDoc { op, edit_id, .. } = t.sent[0].clone() else {
        panic!()
    };
    let next = t.editor.committed(1, &op, edit_id.as_deref()).unwrap();
    let Command::EditDoc { op, edit_id, .. } = next else {
        panic!()
    };
    t.editor.committed(2, &op, edit_id.as_deref());
    assert!(t.editor.is_saved());
    // Someone inserts at the start: our cursor stays after our "XY".
    t.editor
        .committed(3, &TextOp::new().insert(">> ").retain(5), Some("other-0"));
    assert_eq!(t.text(), ">> abcXY");
    assert_eq!(t.editor.cursor(), 8);
    // Undo removes only our typing, not theirs.
    t.ctrl('z');
    assert_eq!(t.text(), ">> abc");
}

#[test]
fn the_view_scrolls_to_keep_the_cursor_visible_in_a_long_text() {
    let text: String = (0..1000).map(|n| format!("line {n}\n")).collect();
    let mut t = Typist::new(&text);
    t.key(Key {
        code: KeyCode::End,
        mods: Mods {
            ctrl: true,
            ..Mods::NONE
        },
    });
    let (row, _) = t.editor.layout(20).locate(t.editor.top);
    assert_eq!(row.line, 1000 - 4, "the last rows are in view");
    t.code(KeyCode::PageUp).code(KeyCode::PageUp);
    let line = t.editor.text().char_to_line(t.editor.cursor());
    assert_eq!(line, 1000 - 8);
    let (top, _) = t.editor.layout(20).locate(t.editor.top);
    assert!(top.line <= line && line < top.line + 5);
}

#[test]
fn a_refused_edit_resets_to_the_committed_text_and_hands_back_the_local_one() {
    let mut t = Typist::new("abc");
    t.type_str("zz");
    let lost = t.editor.refused(&doc("abc"));
    assert_eq!(lost, "zzabc");
    assert_eq!(t.text(), "abc");
    assert!(t.editor.is_saved());
}

#[test]
fn clicks_place_the_cursor_and_the_wheel_scrolls() {
    let text: String = (0..100).map(|n| format!("line {n}\n")).collect();
    let mut t = Typist::new(&text);
    t.editor.click(3, 2, (20, 5));
    assert_eq!(t.editor.cursor(), "line 0\nline 1\nlin".len());
    t.editor.scroll(-3, (20, 5));
    let (top, _) = t.editor.layout(20).locate(t.editor.top);
    assert_eq!(top.line, 3);
    assert_eq!(t.editor.text().char_to_line(t.editor.cursor()), 5);
    t.editor.scroll(10, (20, 5));
    assert_eq!(t.editor.top, 0);
    // Below the end of a short text: the end.
    let mut short = Typist::new("ab");
    short.editor.click(0, 3, (20, 5));
    assert_eq!(short.editor.cursor(), 2);
}

#[test]
fn a_paste_too_large_for_one_frame_is_refused_with_a_reason() {
    let mut t = Typist::new("keep");
    let effects = t.editor.paste(&"x".repeat(MAX_PASTE_CHARS + 1));
    assert!(matches!(&effects[..], [EditorEffect::Notice(text)] if text.starts_with("not pasted")));
    assert_eq!(t.text(), "keep");
    assert!(t.editor.is_saved());
}
