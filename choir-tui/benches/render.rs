//! Frame cost of the desktop: `cargo bench -p choir-tui`.
//!
//! A 200x50 desktop with 8 windows, one of them a chat with 10,000 messages. Also printed:
//! the same frame with a 100-message chat (the cost must not depend on scrollback), and the
//! bytes a real terminal backend writes for a first frame, an unchanged frame and a frame
//! after one new message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use choir_proto::{
    AppKind, ChatRole, Event, EventBody, Rect as Cells, ServerFrame, ThreadId, WindowId,
};
use choir_tui::desktop::Desktop;
use choir_tui::theme::Theme;
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::CrosstermBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

fn event(seq: u64, body: EventBody) -> ServerFrame {
    ServerFrame::Event {
        event: Event {
            seq,
            ts: 1_700_000_000_000 + seq as i64 * 1000,
            actor: "bench".into(),
            correlation: None,
            v: 1,
            body,
        },
    }
}

/// 8 windows; window 8 is a chat with `messages` messages, focused and on top.
fn desktop(messages: usize) -> Desktop {
    let mut desktop = Desktop::new(Theme::colored(), 0);
    desktop.resize(200, 50);
    desktop.set_clock("12:00".into());
    let mut seq = 0;
    let mut push = |desktop: &mut Desktop, body| {
        seq += 1;
        desktop.on_frame(event(seq, body));
    };
    let apps = [
        AppKind::EventLog,
        AppKind::Writer,
        AppKind::Chat,
        AppKind::Writer,
        AppKind::EventLog,
        AppKind::Chat,
        AppKind::Writer,
        AppKind::Chat,
    ];
    for (i, app) in apps.into_iter().enumerate() {
        let id = i as u64 + 1;
        let rect = Cells::new(5 * i as u16, 2 * i as u16, 90, 30);
        push(
            &mut desktop,
            EventBody::WindowOpened {
                window_id: WindowId(id),
                app: app.clone(),
                title: format!("{app} {id}"),
                rect,
            },
        );
        if app == AppKind::Chat {
            push(
                &mut desktop,
                EventBody::ChatThreadCreated {
                    thread_id: ThreadId(id),
                    title: "chat".into(),
                },
            );
        }
    }
    for n in 0..messages {
        let text = format!("message {n}: the quick brown fox jumps over the lazy dog, again and again, until the line wraps twice or more in a window of this size.");
        let body = if n % 2 == 0 {
            EventBody::ChatUserMessage {
                thread_id: ThreadId(8),
                text,
            }
        } else {
            EventBody::ChatAssistantMessage {
                thread_id: ThreadId(8),
                text,
                ending: None,
                tool_calls: Vec::new(),
            }
        };
        push(&mut desktop, body);
    }
    assert_eq!(desktop.world().chats[&ThreadId(8)].messages.len(), messages);
    assert!(
        desktop.world().chats[&ThreadId(8)]
            .messages
            .iter()
            .any(|m| m.role == ChatRole::Assistant)
            || messages < 2
    );
    desktop
}

#[derive(Clone, Default)]
struct Counter(Arc<Mutex<usize>>);

impl Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        *self.0.lock().unwrap() += bytes.len();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bytes_written(desktop: &mut Desktop) {
    let counter = Counter::default();
    let options = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, 200, 50)),
    };
    let mut terminal =
        Terminal::with_options(CrosstermBackend::new(counter.clone()), options).unwrap();
    let measure = |terminal: &mut Terminal<CrosstermBackend<Counter>>, desktop: &Desktop| {
        *counter.0.lock().unwrap() = 0;
        terminal.draw(|frame| desktop.render(frame)).unwrap();
        *counter.0.lock().unwrap()
    };
    let first = measure(&mut terminal, desktop);
    let unchanged = measure(&mut terminal, desktop);
    let head = desktop.head();
    desktop.on_frame(event(
        head + 1,
        EventBody::ChatUserMessage {
            thread_id: ThreadId(8),
            text: "one more".into(),
        },
    ));
    let one_message = measure(&mut terminal, desktop);
    println!("bytes written: first frame {first}, unchanged frame {unchanged}, after one new message {one_message}");
}

fn frames(c: &mut Criterion) {
    let area = Rect::new(0, 0, 200, 50);
    for messages in [10_000, 100] {
        let desktop = desktop(messages);
        let mut buf = Buffer::empty(area);
        c.bench_function(
            &format!("frame_200x50_8_windows_chat_{messages}_messages"),
            |b| {
                b.iter(|| {
                    buf.reset();
                    desktop.draw(area, &mut buf)
                })
            },
        );
    }
    let mut desktop = desktop(10_000);
    bytes_written(&mut desktop);
}

criterion_group!(benches, frames);
criterion_main!(benches);
