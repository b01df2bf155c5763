//! Chat threads.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::event::{ChatRole, Event, EventBody, MessageEnding};
use crate::ids::{CallId, ThreadId};

/// Most characters of a tool's output kept in the world for its card (the log has it all).
pub const CARD_OUTPUT_CHARS: usize = 2000;

/// One conversation. Only its latest messages need be held: `total` says how many there are,
/// older ones come in pages (see [`ChatThread::prepend`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatThread {
    pub id: ThreadId,
    pub title: String,
    /// The messages held, oldest first: the latest ones, and older pages loaded since.
    pub messages: Vec<ChatMessage>,
    /// The agent is answering (a turn started and has not ended).
    #[serde(default)]
    pub busy: bool,
    /// The tool calls held for this thread (those of the messages held), oldest first.
    #[serde(default)]
    pub tools: Vec<ToolCard>,
    /// Messages in the thread in all, held or not.
    #[serde(default)]
    pub total: u64,
    /// The seq of the newest message: a message at or before it is already counted.
    #[serde(default)]
    pub last_seq: u64,
    /// For a sub-agent's thread, who delegated to it and what it may do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subagent: Option<Subagent>,
}

/// A sub-agent's place in the delegation tree (from `chat.subagent_started`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subagent {
    /// The thread whose turn delegated the task.
    pub parent: ThreadId,
    /// 1 for a sub-agent of a top-level turn.
    pub depth: u32,
    /// The tools it may use (empty: its parent's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
}

/// A page of a thread's older messages and their tool calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadPage {
    pub thread_id: ThreadId,
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolCard>,
    /// Whether messages older than these exist.
    pub more: bool,
}

impl ChatThread {
    /// Messages of the thread not held here (older than the oldest held).
    pub fn older(&self) -> u64 {
        self.total.saturating_sub(self.messages.len() as u64)
    }

    /// Where the page before the held messages ends: the seq to ask for messages `before`.
    pub fn page_before(&self) -> u64 {
        self.messages
            .first()
            .map_or(self.last_seq.saturating_add(1), |message| message.seq)
    }

    /// A thread with no messages yet.
    pub fn new(id: ThreadId, title: &str) -> Self {
        Self {
            id,
            title: title.to_owned(),
            messages: Vec::new(),
            busy: false,
            tools: Vec::new(),
            total: 0,
            last_seq: 0,
            subagent: None,
        }
    }

    /// A copy holding what [`trim`](Self::trim) would keep, without copying the rest.
    pub fn trimmed(&self, keep: usize) -> Self {
        let skip = self.messages.len().saturating_sub(keep);
        let mut copy = Self {
            id: self.id,
            title: self.title.clone(),
            messages: self.messages[skip..].to_vec(),
            busy: self.busy,
            tools: self.tools.clone(),
            total: self.total,
            last_seq: self.last_seq,
            subagent: self.subagent.clone(),
        };
        copy.trim(keep);
        copy
    }

    /// How many of the latest messages (at most `max`) fit in `budget` bytes together with
    /// the finished tool calls among them, and the bytes they take.
    pub fn latest_within(&self, max: usize, budget: usize) -> (usize, usize) {
        let mut used = 0;
        let mut kept = 0;
        let mut cards = self
            .tools
            .iter()
            .rev()
            .filter(|card| card.is_finished())
            .peekable();
        for message in self.messages.iter().rev().take(max) {
            let mut cost = message.text.len();
            while let Some(card) = cards.next_if(|card| card.seq >= message.seq) {
                cost += card.weight();
            }
            if used + cost > budget {
                break;
            }
            used += cost;
            kept += 1;
        }
        (kept, used)
    }

    /// Keeps the latest `keep` messages, the finished tool calls among them (the latest `keep`
    /// when no message is held) and every call still under way.
    pub fn trim(&mut self, keep: usize) {
        if self.messages.len() > keep {
            self.messages.drain(..self.messages.len() - keep);
        }
        // Calls still under way stay, whatever their age: their next event finds them.
        match self.messages.first().map(|message| message.seq) {
            Some(oldest) => self
                .tools
                .retain(|card| !card.is_finished() || card.seq >= oldest),
            None => {
                let finished = self.tools.iter().filter(|card| card.is_finished()).count();
                let mut drop = finished.saturating_sub(keep);
                self.tools.retain(|card| {
                    let dropped = drop > 0 && card.is_finished();
                    drop -= usize::from(dropped);
                    !dropped
                });
            }
        }
    }

    /// Leaves out what happened before seq `since`: older messages, and tool calls named
    /// before it that have finished (a call still under way is part of the present). The
    /// count becomes what is held, so nothing older is asked for.
    pub fn since(&mut self, since: u64) {
        self.messages.retain(|message| message.seq >= since);
        self.tools
            .retain(|card| !card.is_finished() || card.seq >= since);
        self.total = self.messages.len() as u64;
    }

    /// Puts an older page in front of the held messages. What is already held (a page asked
    /// for twice, or overlapping what arrived live) is not taken twice.
    pub fn prepend(&mut self, page: ThreadPage) {
        let first = self.page_before();
        let older: Vec<ChatMessage> = page
            .messages
            .into_iter()
            .filter(|message| message.seq < first)
            .collect();
        self.messages.splice(0..0, older);
        for card in page.tools {
            if !self.tools.iter().any(|held| held.call_id == card.call_id) {
                self.tools.push(card);
            }
        }
        self.tools.sort_by_key(|card| card.seq);
    }
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
    /// What the call would change (a unified diff for edits), shown with the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ToolCardStatus {
    AwaitingApproval,
    Running,
    Done { ok: bool, exit_code: Option<i32> },
    Denied { reason: String },
}

/// [`ToolCardStatus`]'s variants, to decode one without buffering it (see `tag_first`).
#[derive(Deserialize)]
#[serde(remote = "ToolCardStatus", rename_all = "snake_case")]
enum ToolCardStatusDef {
    AwaitingApproval,
    Running,
    Done { ok: bool, exit_code: Option<i32> },
    Denied { reason: String },
}

crate::tag_first::mirrored!(ToolCardStatus, ToolCardStatusDef, "state");

impl ToolCard {
    /// About how many bytes it takes on the wire.
    fn weight(&self) -> usize {
        self.tool.len() + self.output.len() + self.args.to_string().len()
    }

    /// Done or denied: nothing more will happen to it.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            ToolCardStatus::Done { .. } | ToolCardStatus::Denied { .. }
        )
    }
}

/// A finished chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The seq of the event that posted it.
    pub seq: u64,
    pub ts: i64,
    pub role: ChatRole,
    pub text: String,
    /// Set when the message ended early (cut off at the length limit, or interrupted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<MessageEnding>,
}

pub(super) fn apply(chats: &mut BTreeMap<ThreadId, ChatThread>, event: &Event) {
    let mut ending = None;
    let (thread_id, role, text) = match &event.body {
        EventBody::ChatThreadCreated { thread_id, title } => {
            chats
                .entry(*thread_id)
                .or_insert_with(|| ChatThread::new(*thread_id, title));
            return;
        }
        EventBody::ChatSubagentStarted {
            thread_id,
            parent,
            depth,
            tools,
            ..
        } => {
            if let Some(thread) = chats.get_mut(thread_id) {
                thread.subagent = Some(Subagent {
                    parent: *parent,
                    depth: *depth,
                    tools: tools.clone(),
                });
            }
            return;
        }
        EventBody::ChatUserMessage { thread_id, text } => (thread_id, ChatRole::User, text.clone()),
        // A step that only called tools is not a message (its calls are cards).
        EventBody::ChatAssistantMessage { text, .. } if text.is_empty() => return,
        EventBody::ChatAssistantMessage {
            thread_id,
            text,
            ending: how,
            ..
        } => {
            ending = *how;
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
        // Counted already (it came in a page or a newer snapshot): not again.
        if event.seq <= thread.last_seq {
            return;
        }
        thread.last_seq = event.seq;
        thread.total += 1;
        thread.messages.push(ChatMessage {
            seq: event.seq,
            ts: event.ts,
            role,
            text,
            ending,
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
    let (call_id, thread_id, tool, args, status, preview) = match &event.body {
        EventBody::ToolRequested {
            call_id,
            tool,
            args,
            thread_id: Some(thread_id),
            needs_approval,
            preview,
        } => {
            let status = if *needs_approval {
                ToolCardStatus::AwaitingApproval
            } else {
                ToolCardStatus::Running
            };
            (call_id, *thread_id, tool, args, status, preview.clone())
        }
        EventBody::ToolStarted {
            call_id,
            tool,
            args,
            thread_id: Some(thread_id),
        } => (
            call_id,
            *thread_id,
            tool,
            args,
            ToolCardStatus::Running,
            None,
        ),
        EventBody::ToolApproved { call_id } => {
            return update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Running
            })
        }
        EventBody::ToolDenied { call_id, reason } => {
            update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Denied {
                    reason: reason.clone(),
                }
            });
            // Nothing follows a denial: the index need not remember the call.
            index.remove(call_id);
            return;
        }
        EventBody::ToolFinished {
            call_id,
            ok,
            exit_code,
            output,
            ..
        } => {
            update(chats, index, call_id, |card| {
                card.status = ToolCardStatus::Done {
                    ok: *ok,
                    exit_code: *exit_code,
                };
                card.output = output.chars().take(CARD_OUTPUT_CHARS).collect();
            });
            index.remove(call_id);
            return;
        }
        _ => return,
    };
    let Some(thread) = chats.get_mut(&thread_id) else {
        return;
    };
    index.insert(call_id.clone(), thread_id);
    // A finished call's id used again starts a card of its own.
    match thread
        .tools
        .iter_mut()
        .find(|card| card.call_id == *call_id && !card.is_finished())
    {
        Some(card) => card.status = status,
        None => {
            thread.tools.push(ToolCard {
                call_id: call_id.clone(),
                tool: tool.clone(),
                args: args.clone(),
                status,
                output: String::new(),
                seq: event.seq,
                preview,
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
