//! The keys of a replay (the desktop read-only at a past moment), the same in every client:
//! what each key asks of the timeline, and the hint that names them.

use choir_proto::client::Timeline;

use crate::{Key, KeyCode};

/// Events one shifted arrow, `H` or `L` moves.
pub const BIG_STEP: i64 = 100;

/// The keys of a replay, for its hint line and the README.
pub const REPLAY_KEYS: &str =
    "←→ event · S-←→ 100 · [ ] minute · n p message/tool · Home End · q quit";

/// A move through time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Travel {
    /// By events (negative: back).
    Step(i64),
    /// By minutes of the log's time.
    Minutes(i64),
    /// To the next or previous chat message or tool call.
    Mark {
        forward: bool,
    },
    /// To a seq.
    Go(u64),
    Start,
    /// Back to the present.
    Now,
}

impl Travel {
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

/// What a key does in a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKey {
    Travel(Travel),
    /// Leave the replay (a terminal quits; a page has nothing to quit).
    Quit,
}

/// What `key` does in a replay; `None` for a key that is not one of its keys.
pub fn replay_key(key: Key) -> Option<ReplayKey> {
    let step = if key.mods.shift { BIG_STEP } else { 1 };
    let travel = match key.code {
        KeyCode::Left | KeyCode::Char('h') => Travel::Step(-step),
        KeyCode::Right | KeyCode::Char('l') => Travel::Step(step),
        KeyCode::Char('H') => Travel::Step(-BIG_STEP),
        KeyCode::Char('L') => Travel::Step(BIG_STEP),
        KeyCode::Char('c') if key.mods.ctrl => return Some(ReplayKey::Quit),
        KeyCode::Char('[') | KeyCode::PageUp => Travel::Minutes(-1),
        KeyCode::Char(']') | KeyCode::PageDown => Travel::Minutes(1),
        KeyCode::Char('p') => Travel::Mark { forward: false },
        KeyCode::Char('n') => Travel::Mark { forward: true },
        KeyCode::Home | KeyCode::Char('g') => Travel::Start,
        KeyCode::End | KeyCode::Char('G') => Travel::Now,
        KeyCode::Char('q') | KeyCode::Esc => return Some(ReplayKey::Quit),
        _ => return None,
    };
    Some(ReplayKey::Travel(travel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mods;

    fn key(code: KeyCode, mods: Mods) -> Key {
        Key { code, mods }
    }

    #[test]
    fn each_key_of_the_hint_moves_as_it_says() {
        let none = Mods::NONE;
        let shift = Mods {
            shift: true,
            ..Mods::NONE
        };
        let cases = [
            (key(KeyCode::Left, none), Travel::Step(-1)),
            (key(KeyCode::Right, none), Travel::Step(1)),
            (key(KeyCode::Left, shift), Travel::Step(-BIG_STEP)),
            (key(KeyCode::Right, shift), Travel::Step(BIG_STEP)),
            (key(KeyCode::Char('['), none), Travel::Minutes(-1)),
            (key(KeyCode::Char(']'), none), Travel::Minutes(1)),
            (
                key(KeyCode::Char('n'), none),
                Travel::Mark { forward: true },
            ),
            (
                key(KeyCode::Char('p'), none),
                Travel::Mark { forward: false },
            ),
            (key(KeyCode::Home, none), Travel::Start),
            (key(KeyCode::End, none), Travel::Now),
        ];
        for (pressed, travel) in cases {
            assert_eq!(
                replay_key(pressed),
                Some(ReplayKey::Travel(travel)),
                "{pressed:?}"
            );
        }
        assert_eq!(
            replay_key(key(KeyCode::Char('q'), none)),
            Some(ReplayKey::Quit)
        );
        assert_eq!(replay_key(key(KeyCode::Char('x'), none)), None);
        assert_eq!(replay_key(key(KeyCode::Enter, none)), None);
    }
}
