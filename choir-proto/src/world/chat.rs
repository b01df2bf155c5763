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
    /// The agent is answering (a turn started and has not ended).
    #[serde(default)]
    pub busy: bool,
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
                busy: false,
            });
            return;
        }
        EventBody::ChatUserMessage { thread_id, text } => (thread_id, ChatRole::User, text.clone()),
        EventBody::ChatAssistantMessage { thread_id, text } => {
            (thread_id, ChatRole::Assistant, text.clone())
        }
        EventBody::ChatTurnStarted { thread_id } => {
            set_busy(chats, thread_id, true);
            return;
        }
        EventBody::ChatTurnCompleted { thread_id } => {
            set_busy(chats, thread_id, false);
            return;
        }
        EventBody::ChatCancelRequested { .. } => return,
        EventBody::ChatTurnCancelled { thread_id } => {
            set_busy(chats, thread_id, false);
            (thread_id, ChatRole::System, "cancelled".to_owned())
        }
        EventBody::ChatTurnFailed { thread_id, error } => {
            set_busy(chats, thread_id, false);
            (thread_id, ChatRole::System, format!("error: {error}"))
        }
        _ => return,
    };
    if let Some(thread) = chats.get_mut(thread_id) {
        thread.messages.push(ChatMessage {
            seq: event.seq,
            ts: event.ts,
            role,
            text,
        });
    }
}

fn set_busy(chats: &mut BTreeMap<ThreadId, ChatThread>, thread_id: &ThreadId, busy: bool) {
    if let Some(thread) = chats.get_mut(thread_id) {
        thread.busy = busy;
    }
}
