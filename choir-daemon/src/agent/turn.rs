//! One agent turn: the model's answer, the tools it calls, until it answers in words.

use choir_proto::{
    CallId, EphemeralBody, EventBody, MessageEnding, NewEvent, PlannedCall, ThreadId,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget;
use super::history::{self, denial_text, result_text};
use super::provider::{ChatRequest, Finish, Message, StreamEvent, ToolCallRequest};
use super::record::{append, Stop};
use super::{delegate, slash, Approval, TurnContext, TurnLimits, AGENT};
use crate::tools::{ToolCall, ToolSpec};

const SYSTEM_PROMPT: &str = "You are the agent of ChoirOS, a terminal-first operating shell. You work beside the user in their sandbox: its workspace directory holds their files and documents. Use the tools to look before you answer, keep answers short, and say what you changed. To change a file, prefer edit_file (one exact passage, or a unified diff) over rewriting it with write_file. When asked to write something (a note, a plan, a draft), write it as a document with create_doc, which opens it in a writer window where the user can edit along with you, and revise it with edit_doc; do not paste long texts into the chat. Read a document again before editing it: the user may have changed it.";

const SUBAGENT_PROMPT: &str = "You are a sub-agent: another agent gave you the task in the first message. Do it with the tools you have, then answer with the result in a few sentences: your last message is all the other agent sees.";

/// The file in the workspace whose text goes into the system prompt.
pub const AGENTS_FILE: &str = "AGENTS.md";
/// Most bytes of it that are read.
const AGENTS_FILE_BYTES: usize = 32 * 1024;

/// Most messages of a thread read for a turn (the latest ones; the budget drops more).
pub(super) const HISTORY: usize = 1000;

/// Runs a turn; returns the seq it started at (it answers what was posted before).
pub(super) async fn run(
    ctx: &TurnContext,
    thread_id: ThreadId,
    limits: TurnLimits,
    cancel: CancellationToken,
) -> u64 {
    let Ok(started) = append(ctx, EventBody::ChatTurnStarted { thread_id }).await else {
        return 0;
    };
    let result = match ctx
        .store
        .thread_conversation(thread_id, started, HISTORY)
        .await
    {
        Ok(events) => {
            let messages = history::assemble(&events);
            match messages.last() {
                Some(Message::User(last)) => match slash::parse(last) {
                    Some(command) => slash::run(ctx, thread_id, command, &cancel)
                        .await
                        .map(|()| None),
                    None => converse(ctx, thread_id, messages, &limits, &cancel).await,
                },
                // Everything was answered already (a post that raced the last turn's start).
                _ => Ok(None),
            }
        }
        Err(err) => Err(Stop::Failed(format!("cannot read the thread: {err}"))),
    };
    // The answer that ends the turn is committed with the turn's end: one commit, not two.
    let end = match result {
        Ok(answer) => answer
            .into_iter()
            .chain([EventBody::ChatTurnCompleted { thread_id }])
            .collect(),
        Err(Stop::Cancelled) => vec![EventBody::ChatTurnCancelled { thread_id }],
        Err(Stop::Failed(error)) => vec![EventBody::ChatTurnFailed { thread_id, error }],
    };
    let end = end.into_iter().map(|body| NewEvent::new(AGENT, body));
    if let Err(err) = ctx.store.append(end.collect()).await {
        tracing::error!(%err, "cannot end a turn");
    }
    if let Some(usage) = &ctx.usage {
        usage.refresh().await;
    }
    started
}

/// The system prompt: ours, the sub-agent's note, and the workspace's AGENTS.md.
async fn system_prompt(ctx: &TurnContext, limits: &TurnLimits) -> String {
    let mut prompt = SYSTEM_PROMPT.to_owned();
    if limits.depth > 0 {
        prompt.push_str("\n\n");
        prompt.push_str(SUBAGENT_PROMPT);
    }
    // At most 32 KiB, and at most an eighth of the model's context.
    let budget_bytes = ctx.settings.budget.context_tokens as usize / 8 * 3;
    if let Some((text, cut)) = read_agents_file(ctx, AGENTS_FILE_BYTES.min(budget_bytes)).await {
        prompt.push_str(&format!(
            "\n\nThe workspace's {AGENTS_FILE} says (follow it where it applies):\n\n{text}"
        ));
        if cut {
            prompt.push_str("\n[the rest of the file was left out]");
        }
    }
    prompt
}

/// The workspace's AGENTS.md, at most `limit` bytes of it and whether more was left out; only
/// a regular file inside the workspace (a link out of it, a FIFO or a device is ignored).
async fn read_agents_file(ctx: &TurnContext, limit: usize) -> Option<(String, bool)> {
    use tokio::io::AsyncReadExt;
    let path = ctx.tools.workspace().resolve(AGENTS_FILE).ok()?;
    let metadata = tokio::fs::metadata(&path).await.ok()?;
    if !metadata.is_file() {
        return None;
    }
    let file = tokio::fs::File::open(&path).await.ok()?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .ok()?;
    let cut = bytes.len() > limit;
    bytes.truncate(limit);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (!text.trim().is_empty()).then_some((text, cut))
}

/// The tools a turn offers the model: the registry's (or the sub-agent's subset), and
/// `delegate` while the depth allows.
fn offered_tools(ctx: &TurnContext, limits: &TurnLimits) -> Vec<ToolSpec> {
    let mut tools: Vec<ToolSpec> = ctx
        .tools
        .specs()
        .into_iter()
        .filter(|spec| limits.allows(spec.name))
        .collect();
    if limits.depth < ctx.settings.max_depth {
        tools.push(delegate::spec());
    }
    tools
}

/// Talks with the model until it answers without calling tools; that last answer is
/// returned, to be committed with the turn's end (the steps before it are committed as they
/// come, with their tool calls).
async fn converse(
    ctx: &TurnContext,
    thread_id: ThreadId,
    mut messages: Vec<Message>,
    limits: &TurnLimits,
    cancel: &CancellationToken,
) -> Result<Option<EventBody>, Stop> {
    let system = system_prompt(ctx, limits).await;
    let tools = offered_tools(ctx, limits);
    let budget = ctx.settings.budget;
    let fixed = budget::estimate(&system)
        + tools
            .iter()
            .map(|tool| {
                budget::estimate(tool.description) + budget::estimate(&tool.schema.to_string())
            })
            .sum::<usize>();
    for _ in 0..limits.max_steps {
        let fitted = budget::fit(messages.clone(), fixed, budget)
            .map_err(|err| Stop::Failed(err.to_string()))?;
        let mut system = system.clone();
        if fitted.dropped_turns > 0 {
            system.push_str(&format!(
                "\n\n({} earlier exchanges of this conversation were left out to fit the model's context.)",
                fitted.dropped_turns
            ));
        }
        let request = ChatRequest {
            system,
            messages: fitted.messages,
            tools: tools.clone(),
            max_tokens: budget.max_tokens,
        };
        let (text, calls, finish) = match stream_answer(ctx, thread_id, &request, cancel).await {
            Ok(answer) => answer,
            Err((stop, partial)) => {
                if !partial.trim().is_empty() {
                    let _ = append(
                        ctx,
                        assistant(
                            thread_id,
                            partial,
                            Vec::new(),
                            Some(MessageEnding::Interrupted),
                        ),
                    )
                    .await;
                }
                return Err(stop);
            }
        };
        if finish == Finish::Length {
            // Tool calls cut off mid-arguments cannot run; the text is kept, marked.
            return Ok(Some(assistant(
                thread_id,
                text,
                Vec::new(),
                Some(MessageEnding::CutOff),
            )));
        }
        // The daemon's own ids: unique in the log, whatever the model sent (or left out).
        let calls: Vec<ToolCallRequest> = calls
            .into_iter()
            .map(|call| ToolCallRequest {
                id: format!("call-{}", crate::correlation()),
                ..call
            })
            .collect();
        let planned = calls
            .iter()
            .map(|call| PlannedCall {
                call_id: CallId(call.id.clone()),
                tool: call.name.clone(),
                args: call.arguments.clone(),
            })
            .collect();
        if calls.is_empty() {
            return Ok((!text.trim().is_empty()).then(|| assistant(thread_id, text, planned, None)));
        }
        append(ctx, assistant(thread_id, text.clone(), planned, None)).await?;
        messages.push(Message::Assistant {
            text,
            tool_calls: calls.clone(),
        });
        let outputs = run_calls(ctx, thread_id, &calls, limits, cancel).await?;
        for (call, output) in calls.into_iter().zip(outputs) {
            messages.push(Message::ToolResult {
                call_id: call.id,
                output,
            });
        }
    }
    Err(Stop::Failed(format!(
        "the model was still calling tools after {} steps; stopped",
        limits.max_steps
    )))
}

fn assistant(
    thread_id: ThreadId,
    text: String,
    tool_calls: Vec<PlannedCall>,
    ending: Option<MessageEnding>,
) -> EventBody {
    EventBody::ChatAssistantMessage {
        thread_id,
        text,
        tool_calls,
        ending,
    }
}

/// Runs a step's calls in order; consecutive delegations run at once (each sub-agent works in
/// its own thread). Returns the outputs in the calls' order.
async fn run_calls(
    ctx: &TurnContext,
    thread_id: ThreadId,
    calls: &[ToolCallRequest],
    limits: &TurnLimits,
    cancel: &CancellationToken,
) -> Result<Vec<String>, Stop> {
    let mut outputs = Vec::with_capacity(calls.len());
    let mut rest = calls;
    while let Some(call) = rest.first() {
        if call.name == delegate::NAME {
            let run = rest
                .iter()
                .take_while(|call| call.name == delegate::NAME)
                .count();
            let (group, after) = rest.split_at(run);
            let answers = futures_util::future::join_all(
                group
                    .iter()
                    .map(|call| delegate::run(ctx, thread_id, call, limits, cancel)),
            )
            .await;
            for answer in answers {
                outputs.push(answer?);
            }
            rest = after;
        } else {
            outputs.push(call_tool(ctx, thread_id, call, limits, cancel).await?);
            rest = &rest[1..];
        }
    }
    Ok(outputs)
}

/// Streams one model message: deltas go out as ephemerals; returns the text, the tool calls
/// and how it ended, or why it stopped with the text streamed until then.
async fn stream_answer(
    ctx: &TurnContext,
    thread_id: ThreadId,
    request: &ChatRequest,
    cancel: &CancellationToken,
) -> Result<(String, Vec<ToolCallRequest>, Finish), (Stop, String)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stream = ctx.provider.stream(request, tx);
    tokio::pin!(stream);
    let mut finished = None;
    let mut text = String::new();
    let mut calls = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err((Stop::Cancelled, text)),
            event = rx.recv() => match event {
                Some(StreamEvent::Text(delta)) => {
                    let _ = ctx.ephemerals.send(EphemeralBody::ChatDelta { thread_id, text: delta.clone() });
                    text.push_str(&delta);
                }
                Some(StreamEvent::ToolCall(call)) => calls.push(call),
                // The provider is done and dropped its sender.
                None => break,
            },
            result = &mut stream, if finished.is_none() => finished = Some(result),
        }
    }
    match finished {
        Some(Err(err)) => Err((Stop::Failed(err.to_string()), text)),
        Some(Ok(finish)) => Ok((text, calls, finish)),
        None => Ok((text, calls, Finish::Done)),
    }
}

/// Records a call refused before it ran (unknown tool, arguments that do not fit), so the
/// chat shows it and later requests carry its result.
async fn refuse(
    ctx: &TurnContext,
    thread_id: ThreadId,
    call: &ToolCallRequest,
    reason: String,
) -> Result<String, Stop> {
    let call_id = CallId(call.id.clone());
    let events = vec![
        NewEvent::new(
            AGENT,
            EventBody::ToolRequested {
                call_id: call_id.clone(),
                tool: call.name.clone(),
                args: call.arguments.clone(),
                thread_id: Some(thread_id),
                needs_approval: false,
                preview: None,
            },
        ),
        NewEvent::new(
            AGENT,
            EventBody::ToolFinished {
                call_id,
                ok: false,
                exit_code: None,
                output: reason.clone(),
                duration_ms: 0,
            },
        ),
    ];
    ctx.store
        .append(events)
        .await
        .map_err(|err| Stop::Failed(format!("cannot record the turn: {err}")))?;
    Ok(result_text(false, None, &reason))
}

/// Runs one tool call (after approval if needed); returns what the model is told.
async fn call_tool(
    ctx: &TurnContext,
    thread_id: ThreadId,
    call: &ToolCallRequest,
    limits: &TurnLimits,
    cancel: &CancellationToken,
) -> Result<String, Stop> {
    if !limits.allows(&call.name) {
        let reason = format!(
            "the tool `{}` is not among those this agent may use",
            call.name
        );
        return refuse(ctx, thread_id, call, reason).await;
    }
    // Arguments are checked before anyone is asked to approve them.
    let spec = match ctx.tools.check(&call.name, &call.arguments) {
        Ok(spec) => spec,
        Err(err) => return refuse(ctx, thread_id, call, err.to_string()).await,
    };
    let call_id = CallId(call.id.clone());
    if spec.always_asks || ctx.policy.needs_approval(spec.name, spec.side_effects) {
        let preview = tokio::select! {
            preview = ctx.tools.preview(&call.name, &call.arguments, AGENT) => preview,
            () = cancel.cancelled() => return Err(Stop::Cancelled),
        };
        append(
            ctx,
            EventBody::ToolRequested {
                call_id: call_id.clone(),
                tool: call.name.clone(),
                args: call.arguments.clone(),
                thread_id: Some(thread_id),
                needs_approval: true,
                preview,
            },
        )
        .await?;
        let decision = tokio::select! {
            decision = ctx.await_approval(call_id.clone()) => decision,
            () = cancel.cancelled() => {
                let reason = "the turn was cancelled".to_owned();
                append(ctx, EventBody::ToolDenied { call_id, reason }).await?;
                return Err(Stop::Cancelled);
            }
        };
        match decision {
            Some(Approval::Approved) => {}
            Some(Approval::Denied(reason)) => return Ok(denial_text(&reason)),
            None => return Err(Stop::Failed("the agent stopped".into())),
        }
    }
    let request = ToolCall {
        tool: call.name.clone(),
        args: call.arguments.clone(),
        call_id: Some(call_id),
        thread_id: Some(thread_id),
        actor: AGENT.into(),
        correlation: None,
    };
    let result = ctx.tools.call(request, cancel.child_token()).await;
    if cancel.is_cancelled() {
        return Err(Stop::Cancelled);
    }
    Ok(match result {
        Ok(result) => result_text(result.ok, result.exit_code, &result.output),
        Err(err) => format!("error: {err}"),
    })
}
