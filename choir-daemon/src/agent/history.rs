//! The conversation a model is sent, rebuilt from a thread's events: user messages, each
//! assistant step with the tool calls it made, and each call's result (or its denial) right
//! after the step that asked for it. A message posted while a turn ran is placed after that
//! turn's answer: it is the next turn's question, and a request never ends with the
//! assistant speaking (which llama.cpp and Anthropic would take as a prefill to continue).

use std::collections::HashMap;

use choir_proto::{CallId, Event, EventBody};

use super::provider::{Message, ToolCallRequest};

/// What the model is told of a call that has no result in the log.
pub const NO_RESULT: &str = "no result: the turn ended before this call finished";

/// The conversation in `events` (a thread's events in seq order, as
/// [`EventStore::thread_conversation`](crate::store::EventStore::thread_conversation) reads
/// them), oldest first.
pub fn assemble(events: &[Event]) -> Vec<Message> {
    let mut messages = Vec::new();
    // User messages not yet placed: those posted while a turn ran wait for its end.
    let mut held: Vec<(u64, &str)> = Vec::new();
    // Where each call's result goes.
    let mut slots: HashMap<&CallId, usize> = HashMap::new();
    for event in events {
        match &event.body {
            EventBody::ChatUserMessage { text, .. } => held.push((event.seq, text)),
            // A turn answers what was posted before it started.
            EventBody::ChatTurnStarted { .. } => {
                let (before, after): (Vec<_>, Vec<_>) =
                    held.into_iter().partition(|(seq, _)| *seq < event.seq);
                messages.extend(
                    before
                        .into_iter()
                        .map(|(_, text)| Message::User(text.into())),
                );
                held = after;
            }
            EventBody::ChatAssistantMessage {
                text, tool_calls, ..
            } => {
                if text.trim().is_empty() && tool_calls.is_empty() {
                    continue;
                }
                messages.push(Message::Assistant {
                    text: text.clone(),
                    tool_calls: tool_calls
                        .iter()
                        .map(|call| ToolCallRequest {
                            id: call.call_id.0.clone(),
                            name: call.tool.clone(),
                            arguments: call.args.clone(),
                        })
                        .collect(),
                });
                for call in tool_calls {
                    slots.insert(&call.call_id, messages.len());
                    messages.push(Message::ToolResult {
                        call_id: call.call_id.0.clone(),
                        output: NO_RESULT.into(),
                    });
                }
            }
            EventBody::ToolFinished {
                call_id,
                ok,
                exit_code,
                output,
                ..
            } => {
                if let Some(slot) = slots.remove(call_id) {
                    set_result(&mut messages, slot, result_text(*ok, *exit_code, output));
                }
            }
            EventBody::ToolDenied { call_id, reason } => {
                if let Some(slot) = slots.remove(call_id) {
                    set_result(&mut messages, slot, denial_text(reason));
                }
            }
            _ => {}
        }
    }
    messages.extend(held.into_iter().map(|(_, text)| Message::User(text.into())));
    messages
}

fn set_result(messages: &mut [Message], slot: usize, text: String) {
    if let Some(Message::ToolResult { output, .. }) = messages.get_mut(slot) {
        *output = text;
    }
}

/// What the model is told of a finished call.
pub fn result_text(ok: bool, exit_code: Option<i32>, output: &str) -> String {
    match exit_code {
        Some(code) => format!("exit code {code}\n{output}"),
        None if ok => output.to_owned(),
        None => format!("error: {output}"),
    }
}

/// What the model is told of a call the user denied (or that a cancel or restart ended).
pub fn denial_text(reason: &str) -> String {
    format!("the call did not run: {reason}")
}

#[cfg(test)]
mod tests;
