//! An event as the store hands it out once committed: one copy shared by every follower and
//! every client it is sent to, encoded as JSON at most once however many clients there are.

use std::ops::Deref;
use std::sync::OnceLock;

use choir_proto::Event;

/// A committed event (it reads as an [`Event`]) and its JSON, made when first asked for.
#[derive(Debug)]
pub struct Committed {
    event: Event,
    json: OnceLock<String>,
}

impl Committed {
    pub fn new(event: Event) -> Self {
        Self {
            event,
            json: OnceLock::new(),
        }
    }

    /// The event as JSON, as `serde_json::to_string(&event)` writes it: encoded by the first
    /// client it is sent to, and shared with the others.
    pub fn json(&self) -> Result<&str, serde_json::Error> {
        if let Some(json) = self.json.get() {
            return Ok(json);
        }
        let json = serde_json::to_string(&self.event)?;
        // Two clients may encode it at once; either copy is the same.
        Ok(self.json.get_or_init(|| json))
    }
}

impl Deref for Committed {
    type Target = Event;

    fn deref(&self) -> &Event {
        &self.event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::{EventBody, ThreadId};

    #[test]
    fn its_json_is_the_events_and_is_made_once() {
        let event = Event {
            seq: 7,
            ts: 1,
            actor: "user".into(),
            correlation: None,
            v: 1,
            body: EventBody::ChatUserMessage {
                thread_id: ThreadId(1),
                text: "hi \"there\"".into(),
            },
        };
        let committed = Committed::new(event.clone());
        let first = committed.json().unwrap();
        assert_eq!(first, serde_json::to_string(&event).unwrap());
        assert!(
            std::ptr::eq(first, committed.json().unwrap()),
            "encoded once"
        );
        assert_eq!(committed.seq, 7, "it reads as the event");
    }
}
