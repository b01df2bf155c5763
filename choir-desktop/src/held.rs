//! What a desktop keeps of what it hears, the same in every client: the events its event log
//! windows show, and how many of a chat's messages it holds.

use std::collections::VecDeque;
use std::ops::Deref;

use choir_proto::client::Replica;
use choir_proto::{Event, EventBody, WindowId};

/// Messages a chat may hold before the oldest are let go, and how many it keeps then.
pub const HELD_MESSAGES: (usize, usize) = (2_000, 1_000);

/// After `event` went into `replica`: a chat that gained a message lets go of its oldest
/// past [`HELD_MESSAGES`], unless its window is scrolled back among them (`reading_back`).
pub fn let_go_of_old_messages(
    replica: &mut Replica,
    event: &Event,
    reading_back: impl FnOnce(WindowId) -> bool,
) {
    if let EventBody::ChatAssistantMessage { thread_id, .. }
    | EventBody::ChatUserMessage { thread_id, .. } = &event.body
    {
        if !reading_back(WindowId(thread_id.0)) {
            let (most, keep) = HELD_MESSAGES;
            replica.let_go_of_old_messages(*thread_id, most, keep);
        }
    }
}

/// The events the event log windows show: the newest `capacity` as they come, and older
/// ones read from the daemon put in front while there is room. Each entry is an event or
/// holds one (`T: AsRef<Event>`).
#[derive(Debug, Clone)]
pub struct EventLog<T> {
    entries: VecDeque<T>,
    capacity: usize,
}

impl<T: AsRef<Event>> EventLog<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// A live event: the oldest goes when full.
    pub fn push(&mut self, entry: T) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Older events, oldest first: those before the first held and at most `head` go in
    /// front, the newest of them first, while there is room.
    pub fn add_history(&mut self, older: impl IntoIterator<Item = T>, head: u64) {
        let first_live = self
            .entries
            .front()
            .map_or(u64::MAX, |entry| entry.as_ref().seq);
        let older: Vec<T> = older
            .into_iter()
            .filter(|entry| {
                let seq = entry.as_ref().seq;
                seq < first_live && seq <= head
            })
            .collect();
        let room = self.capacity.saturating_sub(self.entries.len());
        for entry in older.into_iter().rev().take(room) {
            self.entries.push_front(entry);
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<T> Deref for EventLog<T> {
    type Target = VecDeque<T>;

    fn deref(&self) -> &VecDeque<T> {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::ThreadId;
    use std::sync::Arc;

    fn event(seq: u64) -> Arc<Event> {
        Arc::new(Event {
            seq,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body: EventBody::ChatCancelRequested {
                thread_id: ThreadId(1),
            },
        })
    }

    fn seqs(log: &EventLog<Arc<Event>>) -> Vec<u64> {
        log.iter().map(|event| event.seq).collect()
    }

    #[test]
    fn the_newest_are_kept_and_history_fills_the_room_in_front() {
        let mut log = EventLog::new(4);
        for seq in 10..=12 {
            log.push(event(seq));
        }
        // Room for one: 9, the newest before what is held (13 is past the head).
        log.add_history((6..=13).map(event), 12);
        assert_eq!(seqs(&log), [9, 10, 11, 12]);
        log.push(event(13));
        assert_eq!(seqs(&log), [10, 11, 12, 13], "the oldest goes when full");
    }
}
