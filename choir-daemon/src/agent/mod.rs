//! The chat agent: answers user messages with an LLM (or slash commands without one), runs
//! the tools the model asks for, waits for approval where the policy says so, and stops when
//! a client cancels. Every step is an event; streaming text goes out as ephemerals.

mod config;
pub mod provider;
mod slash;
mod turn;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use choir_proto::{CallId, EphemeralBody, EventBody, ThreadId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::activity::Activity;
use crate::store::EventStore;
use crate::tools::ToolRunner;

pub use config::{mask, AgentConfig, ApprovalPolicy, ConfigError, ProviderKind};
use provider::Provider;

/// The actor name on the agent's events.
pub const AGENT: &str = "agent";

/// A decision on a tool call that waited for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    Approved,
    Denied(String),
}

enum AgentMsg {
    AwaitApproval {
        call_id: CallId,
        reply: oneshot::Sender<Approval>,
    },
    TurnEnded(ThreadId),
}

/// What a turn needs; cheap to clone.
#[derive(Clone)]
struct TurnContext {
    store: EventStore,
    tools: ToolRunner,
    provider: Arc<dyn Provider>,
    policy: ApprovalPolicy,
    ephemerals: broadcast::Sender<EphemeralBody>,
    inbox: mpsc::Sender<AgentMsg>,
    max_steps: usize,
    /// A running turn keeps the sandbox from being stopped as idle.
    activity: Activity,
}

impl TurnContext {
    async fn await_approval(&self, call_id: CallId) -> Option<Approval> {
        let (reply, decision) = oneshot::channel();
        self.inbox
            .send(AgentMsg::AwaitApproval { call_id, reply })
            .await
            .ok()?;
        decision.await.ok()
    }
}

/// Most messages of a thread a turn sends the model (the latest ones).
const HISTORY: usize = 1000;

/// Starts the agent. It follows the log after `head`.
pub fn spawn(
    store: EventStore,
    tools: ToolRunner,
    config: &AgentConfig,
    ephemerals: broadcast::Sender<EphemeralBody>,
    head: u64,
    activity: Activity,
) {
    let (inbox, rx) = mpsc::channel(64);
    let provider = config.provider();
    tracing::info!(model = %provider.describe(), "agent ready");
    let ctx = TurnContext {
        store,
        tools,
        provider,
        policy: config.approval.clone(),
        ephemerals,
        inbox,
        max_steps: config.max_steps,
        activity,
    };
    tokio::spawn(run(ctx, head, rx));
}

async fn run(ctx: TurnContext, head: u64, mut inbox: mpsc::Receiver<AgentMsg>) {
    let mut events = ctx.store.subscribe(head + 1);
    let mut running: HashMap<ThreadId, CancellationToken> = HashMap::new();
    // Threads that got a user message while a turn ran: answered when it ends.
    let mut waiting: HashSet<ThreadId> = HashSet::new();
    let mut waiters: HashMap<CallId, oneshot::Sender<Approval>> = HashMap::new();
    let mut decided: HashMap<CallId, Approval> = HashMap::new();
    loop {
        tokio::select! {
            next = events.next() => {
                let event = match next {
                    Ok(Some(event)) => event,
                    Ok(None) => break,
                    Err(err) => {
                        tracing::error!(%err, "the agent cannot read the log");
                        break;
                    }
                };
                match &event.body {
                    EventBody::ChatUserMessage { thread_id, .. } => {
                        if running.contains_key(thread_id) {
                            waiting.insert(*thread_id);
                        } else {
                            running.insert(*thread_id, start_turn(&ctx, *thread_id));
                        }
                    }
                    EventBody::ChatCancelRequested { thread_id } => {
                        waiting.remove(thread_id);
                        if let Some(cancel) = running.get(thread_id) {
                            cancel.cancel();
                        }
                    }
                    EventBody::ToolApproved { call_id } => resolve(&mut waiters, &mut decided, call_id, Approval::Approved),
                    EventBody::ToolDenied { call_id, reason } => {
                        resolve(&mut waiters, &mut decided, call_id, Approval::Denied(reason.clone()))
                    }
                    _ => {}
                }
            }
            msg = inbox.recv() => match msg {
                Some(AgentMsg::AwaitApproval { call_id, reply }) => match decided.remove(&call_id) {
                    Some(approval) => {
                        let _ = reply.send(approval);
                    }
                    None => {
                        waiters.insert(call_id, reply);
                    }
                },
                Some(AgentMsg::TurnEnded(thread_id)) => {
                    running.remove(&thread_id);
                    if waiting.remove(&thread_id) {
                        running.insert(thread_id, start_turn(&ctx, thread_id));
                    }
                }
                None => break,
            },
        }
    }
}

fn resolve(
    waiters: &mut HashMap<CallId, oneshot::Sender<Approval>>,
    decided: &mut HashMap<CallId, Approval>,
    call_id: &CallId,
    approval: Approval,
) {
    match waiters.remove(call_id) {
        Some(reply) => {
            let _ = reply.send(approval);
        }
        None => {
            decided.insert(call_id.clone(), approval);
        }
    }
}

fn start_turn(ctx: &TurnContext, thread_id: ThreadId) -> CancellationToken {
    let cancel = CancellationToken::new();
    let ctx = ctx.clone();
    let token = cancel.clone();
    tokio::spawn(async move {
        let _busy = ctx.activity.work();
        // The thread as committed so far, read from the log (the world holds its latest
        // messages only).
        let history = match ctx
            .store
            .thread_messages(thread_id, ctx.store.head(), HISTORY)
            .await
        {
            Ok(history) => history,
            Err(err) => {
                tracing::error!(%err, thread = %thread_id, "cannot read the thread for a turn");
                Vec::new()
            }
        };
        turn::run(&ctx, thread_id, history, token).await;
        let _ = ctx.inbox.send(AgentMsg::TurnEnded(thread_id)).await;
    });
    cancel
}
