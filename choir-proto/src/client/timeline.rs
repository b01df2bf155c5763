//! Where a time-travelling client is in the log and where it asked to go. The user steps by
//! event, by minute or to the next chat message or tool call, or drags a slider; each move
//! becomes a `world.at` query, one on its way at a time, and moves made meanwhile collapse
//! into the latest (holding a key down over a long history asks only as fast as the daemon
//! answers, and lands where the keys said). Queries are answered side by side, so answers may
//! come in any order and twice (a query asked again after a reconnect may have gone out
//! before it too): a moment is taken only if it answers the query on its way. A query
//! unanswered for a few ticks is asked again, and meanwhile the client says it waits.

use crate::frame::{Moment, Query, Seek};

/// A minute, in the milliseconds of event times.
const MINUTE_MS: i64 = 60_000;
/// Ticks (a client's clock, about a second each) a query waits before it is asked again.
const ASK_AGAIN_TICKS: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// The log's head, as far as this client knows.
    head: u64,
    /// The moment shown: its seq and time.
    shown: Option<(u64, i64)>,
    /// Where the latest move asked to go, until it is on its way.
    wanted: Option<Seek>,
    /// Where the query on its way goes.
    asked: Option<Seek>,
    /// Ticks the latest move has waited for its moment.
    waited: u32,
}

impl Timeline {
    /// A timeline that starts by going to `at`.
    pub fn new(at: Seek) -> Self {
        Self {
            head: 0,
            shown: None,
            wanted: Some(at),
            asked: None,
            waited: 0,
        }
    }

    /// The log's head.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// The seq and time of the moment shown, once one arrived.
    pub fn shown(&self) -> Option<(u64, i64)> {
        self.shown
    }

    /// Whether a move has not arrived yet.
    pub fn is_moving(&self) -> bool {
        self.wanted.is_some() || self.asked.is_some()
    }

    /// Whether a move has waited a tick or more for its moment: the client says it loads.
    pub fn is_waiting(&self) -> bool {
        self.is_moving() && self.waited > 0
    }

    /// A tick of the client's clock: a query unanswered for long is given up on and asked
    /// again (unless a later move replaced it); whichever answer comes first is taken.
    pub fn tick(&mut self) {
        if !self.is_moving() {
            return;
        }
        self.waited = self.waited.saturating_add(1);
        if self.waited.is_multiple_of(ASK_AGAIN_TICKS) {
            if let Some(asked) = self.asked.take() {
                self.wanted.get_or_insert(asked);
            }
        }
    }

    /// The log grew (a live event, a welcome).
    pub fn set_head(&mut self, head: u64) {
        self.head = self.head.max(head);
    }

    /// The seq the latest move aims at, where it is known without asking (else the seq
    /// shown).
    pub fn target(&self) -> u64 {
        match self.wanted.or(self.asked) {
            Some(Seek::Seq { seq }) => seq,
            _ => self.shown.map_or(0, |(seq, _)| seq),
        }
    }

    /// Moves `events` events later (earlier when negative), within the log.
    pub fn step(&mut self, events: i64) {
        let target = self.target();
        let seq = if events < 0 {
            target.saturating_sub(events.unsigned_abs())
        } else {
            target.saturating_add(events.unsigned_abs()).min(self.head)
        };
        self.go(seq);
    }

    /// Moves `minutes` minutes of wall-clock time later (earlier when negative).
    pub fn minutes(&mut self, minutes: i64) {
        let base = match self.wanted.or(self.asked) {
            Some(Seek::Time { ts }) => ts,
            _ => self.shown.map_or(0, |(_, ts)| ts),
        };
        self.wanted = Some(Seek::Time {
            ts: base.saturating_add(minutes.saturating_mul(MINUTE_MS)),
        });
    }

    /// Moves to the next (or previous) chat message or tool call.
    pub fn mark(&mut self, forward: bool) {
        self.wanted = Some(Seek::Mark {
            from: self.target(),
            forward,
        });
    }

    /// Moves right after event `seq` (the head at most).
    pub fn go(&mut self, seq: u64) {
        // Before the head is known the daemon clamps it.
        let seq = if self.head > 0 {
            seq.min(self.head)
        } else {
            seq
        };
        self.wanted = Some(Seek::Seq { seq });
    }

    /// Moves to the head.
    pub fn live(&mut self) {
        self.wanted = Some(Seek::Seq { seq: self.head });
    }

    /// The query to send now: the latest move, if none is on its way.
    pub fn take_query(&mut self) -> Option<Query> {
        if self.asked.is_some() {
            return None;
        }
        let at = self.wanted.take()?;
        self.asked = Some(at);
        Some(Query::Moment { at })
    }

    /// A moment arrived; whether it is the one the latest move waits for (else it is left
    /// unshown: the answer to an earlier move, or a second answer to this one). A moment that
    /// does not say what it answers (an older daemon's) is taken.
    pub fn on_moment(&mut self, moment: &Moment) -> bool {
        self.head = self.head.max(moment.head);
        if let Some(at) = moment.at {
            if self.asked != Some(at) && !(self.asked.is_none() && self.wanted == Some(at)) {
                return false;
            }
            // Asked again after a tick and not sent yet: this answers it.
            if self.asked.is_none() {
                self.wanted = None;
            }
        }
        self.asked = None;
        self.waited = 0;
        self.shown = Some((moment.seq, moment.ts));
        true
    }

    /// The query on its way was lost (the connection dropped) or refused: it is asked again,
    /// unless a later move replaced it.
    pub fn on_lost(&mut self) {
        if let Some(asked) = self.asked.take() {
            self.wanted.get_or_insert(asked);
        }
    }

    /// The query on its way was refused: it is not asked again.
    pub fn on_failed(&mut self) {
        self.asked = None;
        if self.wanted.is_none() {
            self.waited = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    fn moment(seq: u64, ts: i64, head: u64) -> Moment {
        Moment {
            seq,
            ts,
            head,
            world: Box::new(World::default()),
            at: None,
        }
    }

    fn answer(at: Seek, seq: u64) -> Moment {
        Moment {
            at: Some(at),
            ..moment(seq, seq as i64 * 1000, 100)
        }
    }

    #[test]
    fn only_the_answer_to_the_latest_move_is_shown_whatever_the_order() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 50 });
        timeline.set_head(100);
        let first = asked(&mut timeline);
        // The same query went out twice (before and after a welcome).
        timeline.on_lost();
        assert_eq!(asked(&mut timeline), first);
        assert!(timeline.on_moment(&answer(first, 50)));
        timeline.step(-1);
        let step = asked(&mut timeline);
        // The step's answer first, then the late second answer to the opening: it is left.
        assert!(timeline.on_moment(&answer(step, 49)));
        assert!(!timeline.on_moment(&answer(first, 50)));
        assert_eq!(timeline.shown(), Some((49, 49_000)));
        assert!(!timeline.is_moving());
    }

    #[test]
    fn a_query_unanswered_for_a_few_ticks_is_asked_again_and_the_wait_is_shown() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 5 });
        timeline.set_head(10);
        let first = asked(&mut timeline);
        assert!(!timeline.is_waiting(), "not before a tick");
        timeline.tick();
        assert!(timeline.is_waiting());
        assert_eq!(timeline.take_query(), None);
        timeline.tick();
        timeline.tick();
        assert_eq!(asked(&mut timeline), first, "asked again");
        // A move made while waiting goes out once the one on its way is given up on.
        timeline.go(8);
        for _ in 0..3 {
            timeline.tick();
        }
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 8 });
        assert!(
            !timeline.on_moment(&answer(first, 5)),
            "the first move's answer, late"
        );
        assert!(timeline.on_moment(&answer(Seek::Seq { seq: 8 }, 8)));
        assert!(!timeline.is_waiting());
        timeline.tick();
        assert!(!timeline.is_waiting(), "nothing to wait for");
    }

    fn asked(timeline: &mut Timeline) -> Seek {
        match timeline.take_query() {
            Some(Query::Moment { at }) => at,
            other => panic!("expected a world.at query, got {other:?}"),
        }
    }

    #[test]
    fn moves_made_while_one_is_on_its_way_collapse_into_the_latest() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 50 });
        timeline.set_head(100);
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 50 });
        for _ in 0..7 {
            timeline.step(-1);
        }
        assert_eq!(timeline.take_query(), None, "one query at a time");
        timeline.on_moment(&moment(50, 5_000, 100));
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 43 });
        assert!(timeline.is_moving());
        timeline.on_moment(&moment(43, 4_300, 100));
        assert!(!timeline.is_moving());
        assert_eq!(timeline.shown(), Some((43, 4_300)));
    }

    #[test]
    fn steps_stay_within_the_log() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 2 });
        timeline.set_head(10);
        asked(&mut timeline);
        timeline.on_moment(&moment(2, 0, 10));
        timeline.step(-5);
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 0 });
        timeline.on_moment(&moment(0, 0, 10));
        timeline.step(50);
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 10 });
    }

    #[test]
    fn minutes_add_up_from_the_moment_shown_and_marks_start_from_the_target() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 20 });
        timeline.set_head(100);
        asked(&mut timeline);
        timeline.on_moment(&moment(20, 600_000, 100));
        timeline.minutes(-1);
        timeline.minutes(-1);
        assert_eq!(asked(&mut timeline), Seek::Time { ts: 480_000 });
        timeline.minutes(1);
        timeline.on_moment(&moment(12, 470_000, 100));
        assert_eq!(asked(&mut timeline), Seek::Time { ts: 540_000 });
        timeline.on_moment(&moment(15, 530_000, 100));
        timeline.mark(true);
        assert_eq!(
            asked(&mut timeline),
            Seek::Mark {
                from: 15,
                forward: true
            }
        );
    }

    #[test]
    fn a_lost_query_is_asked_again_unless_a_later_move_replaced_it() {
        let mut timeline = Timeline::new(Seek::Seq { seq: 5 });
        timeline.set_head(10);
        asked(&mut timeline);
        timeline.on_lost();
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 5 });
        timeline.go(7);
        timeline.on_lost();
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 7 });
        timeline.on_failed();
        assert_eq!(timeline.take_query(), None);
        timeline.live();
        assert_eq!(asked(&mut timeline), Seek::Seq { seq: 10 });
    }
}
