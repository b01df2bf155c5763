//! The state every client computes: a pure, infallible fold over [`Event`]s.

mod chat;
mod desktop;
mod docs;
mod keyed;
mod tools;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::{Event, EventBody};
use crate::ids::{CallId, DocId, ThreadId};

pub use chat::{ChatMessage, ChatThread, ToolCard, ToolCardStatus, CARD_OUTPUT_CHARS};
pub use desktop::{
    AppKind, Desktop, Rect, Window, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W,
};
pub use docs::{apply as apply_doc_event, Doc, DocEdit, DOC_HISTORY};
pub use tools::{PendingToolCall, ToolCallStatus};

/// Everything a sandbox shows: the desktop, chat threads, documents and tool calls that
/// have not finished yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    /// The seq of the last event applied (0 for an empty log).
    pub head: u64,
    pub desktop: Desktop,
    #[serde(with = "keyed")]
    pub chats: BTreeMap<ThreadId, ChatThread>,
    #[serde(with = "keyed")]
    pub docs: BTreeMap<DocId, Doc>,
    /// One past the highest document id so far (ids are never reused within one log; the
    /// first is 1).
    #[serde(default)]
    pub next_doc_id: u64,
    #[serde(with = "keyed")]
    pub pending_tools: BTreeMap<CallId, PendingToolCall>,
    /// Which chat thread each tool call with a thread belongs to.
    #[serde(default)]
    pub tool_threads: BTreeMap<CallId, ThreadId>,
}

impl World {
    /// Folds events from an empty world.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut world = World::default();
        for event in events {
            world.apply(event);
        }
        world
    }

    /// Applies one event. Never fails and has no side effects: an event that refers to
    /// something that does not exist changes nothing but `head`.
    pub fn apply(&mut self, event: &Event) {
        self.head = self.head.max(event.seq);
        match &event.body {
            EventBody::WindowOpened { .. }
            | EventBody::WindowMoved { .. }
            | EventBody::WindowResized { .. }
            | EventBody::WindowFocused { .. }
            | EventBody::WindowMinimized { .. }
            | EventBody::WindowRestored { .. }
            | EventBody::WindowMaximized { .. }
            | EventBody::WindowUnmaximized { .. }
            | EventBody::WindowClosed { .. } => self.desktop.apply(&event.body),
            EventBody::ChatThreadCreated { .. }
            | EventBody::ChatUserMessage { .. }
            | EventBody::ChatAssistantMessage { .. }
            | EventBody::ChatTurnStarted { .. }
            | EventBody::ChatTurnCompleted { .. }
            | EventBody::ChatCancelRequested { .. }
            | EventBody::ChatTurnCancelled { .. }
            | EventBody::ChatTurnFailed { .. } => chat::apply(&mut self.chats, event),
            EventBody::DocCreated { doc_id, .. } => {
                self.next_doc_id = self.next_doc_id.max(doc_id.0.saturating_add(1));
                docs::apply(&mut self.docs, event);
            }
            EventBody::DocEdited { .. } | EventBody::DocRenamed { .. } => {
                docs::apply(&mut self.docs, event)
            }
            EventBody::DocDeleted { doc_id } => {
                docs::apply(&mut self.docs, event);
                self.desktop.forget_doc(*doc_id);
            }
            EventBody::WriterDocShown { window_id, doc_id } => {
                self.desktop.show_doc(*window_id, *doc_id)
            }
            EventBody::ToolRequested { .. }
            | EventBody::ToolApproved { .. }
            | EventBody::ToolDenied { .. }
            | EventBody::ToolStarted { .. }
            | EventBody::ToolFinished { .. } => {
                tools::apply(&mut self.pending_tools, event);
                chat::apply_tool(&mut self.chats, &mut self.tool_threads, event);
            }
            EventBody::Unknown { .. } => {}
        }
    }
}

impl keyed::Keyed for ChatThread {
    type Key = ThreadId;
    fn key(&self) -> ThreadId {
        self.id
    }
}

impl keyed::Keyed for Doc {
    type Key = DocId;
    fn key(&self) -> DocId {
        self.id
    }
}

impl keyed::Keyed for PendingToolCall {
    type Key = CallId;
    fn key(&self) -> CallId {
        self.call_id.clone()
    }
}

impl keyed::Keyed for Window {
    type Key = crate::ids::WindowId;
    fn key(&self) -> crate::ids::WindowId {
        self.id
    }
}
