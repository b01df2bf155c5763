//! The chat agent: answers user messages with an LLM (or slash commands without one), runs
//! the tools the model asks for, waits for approval where the policy says so, and stops when
//! a client cancels. Every step is an event; streaming text goes out as ephemerals.

mod budget;
mod config;
mod delegate;
pub mod gateway;
mod history;
pub mod provider;
mod record;
mod recovery;
mod slash;
mod turn;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use choir_proto::{CallId, EphemeralBody, Event, EventBody, Subagent, ThreadId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use crate::activity::Activity;
use crate::store::{EventStore, Follow, Step};
use crate::tools::ToolRunner;

pub use budget::{Budget, FALLBACK_CONTEXT};
pub use config::{mask, AgentConfig, ApprovalPolicy, ConfigError, ProviderKind};
use provider::Provider;
pub use recovery::recover;
pub use turn::AGENTS_FILE;

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
    /// A turn ended; it answered what was posted before seq `started`.
    TurnEnded { thread_id: ThreadId, started: u64 },
}

/// Limits on every turn, from the configuration.
#[derive(Debug, Clone)]
struct Settings {
    budget: Budget,
    max_steps: usize,
    /// Deepest sub-agent (1: the user's agent may delegate, its sub-agents may not).
    max_depth: u32,
    /// Most model calls in one sub-agent turn.
    subagent_steps: usize,
    /// Most sub-agents working at once, in all.
    max_subagents: usize,
    /// Longest a sub-agent may work before its parent stops waiting and cancels it.
    subagent_timeout: Duration,
}

/// What one turn may do: its depth in the delegation tree, its tools, its steps.
#[derive(Debug, Clone)]
struct TurnLimits {
    depth: u32,
    /// None: every tool.
    tools: Option<Vec<String>>,
    max_steps: usize,
}

impl TurnLimits {
    fn allows(&self, tool: &str) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|tools| tools.iter().any(|name| name == tool))
    }
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
    settings: Arc<Settings>,
    /// Sub-agents working now, in all.
    subagents: Arc<std::sync::atomic::AtomicUsize>,
    /// A running turn keeps the sandbox from being stopped as idle.
    activity: Activity,
    /// The model gateway's figures, told after each turn (with a gateway).
    usage: Option<gateway::UsageNews>,
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

/// What a turn in `thread_id` would send the model now, read, assembled and fitted as a turn
/// does: the number of messages and the estimated input tokens (without the system prompt and
/// tools). For benchmarks and diagnostics.
pub async fn request_size(
    store: &EventStore,
    thread_id: ThreadId,
    budget: Budget,
) -> Result<(usize, usize), crate::store::StoreError> {
    let events = store
        .thread_conversation(thread_id, store.head(), turn::HISTORY)
        .await?;
    let messages = history::assemble(&events);
    Ok(match budget::fit(messages, 0, budget) {
        Ok(fitted) => (fitted.messages.len(), fitted.tokens),
        Err(too_large) => (0, too_large.needed),
    })
}

/// Where the agent takes up the log: it follows it after `head`; `subagents` are the
/// sub-agent threads the log held up to there (their limits hold after a restart too).
pub struct Resume {
    pub head: u64,
    pub subagents: Vec<(ThreadId, Subagent)>,
}

/// What the agent shares with the rest of the daemon.
pub struct Daemon {
    /// Streaming text and other live signals for every client.
    pub ephemerals: broadcast::Sender<EphemeralBody>,
    /// Turns hold work guards here while they run.
    pub activity: Activity,
    /// Tells clients the user's use of the model gateway, if there is one.
    pub usage: Option<gateway::UsageNews>,
    /// Cancelled when the daemon stops: the agent stops following the log and cancels its
    /// turns.
    pub shutdown: CancellationToken,
}

/// Starts the agent.
pub fn spawn(
    store: EventStore,
    tools: ToolRunner,
    config: &AgentConfig,
    Resume { head, subagents }: Resume,
    Daemon {
        ephemerals,
        activity,
        usage,
        shutdown,
    }: Daemon,
) {
    let (inbox, rx) = mpsc::channel(64);
    let provider = config.provider();
    let settings = Settings {
        budget: config.budget(),
        max_steps: config.max_steps,
        max_depth: config.max_depth,
        subagent_steps: config.subagent_steps,
        max_subagents: config.max_subagents,
        subagent_timeout: config.subagent_timeout,
    };
    tracing::info!(model = %provider.describe(), budget = ?settings.budget, "agent ready");
    let ctx = TurnContext {
        store,
        tools,
        provider,
        policy: config.approval.clone(),
        ephemerals,
        inbox,
        settings: Arc::new(settings),
        subagents: Arc::default(),
        activity,
        usage,
    };
    tokio::spawn(run(ctx, head, subagents, rx, shutdown));
}

/// The agent's own state: running turns, queued posts, sub-agents, approvals.
#[derive(Default)]
struct Agent {
    running: HashMap<ThreadId, CancellationToken>,
    /// The running turns' tasks, to stop when the daemon does.
    tasks: HashMap<ThreadId, AbortHandle>,
    /// Threads that got a user message while a turn ran, with the latest such message's seq:
    /// answered when the turn ends, unless that turn had already read it.
    waiting: HashMap<ThreadId, u64>,
    /// Sub-agent threads: their parent and limits.
    subagents: HashMap<ThreadId, (ThreadId, TurnLimits)>,
    /// Sub-agents whose parent's turn was cancelled (or ended) before they started: their
    /// task is not taken up.
    orphans: HashSet<ThreadId>,
    waiters: HashMap<CallId, oneshot::Sender<Approval>>,
    decided: HashMap<CallId, Approval>,
}

impl Agent {
    fn limits(&self, ctx: &TurnContext, thread_id: ThreadId) -> TurnLimits {
        match self.subagents.get(&thread_id) {
            Some((_, limits)) => limits.clone(),
            None => TurnLimits {
                depth: 0,
                tools: None,
                max_steps: ctx.settings.max_steps,
            },
        }
    }

    /// Records a sub-agent thread's limits: its own tools, or else its parent's.
    fn add_subagent(&mut self, ctx: &TurnContext, thread_id: ThreadId, subagent: &Subagent) {
        let tools = if subagent.tools.is_empty() {
            self.limits(ctx, subagent.parent).tools
        } else {
            Some(subagent.tools.clone())
        };
        let limits = TurnLimits {
            depth: subagent.depth,
            tools,
            max_steps: ctx.settings.subagent_steps,
        };
        self.subagents.insert(thread_id, (subagent.parent, limits));
    }

    fn start(&mut self, ctx: &TurnContext, thread_id: ThreadId) {
        let limits = self.limits(ctx, thread_id);
        let (cancel, task) = start_turn(ctx, thread_id, limits);
        self.running.insert(thread_id, cancel);
        self.tasks.insert(thread_id, task);
    }

    /// Cancels the thread's turn and those of its sub-agents, theirs, and so on.
    fn cancel(&mut self, thread_id: ThreadId) {
        let mut stack = vec![thread_id];
        let mut seen = HashSet::new();
        while let Some(thread) = stack.pop() {
            if !seen.insert(thread) {
                continue;
            }
            self.waiting.remove(&thread);
            if let Some(cancel) = self.running.get(&thread) {
                cancel.cancel();
            }
            stack.extend(
                self.subagents
                    .iter()
                    .filter(|(_, (parent, _))| *parent == thread)
                    .map(|(child, _)| *child),
            );
        }
    }

    fn resolve(&mut self, call_id: &CallId, approval: Approval) {
        match self.waiters.remove(call_id) {
            Some(reply) => {
                let _ = reply.send(approval);
            }
            None => {
                self.decided.insert(call_id.clone(), approval);
            }
        }
    }
}

async fn run(
    ctx: TurnContext,
    head: u64,
    mut known: Vec<(ThreadId, Subagent)>,
    inbox: mpsc::Receiver<AgentMsg>,
    shutdown: CancellationToken,
) {
    let mut follow =
        Follow::new("the agent", ctx.store.subscribe(head + 1), shutdown).with_messages(inbox);
    let mut agent = Agent::default();
    // Parents first, so a sub-agent without tools of its own inherits its parent's.
    known.sort_by_key(|(_, subagent)| subagent.depth);
    for (thread_id, subagent) in &known {
        agent.add_subagent(&ctx, *thread_id, subagent);
    }
    while let Some(step) = follow.next().await {
        match step {
            Step::Event(event) => agent.on_event(&ctx, &event),
            Step::Message(msg) => agent.on_message(&ctx, msg),
            Step::Tick => {}
        }
    }
    // The daemon stops (or the log ended): running turns stop where they are, their tools
    // killed, and record nothing more; the next start finds them unfinished and says the
    // daemon restarted (`recovery.rs`).
    for task in agent.tasks.values() {
        task.abort();
    }
}

impl Agent {
    fn on_event(&mut self, ctx: &TurnContext, event: &Event) {
        match &event.body {
            EventBody::ChatUserMessage { thread_id, .. } => {
                if self.orphans.remove(thread_id) {
                    tracing::info!(thread = %thread_id, "a sub-agent's parent stopped before it started");
                } else if self.running.contains_key(thread_id) {
                    self.waiting.insert(*thread_id, event.seq);
                } else {
                    self.start(ctx, *thread_id);
                }
            }
            EventBody::ChatSubagentStarted {
                thread_id,
                parent,
                depth,
                tools,
                ..
            } => {
                let subagent = Subagent {
                    parent: *parent,
                    depth: *depth,
                    tools: tools.clone(),
                };
                self.add_subagent(ctx, *thread_id, &subagent);
                let parent_working = self
                    .running
                    .get(parent)
                    .is_some_and(|cancel| !cancel.is_cancelled());
                if !parent_working {
                    self.orphans.insert(*thread_id);
                }
            }
            EventBody::ChatCancelRequested { thread_id } => self.cancel(*thread_id),
            EventBody::ToolApproved { call_id } => self.resolve(call_id, Approval::Approved),
            EventBody::ToolDenied { call_id, reason } => {
                self.resolve(call_id, Approval::Denied(reason.clone()))
            }
            _ => {}
        }
    }

    fn on_message(&mut self, ctx: &TurnContext, msg: AgentMsg) {
        match msg {
            AgentMsg::AwaitApproval { call_id, reply } => match self.decided.remove(&call_id) {
                Some(approval) => {
                    let _ = reply.send(approval);
                }
                None => {
                    self.waiters.insert(call_id, reply);
                }
            },
            AgentMsg::TurnEnded { thread_id, started } => {
                self.running.remove(&thread_id);
                self.tasks.remove(&thread_id);
                // A post the ended turn did not read is the next turn's question.
                if self
                    .waiting
                    .remove(&thread_id)
                    .is_some_and(|seq| seq > started)
                {
                    self.start(ctx, thread_id);
                }
            }
        }
    }
}

fn start_turn(
    ctx: &TurnContext,
    thread_id: ThreadId,
    limits: TurnLimits,
) -> (CancellationToken, AbortHandle) {
    let cancel = CancellationToken::new();
    let ctx = ctx.clone();
    let token = cancel.clone();
    let task = tokio::spawn(async move {
        let _busy = ctx.activity.work();
        let started = turn::run(&ctx, thread_id, limits, token).await;
        let _ = ctx
            .inbox
            .send(AgentMsg::TurnEnded { thread_id, started })
            .await;
    });
    (cancel, task.abort_handle())
}
