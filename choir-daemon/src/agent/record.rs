//! How a turn writes to the log, and how it ends early: shared by the turn and what it runs
//! (sub-agents, slash commands), so that none of them needs the others.

use choir_proto::{EventBody, NewEvent};

use super::{TurnContext, AGENT};

/// How a turn ended early.
pub(super) enum Stop {
    Cancelled,
    Failed(String),
}

/// Appends one event as the agent; its seq.
pub(super) async fn append(ctx: &TurnContext, body: EventBody) -> Result<u64, Stop> {
    ctx.store
        .append(vec![NewEvent::new(AGENT, body)])
        .await
        .map(|events| events.last().map_or(0, |event| event.seq))
        .map_err(|err| Stop::Failed(format!("cannot record the turn: {err}")))
}
