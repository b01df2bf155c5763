//! A move through a replay's time, from a key, a button or the slider; `choir_proto`'s
//! `Timeline` makes it, as in the terminal.

use choir_proto::client::Timeline;
use web_sys::KeyboardEvent;

/// A move through time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    Step(i64),
    Minutes(i64),
    Mark { forward: bool },
    Go(u64),
    Start,
    Now,
}

impl Travel {
    /// The move a replay's key asks for, if it is one.
    pub fn from_key(event: &KeyboardEvent) -> Option<Self> {
        let step = if event.shift_key() { 100 } else { 1 };
        Some(match event.key().as_str() {
            "ArrowLeft" => Travel::Step(-step),
            "ArrowRight" => Travel::Step(step),
            "[" | "PageUp" => Travel::Minutes(-1),
            "]" | "PageDown" => Travel::Minutes(1),
            "p" => Travel::Mark { forward: false },
            "n" => Travel::Mark { forward: true },
            "Home" => Travel::Start,
            "End" => Travel::Now,
            _ => return None,
        })
    }

    /// Makes the move on `timeline`.
    pub fn apply(self, timeline: &mut Timeline) {
        match self {
            Travel::Step(events) => timeline.step(events),
            Travel::Minutes(minutes) => timeline.minutes(minutes),
            Travel::Mark { forward } => timeline.mark(forward),
            Travel::Go(seq) => timeline.go(seq),
            Travel::Start => timeline.go(0),
            Travel::Now => timeline.live(),
        }
    }
}
