//! Cost of editing a large document: `cargo bench -p choir-tui --bench writer`.
//!
//! A 200x50 desktop with one maximized writer window showing a document of about 1 MB (16,000
//! lines), the cursor in the middle. Measured per iteration: another client's edit arriving
//! somewhere in the document (applied to the shared world and to the editor, cursor and undo
//! history transformed) plus drawing the frame; and a local keystroke (typing a sentence, line
//! after line) plus drawing. The same is measured on a 10 KB document as the baseline: the
//! ratio shows whether the cost grows with the document.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use choir_proto::{AppKind, DocId, Event, EventBody, Rect as Cells, ServerFrame, TextOp, WindowId};
use choir_tui::desktop::Desktop;
use choir_tui::input::{InputEvent, Key, KeyCode};
use choir_tui::theme::Theme;
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fn frame(seq: u64, body: EventBody) -> ServerFrame {
    ServerFrame::Event {
        event: Event {
            seq,
            ts: 1_700_000_000_000,
            actor: "bench".into(),
            correlation: None,
            v: 1,
            body,
        },
    }
}

/// A writer desktop showing a document of `lines` lines of 64 characters (65 with the break).
fn writer(lines: usize) -> (Desktop, usize) {
    let content: String = (0..lines)
        .map(|n| format!("{n:>6} the quick brown fox jumps over the lazy dog, all day long\n"))
        .collect();
    showing(content, lines / 2 / 46)
}

/// A writer desktop showing `content`, the cursor moved `pages` pages down.
fn showing(content: String, pages: usize) -> (Desktop, usize) {
    let mut desktop = Desktop::new(Theme::colored(), 0);
    desktop.resize(200, 50);
    desktop.set_clock("12:00".into());
    let len = content.chars().count();
    let bodies = [
        EventBody::WindowOpened {
            window_id: WindowId(1),
            app: AppKind::Writer,
            title: "Writer".into(),
            rect: Cells::new(0, 0, 120, 40),
        },
        EventBody::WindowMaximized {
            window_id: WindowId(1),
            area: None,
        },
        EventBody::DocCreated {
            doc_id: DocId(1),
            title: "Big".into(),
            content,
        },
        EventBody::WriterDocShown {
            window_id: WindowId(1),
            doc_id: Some(DocId(1)),
        },
    ];
    for (seq, body) in bodies.into_iter().enumerate() {
        desktop.on_frame(frame(seq as u64 + 1, body));
    }
    // Put the cursor in the middle (this also opens the editor).
    let page = Key::plain(KeyCode::PageDown);
    for _ in 0..pages {
        desktop.handle_input(InputEvent::Key(page));
    }
    (desktop, len)
}

fn editing(c: &mut Criterion) {
    let area = Rect::new(0, 0, 200, 50);
    for lines in [16_000, 160] {
        let (mut desktop, mut len) = writer(lines);
        let bytes = len; // ASCII: one byte per character
        let label = if lines == 16_000 { "1mb" } else { "10kb" };
        assert!(lines < 1000 || bytes > 1_000_000, "{bytes} bytes");
        let mut buf = Buffer::empty(area);
        let mut seq = desktop.head();
        let mut version = 0;
        c.bench_function(&format!("remote_edit_and_render_{label}_doc"), |b| {
            b.iter(|| {
                seq += 1;
                version += 1;
                // Spread over the whole document, some on screen, most not.
                let at = (version as usize * 104_729) % len;
                let op = TextOp::splice(len, at, at, "x");
                len += 1;
                desktop.on_frame(frame(
                    seq,
                    EventBody::DocEdited {
                        doc_id: DocId(1),
                        version,
                        op,
                        edit_id: Some("other".into()),
                    },
                ));
                buf.reset();
                desktop.draw(area, &mut buf)
            })
        });
        let typing: Vec<KeyCode> = "the quick brown fox jumps over the lazy dog\n"
            .chars()
            .map(|c| {
                if c == '\n' {
                    KeyCode::Enter
                } else {
                    KeyCode::Char(c)
                }
            })
            .collect();
        let mut next = typing.iter().cycle();
        c.bench_function(&format!("keystroke_and_render_{label}_doc"), |b| {
            b.iter(|| {
                let key = Key::plain(*next.next().unwrap());
                let actions = desktop.handle_input(InputEvent::Key(key));
                buf.reset();
                (actions, desktop.draw(area, &mut buf))
            })
        });
    }
}

/// The worst case of soft wrap: one paragraph of 10,000 characters without a line break,
/// which is wrapped whole on every frame.
fn long_paragraph(c: &mut Criterion) {
    let area = Rect::new(0, 0, 200, 50);
    let paragraph = "the quick brown fox jumps over the lazy dog ".repeat(230);
    let (mut desktop, _) = showing(paragraph, 0);
    let mut buf = Buffer::empty(area);
    desktop.handle_input(InputEvent::Key(Key::plain(KeyCode::PageDown)));
    c.bench_function("keystroke_and_render_10k_char_paragraph", |b| {
        b.iter(|| {
            let actions = desktop.handle_input(InputEvent::Key(Key::plain(KeyCode::Char('y'))));
            buf.reset();
            (actions, desktop.draw(area, &mut buf))
        })
    });
}

criterion_group!(benches, editing, long_paragraph);
criterion_main!(benches);
