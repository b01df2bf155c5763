//! Tool calls that have been asked for and have not finished.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::event::{Event, EventBody};
use crate::ids::{CallId, ThreadId};

/// Where a pending call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// Waiting for a client to approve or deny it.
    AwaitingApproval,
    /// Allowed to run (approved, or no approval needed) but not started.
    Approved,
    Running,
}

/// A tool call that has not finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingToolCall {
    pub call_id: CallId,
    pub tool: String,
    pub args: Value,
    pub thread_id: Option<ThreadId>,
    pub status: ToolCallStatus,
    /// The seq of the event that asked for it.
    pub requested_seq: u64,
}

impl PendingToolCall {
    /// A call first heard of in `event`.
    fn new(
        event: &Event,
        call_id: &CallId,
        tool: &str,
        args: &Value,
        thread_id: Option<ThreadId>,
        status: ToolCallStatus,
    ) -> Self {
        Self {
            call_id: call_id.clone(),
            tool: tool.to_owned(),
            args: args.clone(),
            thread_id,
            status,
            requested_seq: event.seq,
        }
    }
}

pub(super) fn apply(pending: &mut BTreeMap<CallId, PendingToolCall>, event: &Event) {
    match &event.body {
        EventBody::ToolRequested {
            call_id,
            tool,
            args,
            thread_id,
            needs_approval,
            ..
        } => {
            let status = if *needs_approval {
                ToolCallStatus::AwaitingApproval
            } else {
                ToolCallStatus::Approved
            };
            pending.entry(call_id.clone()).or_insert_with(|| {
                PendingToolCall::new(event, call_id, tool, args, *thread_id, status)
            });
        }
        EventBody::ToolApproved { call_id } => {
            set_status(pending, call_id, ToolCallStatus::Approved)
        }
        EventBody::ToolStarted {
            call_id,
            tool,
            args,
            thread_id,
        } => {
            let running = ToolCallStatus::Running;
            let call = pending.entry(call_id.clone()).or_insert_with(|| {
                PendingToolCall::new(event, call_id, tool, args, *thread_id, running)
            });
            call.status = running;
        }
        EventBody::ToolDenied { call_id, .. } | EventBody::ToolFinished { call_id, .. } => {
            pending.remove(call_id);
        }
        _ => {}
    }
}

fn set_status(
    pending: &mut BTreeMap<CallId, PendingToolCall>,
    call_id: &CallId,
    status: ToolCallStatus,
) {
    if let Some(call) = pending.get_mut(call_id) {
        call.status = status;
    }
}
