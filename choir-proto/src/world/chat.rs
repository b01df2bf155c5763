//! Chat threads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::{ChatRole, Event, EventBody};
use crate::ids::ThreadId;

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatThread {
    pub id: ThreadId,
    pub title: String,
    pub messages: Vec<ChatMessage>,
}

/// A finished chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The seq of the event that posted it.
    pub seq: u64,
    pub ts: i64,
    pub role: ChatRole,
    pub text: String,
}

pub(super) fn apply(chats: &mut BTreeMap<ThreadId, ChatThread>, event: &Event) {
    let (thread_id, role, text) = match &event.body {
        EventBody::ChatThreadCreated { thread_id, title } => {
            chats.entry(*thread_id).or_insert_with(|| ChatThread {
                id: *thread_id,
                title: title.clone(),
                messages: Vec::new(),
            });
            return;
        }
        EventBody::ChatUserMessage { thread_id, text } => (thread_id, ChatRole::User, text),
        EventBody::ChatAssistantMessage { thread_id, text } => {
            (thread_id, ChatRole::Assistant, text)
        }
        _ => return,
    };
    if let Some(thread) = chats.get_mut(thread_id) {
        thread.messages.push(ChatMessage {
            seq: event.seq,
            ts: event.ts,
            role,
            text: text.clone(),
        });
    }
}
