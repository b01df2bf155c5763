//! Agents that call agents: the `delegate` tool gives a task to a sub-agent, which works in
//! a chat thread (and window) of its own, marked as its parent's, with a subset of the tools,
//! under depth, step, time and count limits. Its approvals come to the user like any other;
//! cancelling the parent cancels it; the parent is told its last answer.

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Instant;

use choir_proto::{AppKind, CallId, Command, EventBody, NewEvent, ThreadId};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::provider::ToolCallRequest;
use super::record::{append, Stop};
use super::{TurnContext, TurnLimits, AGENT};
use crate::tools::{derived_schema, ToolSpec};

pub const NAME: &str = "delegate";

/// Longest title of a sub-agent's window, in characters, before the task is cut.
const TITLE_CHARS: usize = 48;

static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: NAME,
        description: "Give a task to a sub-agent. It works in a chat window of its own with the tools you list (all of yours when you list none) and answers with its result, which is what you get back. Several delegate calls in one step run at the same time: use them for independent parts of a larger job. Say everything the sub-agent needs in the task: it does not see this conversation.",
        // Offered at every step of a turn: derived once.
        schema: SCHEMA.get_or_init(derived_schema::<Args>).clone(),
        side_effects: false,
        always_asks: false,
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Args {
    /// What to do, with all the context needed
    task: String,
    /// The tools it may use
    #[serde(default)]
    tools: Vec<String>,
    /// A short name for its window
    title: Option<String>,
}

/// Counts a sub-agent as working until dropped.
struct Slot<'a>(&'a TurnContext);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.subagents.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs a `delegate` call from the turn in `parent`; returns what the model is told.
pub(super) async fn run(
    ctx: &TurnContext,
    parent: ThreadId,
    call: &ToolCallRequest,
    limits: &TurnLimits,
    cancel: &CancellationToken,
) -> Result<String, Stop> {
    let call_id = CallId(call.id.clone());
    let clock = Instant::now();
    append(
        ctx,
        EventBody::ToolStarted {
            call_id: call_id.clone(),
            tool: NAME.into(),
            args: call.arguments.clone(),
            thread_id: Some(parent),
        },
    )
    .await?;
    let outcome = tokio::select! {
        outcome = delegate(ctx, parent, call, limits) => outcome,
        () = cancel.cancelled() => Err(Stop::Cancelled),
    };
    let (ok, output) = match &outcome {
        Ok(Ok(answer)) => (true, answer.clone()),
        Ok(Err(refusal)) => (false, refusal.clone()),
        Err(Stop::Cancelled) => (false, "cancelled with its parent's turn".to_owned()),
        Err(Stop::Failed(error)) => (false, error.clone()),
    };
    let finished = EventBody::ToolFinished {
        call_id,
        ok,
        exit_code: None,
        output: output.clone(),
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    append(ctx, finished).await?;
    match outcome {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(refusal)) => Ok(format!("error: {refusal}")),
        Err(stop) => Err(stop),
    }
}

/// Starts the sub-agent and waits for its answer: `Ok(Err(_))` is a refusal or a failure the
/// model is told about.
async fn delegate(
    ctx: &TurnContext,
    parent: ThreadId,
    call: &ToolCallRequest,
    limits: &TurnLimits,
) -> Result<Result<String, String>, Stop> {
    let args: Args = match serde_json::from_value(call.arguments.clone()) {
        Ok(args) => args,
        Err(err) => return Ok(Err(format!("invalid arguments: {err}"))),
    };
    if args.task.trim().is_empty() {
        return Ok(Err("the task is empty".into()));
    }
    let depth = limits.depth + 1;
    if depth > ctx.settings.max_depth {
        return Ok(Err(format!(
            "sub-agents may not delegate further (the limit is {} level{})",
            ctx.settings.max_depth,
            if ctx.settings.max_depth == 1 { "" } else { "s" }
        )));
    }
    let known = ctx.tools.specs();
    if let Some(unknown) = args
        .tools
        .iter()
        .find(|name| !limits.allows(name) || !known.iter().any(|spec| spec.name == name.as_str()))
    {
        return Ok(Err(format!("`{unknown}` is not a tool you may give")));
    }
    let max = ctx.settings.max_subagents;
    if ctx.subagents.fetch_add(1, Ordering::SeqCst) >= max {
        ctx.subagents.fetch_sub(1, Ordering::SeqCst);
        return Ok(Err(format!(
            "{max} sub-agents are already working; wait for one to finish"
        )));
    }
    let _slot = Slot(ctx);

    let title = args.title.unwrap_or_else(|| args.task.clone());
    let mut title: String = title.trim().chars().take(TITLE_CHARS).collect();
    title.insert_str(0, "↳ ");
    let mut events = ctx.store.subscribe(ctx.store.head() + 1);
    let opened = ctx
        .tools
        .world()
        .execute(
            Command::OpenWindow {
                app: AppKind::Chat,
                title: Some(title),
                rect: None,
            },
            AGENT.into(),
            None,
        )
        .await;
    let seqs = match opened {
        Ok(seqs) => seqs,
        Err(err) => return Ok(Err(format!("cannot open the sub-agent's window: {err}"))),
    };
    let first = seqs.first().copied().unwrap_or(0);
    let created = ctx
        .store
        .read(first, seqs.len())
        .await
        .map_err(|err| Stop::Failed(format!("cannot read the log: {err}")))?;
    let Some(thread_id) = created.iter().find_map(|event| match event.body {
        EventBody::ChatThreadCreated { thread_id, .. } => Some(thread_id),
        _ => None,
    }) else {
        return Ok(Err("the sub-agent's window has no chat thread".into()));
    };
    let start = vec![
        NewEvent::new(
            AGENT,
            EventBody::ChatSubagentStarted {
                thread_id,
                parent,
                call_id: CallId(call.id.clone()),
                depth,
                tools: args.tools,
            },
        ),
        NewEvent::new(
            AGENT,
            EventBody::ChatUserMessage {
                thread_id,
                text: args.task,
            },
        ),
    ];
    ctx.store
        .append(start)
        .await
        .map_err(|err| Stop::Failed(format!("cannot record the turn: {err}")))?;

    // Its answer: the last text of its turn, once the turn ends.
    let timeout = ctx.settings.subagent_timeout;
    let wait = async {
        let mut answer = String::new();
        loop {
            let event = match events.next().await {
                Ok(Some(event)) => event,
                Ok(None) => return Err(Stop::Failed("the log closed".into())),
                Err(err) => return Err(Stop::Failed(format!("cannot read the log: {err}"))),
            };
            match &event.body {
                // Its answer is its last step that called no tools (earlier text is narration).
                EventBody::ChatAssistantMessage {
                    thread_id: t,
                    text,
                    tool_calls,
                    ending,
                } if *t == thread_id && tool_calls.is_empty() && !text.trim().is_empty() => {
                    answer = match ending {
                        Some(ending) => format!("{text}\n[{}]", ending.label()),
                        None => text.clone(),
                    };
                }
                EventBody::ChatTurnCompleted { thread_id: t } if *t == thread_id => {
                    return Ok(if answer.is_empty() {
                        Err("the sub-agent ended without an answer".to_owned())
                    } else {
                        Ok(answer)
                    });
                }
                EventBody::ChatTurnFailed {
                    thread_id: t,
                    error,
                } if *t == thread_id => {
                    return Ok(Err(format!("the sub-agent failed: {error}")));
                }
                EventBody::ChatTurnCancelled { thread_id: t } if *t == thread_id => {
                    return Ok(Err("the sub-agent was cancelled".to_owned()));
                }
                _ => {}
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(result) => result,
        Err(_) => {
            append(ctx, EventBody::ChatCancelRequested { thread_id }).await?;
            Ok(Err(format!(
                "the sub-agent did not finish within {} s and was cancelled",
                timeout.as_secs()
            )))
        }
    }
}
