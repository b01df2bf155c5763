//! Chat threads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::event::{ChatRole, Event, EventBody};
use crate::ids::{CallId, ThreadId};

/// Most characters of a tool's output kept in the world for its card (the log has it all).
pub const CARD_OUTPUT_CHARS: usize = 2000;

/// One conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatThread {
    pub id: ThreadId,
    pub title: String,
    pub messages: Vec<ChatMessage>,
    /// The agent is answering (a turn started and has not ended).
    #[serde(default)]
    pub busy: bool,
    /// The tool calls made for this thread, oldest first.
    #[serde(default)]
    pub tools: Vec<ToolCard>,
}

/// A tool call as a chat window shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCard {
    pub call_id: CallId,
    pub tool: String,
    pub args: Value,
    pub status: ToolCardStatus,
    /// The start of the output, at most [`CARD_OUTPUT_CHARS`] characters.
    pub output: String,
    /// The seq of the event that first named the call (orders cards among messages).
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ToolCardStatus {
    AwaitingApproval,
    Running,
    Done { ok: bool, exit_code: Option<i32> },
    Denied { reason: String },
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
                tools: Vec::new(),
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

/// Tool events with a thread become cards in it; `index` finds a call's thread later.
pub(super) fn apply_tool(
    chats: &mut BTreeMap<ThreadId, ChatThread>,
    index: &mut BTreeMap<CallId, ThreadId>,
    event: &Event,
) {
    let (call_id, thread_id, tool, args, status) = match &event.body {
        EventBody::ToolRequested {
            call_id,
            tool,
            args,
            thread_id: Some(thread_id),
            needs_approval,
        } => {
            let status = if *needs_approval {
                ToolCardStatus::AwaitingApproval
            } else {
                ToolCardStatus::Running
            };
            (call_id, *thread_id, tool, args, status)
        }
        EventBody::ToolStarted {
            call_id,
            tool,
            args,
            thread_id: Some(thread_id),
        } => (call_id, *thread_id, tool, args, ToolCardStatus::Running),
        EventBody::ToolApproved { call_id } => {
            return update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Running
            })
        }
        EventBody::ToolDenied { call_id, reason } => {
            return update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Denied {
                    reason: reason.clone(),
                }
            })
        }
        EventBody::ToolFinished {
            call_id,
            ok,
            exit_code,
            output,
            ..
        } => {
            return update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Done {
                    ok: *ok,
                    exit_code: *exit_code,
                };
                card.output = output.chars().take(CARD_OUTPUT_CHARS).collect();
            })
        }
        _ => return,
    };
    let Some(thread) = chats.get_mut(&thread_id) else {
        return;
    };
    match thread
        .tools
        .iter_mut()
        .find(|card| card.call_id == *call_id)
    {
        Some(card) => card.status = status,
        None => {
            index.insert(call_id.clone(), thread_id);
            thread.tools.push(ToolCard {
                call_id: call_id.clone(),
                tool: tool.clone(),
                args: args.clone(),
                status,
                output: String::new(),
                seq: event.seq,
            });
        }
    }
}

fn update(
    chats: &mut BTreeMap<ThreadId, ChatThread>,
    index: &BTreeMap<CallId, ThreadId>,
    call_id: &CallId,
    change: impl FnOnce(&mut ToolCard),
) {
    let Some(thread) = index
        .get(call_id)
        .and_then(|thread_id| chats.get_mut(thread_id))
    else {
        return;
    };
    if let Some(card) = thread
        .tools
        .iter_mut()
        .rev()
        .find(|card| card.call_id == *call_id)
    {
        change(card);
    }
}
