//! The daemon reduced to its rule, for this crate's tests: decide, then append.

use crate::command::Command;
use crate::decide::decide;
use crate::event::{Event, EventBody};
use crate::ids::DocId;
use crate::world::World;

#[derive(Debug, Default)]
pub(crate) struct Daemon {
    pub world: World,
    pub log: Vec<Event>,
}

impl Daemon {
    /// A log holding one document, `DocId(1)` titled "shared", with `text`.
    pub fn with_doc(text: &str) -> Self {
        let mut daemon = Self::default();
        daemon.run(&Command::CreateDoc {
            title: "shared".into(),
            content: text.into(),
            open: false,
            window_id: None,
        });
        daemon
    }

    /// Decides `command` and appends its events; panics if it is refused.
    pub fn run(&mut self, command: &Command) -> Vec<Event> {
        let bodies = decide(&self.world, command).unwrap_or_else(|err| panic!("{err:?}"));
        bodies.into_iter().map(|body| self.record(body)).collect()
    }

    /// Appends an event the daemon records on its own (a shell's output, say).
    pub fn record(&mut self, body: EventBody) -> Event {
        let event = Event {
            seq: self.log.len() as u64 + 1,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        };
        self.world.apply(&event);
        self.log.push(event.clone());
        event
    }

    /// The committed text of a document.
    pub fn text(&self, doc_id: DocId) -> String {
        self.world.docs[&doc_id]
            .content
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }
}
