//! What a daemon start does about turns the last run left unfinished: a turn that was
//! running is ended with a clear event, and every tool call still waiting for approval (or
//! running) is ended too, so no thread stays busy and no stale approval is accepted.

use choir_proto::{EventBody, NewEvent, ToolCallStatus, World};

use super::AGENT;
use crate::store::{EventStore, StoreError};

/// Why the turns were ended, as the chat shows it.
pub const RESTARTED: &str =
    "the daemon restarted during this turn; send the message again to retry";

/// Ends what `world` (the log as loaded at start) shows unfinished; returns how many events
/// that took.
pub async fn recover(store: &EventStore, world: &World) -> Result<usize, StoreError> {
    let mut events = Vec::new();
    for call in world.pending_tools.values() {
        let body = match call.status {
            ToolCallStatus::Running => EventBody::ToolFinished {
                call_id: call.call_id.clone(),
                ok: false,
                exit_code: None,
                output: "the daemon restarted while this call ran".into(),
                duration_ms: 0,
            },
            ToolCallStatus::AwaitingApproval | ToolCallStatus::Approved => EventBody::ToolDenied {
                call_id: call.call_id.clone(),
                reason: "the daemon restarted before this call ran".into(),
            },
        };
        events.push(NewEvent::new(AGENT, body));
    }
    for thread in world.chats.values().filter(|thread| thread.busy) {
        events.push(NewEvent::new(
            AGENT,
            EventBody::ChatTurnFailed {
                thread_id: thread.id,
                error: RESTARTED.into(),
            },
        ));
    }
    let count = events.len();
    if count > 0 {
        tracing::warn!(
            events = count,
            "ending turns and tool calls a restart interrupted"
        );
        store.append(events).await?;
    }
    Ok(count)
}
