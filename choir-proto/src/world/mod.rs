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

pub use chat::{ChatMessage, ChatThread, ThreadPage, ToolCard, ToolCardStatus, CARD_OUTPUT_CHARS};
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

/// Messages of each thread a welcome carries (older ones come in pages).
pub const WELCOME_MESSAGES: usize = 20;

impl World {
    /// What a new client is sent: the desktop, pending tool calls, each thread with its
    /// latest `messages` messages, each document's metadata without its text or edits. Its
    /// size does not grow with the history, only with the number of threads and documents.
    pub fn summary(&self, messages: usize) -> World {
        let mut summary = World {
            head: self.head,
            desktop: self.desktop.clone(),
            chats: BTreeMap::new(),
            docs: self
                .docs
                .iter()
                .map(|(id, doc)| (*id, doc.summary()))
                .collect(),
            next_doc_id: self.next_doc_id,
            pending_tools: self.pending_tools.clone(),
            tool_threads: BTreeMap::new(),
        };
        for (id, thread) in &self.chats {
            let mut thread = thread.clone();
            thread.trim(messages);
            summary.chats.insert(*id, thread);
        }
        summary.tool_threads = self.held_tool_threads(&summary.chats);
        summary
    }

    /// Keeps each thread's latest `keep` messages (what a daemon holds; pages come from its
    /// log).
    pub fn trim_chats(&mut self, keep: usize) {
        let mut trimmed = false;
        for thread in self.chats.values_mut() {
            if thread.messages.len() > keep || thread.tools.len() > 2 * keep {
                thread.trim(keep);
                trimmed = true;
            }
        }
        if trimmed {
            self.tool_threads = self.held_tool_threads(&self.chats);
        }
    }

    /// The thread index entries of the tool calls `chats` hold.
    fn held_tool_threads(
        &self,
        chats: &BTreeMap<ThreadId, ChatThread>,
    ) -> BTreeMap<CallId, ThreadId> {
        self.tool_threads
            .iter()
            .filter(|(call_id, thread_id)| {
                chats
                    .get(thread_id)
                    .is_some_and(|thread| thread.tools.iter().any(|card| &card.call_id == *call_id))
            })
            .map(|(call_id, thread_id)| (call_id.clone(), *thread_id))
            .collect()
    }

    /// Takes in an older page of a thread (see [`ChatThread::prepend`]).
    pub fn prepend_page(&mut self, page: ThreadPage) {
        let Some(thread) = self.chats.get_mut(&page.thread_id) else {
            return;
        };
        for card in page.tools.iter().filter(|card| !card.is_finished()) {
            self.tool_threads
                .insert(card.call_id.clone(), page.thread_id);
        }
        thread.prepend(page);
    }

    /// Takes in a loaded copy of a document (see [`Doc::load`]).
    pub fn load_doc(&mut self, doc: Doc) -> bool {
        self.docs
            .get_mut(&doc.id)
            .is_some_and(|held| held.load(doc))
    }

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
