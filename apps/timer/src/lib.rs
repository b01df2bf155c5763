//! timer: a pomodoro timer for ChoirOS. Start, pause and reset a 25-minute countdown
//! (`+`/`-` change it by 5 minutes); finished sessions are counted in the app's store, so the
//! count outlives its window.

wit_bindgen::generate!({ world: "app", path: "wit" });

use choir::app::types::{ButtonView, Color, Node, Span, Style};
use std::cell::RefCell;

const MINUTE_MS: u64 = 60_000;

#[derive(Default)]
struct Timer {
    /// The countdown's length.
    length_ms: u64,
    /// Time left.
    left_ms: u64,
    running: bool,
    /// The latest tick while running (the time comes only with ticks, so a replay of the
    /// window's inputs counts the same).
    last_tick: Option<u64>,
    /// Sessions finished, as the store has them.
    done: u32,
    /// What the store said, if it refused.
    problem: Option<String>,
}

thread_local! {
    static TIMER: RefCell<Timer> = RefCell::new(Timer::default());
}

impl Timer {
    fn tick(&mut self, now: u64) {
        if !self.running {
            return;
        }
        if let Some(last) = self.last_tick {
            self.left_ms = self.left_ms.saturating_sub(now.saturating_sub(last));
        }
        self.last_tick = Some(now);
        if self.left_ms == 0 {
            self.finish();
        }
    }

    fn toggle(&mut self) {
        self.running = !self.running;
        // Counted from the first tick after a start.
        self.last_tick = None;
    }

    fn finish(&mut self) {
        self.running = false;
        self.last_tick = None;
        self.left_ms = self.length_ms;
        self.done += 1;
        match store_set("done", Some(&self.done.to_string())) {
            Ok(()) => self.problem = None,
            Err(why) => self.problem = Some(why),
        }
    }
}

fn style(fg: Color, bold: bool) -> Style {
    Style { fg, bold, dim: false, italic: false, underline: false, reverse: false }
}

fn text(text: String, fg: Color, bold: bool) -> Node {
    Node::Text(vec![Span { text, style: style(fg, bold) }])
}

fn button(id: &str, label: &str) -> Node {
    Node::Button(ButtonView { id: id.into(), label: label.into() })
}

fn sessions(count: u32) -> String {
    if count == 1 {
        "1 session".into()
    } else {
        format!("{count} sessions")
    }
}

struct App;

impl Guest for App {
    fn init() {
        TIMER.with_borrow_mut(|timer| {
            timer.length_ms = 25 * MINUTE_MS;
            timer.left_ms = timer.length_ms;
            match store_get("done") {
                Ok(done) => timer.done = done.and_then(|n| n.parse().ok()).unwrap_or(0),
                Err(why) => timer.problem = Some(why),
            }
        });
    }

    fn update(input: Input) {
        TIMER.with_borrow_mut(|timer| match input {
            Input::Tick(now) => timer.tick(now),
            Input::Click(id) => match id.as_str() {
                "start" => timer.toggle(),
                "reset" => {
                    timer.running = false;
                    timer.last_tick = None;
                    timer.left_ms = timer.length_ms;
                }
                "longer" | "shorter" if !timer.running => {
                    timer.length_ms = if id == "longer" {
                        (timer.length_ms + 5 * MINUTE_MS).min(120 * MINUTE_MS)
                    } else {
                        timer.length_ms.saturating_sub(5 * MINUTE_MS).max(5 * MINUTE_MS)
                    };
                    timer.left_ms = timer.length_ms;
                }
                _ => {}
            },
            Input::Key(key) => {
                if key == " " || key == "s" {
                    timer.toggle();
                }
            }
            Input::Submit(_) | Input::Select(_) => {}
        });
    }

    fn view(_width: u32, _height: u32) -> View {
        TIMER.with_borrow(|timer| {
            let left = timer.left_ms.div_ceil(1000);
            let running = timer.running;
            let clock = format!("{:02}:{:02}", left / 60, left % 60);
            let state = if running { "running" } else { "paused" };
            let mut nodes = vec![
                Node::Column(vec![1, 2, 3, 4]),
                text(format!("Pomodoro  {clock}"), if running { Color::Green } else { Color::Yellow }, true),
                text(format!("{state} · {} done", sessions(timer.done)), Color::Gray, false),
                Node::Row(vec![5, 6, 7, 8]),
                text(timer.problem.clone().unwrap_or_default(), Color::Red, false),
                button("start", if running { "Pause" } else { "Start" }),
                button("reset", "Reset"),
                button("shorter", "-5 min"),
                button("longer", "+5 min"),
            ];
            if timer.problem.is_none() {
                nodes[4] = text(String::new(), Color::Default, false);
            }
            // A tick a second while it runs.
            View { nodes, tick_after_ms: running.then_some(1000) }
        })
    }
}

export!(App);
