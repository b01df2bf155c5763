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
    /// Time left when it was last paused or reset.
    left_ms: u64,
    /// When it was started, if running (ms since the epoch, from the ticks).
    started_at: Option<u64>,
    /// The latest tick.
    now_ms: u64,
    /// Sessions finished, as the store has them.
    done: u32,
    /// What the store said, if it refused.
    problem: Option<String>,
}

thread_local! {
    static TIMER: RefCell<Timer> = RefCell::new(Timer::default());
}

impl Timer {
    fn left(&self) -> u64 {
        match self.started_at {
            Some(at) => self.left_ms.saturating_sub(self.now_ms.saturating_sub(at)),
            None => self.left_ms,
        }
    }

    fn pause(&mut self) {
        self.left_ms = self.left();
        self.started_at = None;
    }

    fn finish(&mut self) {
        self.started_at = None;
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
            Input::Tick(now) => {
                timer.now_ms = now;
                if timer.started_at.is_some() && timer.left() == 0 {
                    timer.finish();
                }
            }
            Input::Click(id) => match id.as_str() {
                "start" if timer.started_at.is_none() => timer.started_at = Some(timer.now_ms),
                "start" => timer.pause(),
                "reset" => {
                    timer.started_at = None;
                    timer.left_ms = timer.length_ms;
                }
                "longer" | "shorter" if timer.started_at.is_none() => {
                    timer.length_ms = if id == "longer" {
                        (timer.length_ms + 5 * MINUTE_MS).min(120 * MINUTE_MS)
                    } else {
                        timer.length_ms.saturating_sub(5 * MINUTE_MS).max(5 * MINUTE_MS)
                    };
                    timer.left_ms = timer.length_ms;
                }
                _ => {}
            },
            Input::Key(key) => match key.as_str() {
                " " | "s" => Self::update(Input::Click("start".into())),
                _ => {}
            },
            Input::Submit(_) | Input::Select(_) => {}
        });
    }

    fn view(_width: u32, _height: u32) -> View {
        TIMER.with_borrow(|timer| {
            let left = timer.left().div_ceil(1000);
            let running = timer.started_at.is_some();
            let clock = format!("{:02}:{:02}", left / 60, left % 60);
            let state = if running { "running" } else { "paused" };
            let mut nodes = vec![
                Node::Column(vec![1, 2, 3, 4]),
                text(format!("Pomodoro  {clock}"), if running { Color::Green } else { Color::Yellow }, true),
                text(format!("{state} · {} sessions done", timer.done), Color::Gray, false),
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
            // A tick a second, and one now to learn the time before the first start.
            let tick = if running || timer.now_ms == 0 { Some(1000) } else { None };
            View { nodes, tick_after_ms: tick }
        })
    }
}

export!(App);
