//! One agent turn: the model's answer, the tools it calls, until it answers in words.

use choir_proto::{CallId, ChatMessage, ChatRole, EphemeralBody, EventBody, NewEvent, ThreadId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::provider::{ChatRequest, Message, StreamEvent, ToolCallRequest};
use super::{slash, Approval, TurnContext, AGENT};
use crate::tools::ToolCall;

const SYSTEM_PROMPT: &str = "You are the agent of ChoirOS, a terminal-first operating shell. You work beside the user in their sandbox: its workspace directory holds their files and documents. Use the tools to look before you answer, keep answers short, and say what you changed. When asked to write something (a note, a plan, a draft), write it as a document with create_doc, which opens it in a writer window where the user can edit along with you, and revise it with edit_doc; do not paste long texts into the chat. Read a document again before editing it: the user may have changed it.";

/// How a turn ended early.
pub(super) enum Stop {
    Cancelled,
    Failed(String),
}

async fn append(ctx: &TurnContext, body: EventBody) -> Result<(), Stop> {
    ctx.store
        .append(vec![NewEvent::new(AGENT, body)])
        .await
        .map(|_| ())
        .map_err(|err| Stop::Failed(format!("cannot record the turn: {err}")))
}

pub(super) async fn run(
    ctx: &TurnContext,
    thread_id: ThreadId,
    history: Vec<ChatMessage>,
    cancel: CancellationToken,
) {
    if append(ctx, EventBody::ChatTurnStarted { thread_id })
        .await
        .is_err()
    {
        return;
    }
    let last = history
        .iter()
        .rev()
        .find(|m| m.role == ChatRole::User)
        .map(|m| m.text.clone())
        .unwrap_or_default();
    let result = match slash::parse(&last) {
        Some(command) => slash::run(ctx, thread_id, command, &cancel).await,
        None => converse(ctx, thread_id, &history, &cancel).await,
    };
    let end = match result {
        Ok(()) => EventBody::ChatTurnCompleted { thread_id },
        Err(Stop::Cancelled) => EventBody::ChatTurnCancelled { thread_id },
        Err(Stop::Failed(error)) => EventBody::ChatTurnFailed { thread_id, error },
    };
    if let Err(Stop::Failed(err)) = append(ctx, end).await {
        tracing::error!(%err, "cannot end a turn");
    }
}

fn to_messages(history: &[ChatMessage]) -> Vec<Message> {
    history
        .iter()
        .filter_map(|message| match message.role {
            ChatRole::User => Some(Message::User(message.text.clone())),
            ChatRole::Assistant => Some(Message::Assistant {
                text: message.text.clone(),
                tool_calls: Vec::new(),
            }),
            ChatRole::System => None,
        })
        .collect()
}

async fn converse(
    ctx: &TurnContext,
    thread_id: ThreadId,
    history: &[ChatMessage],
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    let mut messages = to_messages(history);
    let tools = ctx.tools.specs();
    for _ in 0..ctx.max_steps {
        let request = ChatRequest {
            system: SYSTEM_PROMPT.into(),
            messages: messages.clone(),
            tools: tools.clone(),
        };
        let (text, calls) = stream_answer(ctx, thread_id, &request, cancel).await?;
        if !text.is_empty() {
            append(
                ctx,
                EventBody::ChatAssistantMessage {
                    thread_id,
                    text: text.clone(),
                },
            )
            .await?;
        }
        messages.push(Message::Assistant {
            text,
            tool_calls: calls.clone(),
        });
        if calls.is_empty() {
            return Ok(());
        }
        for call in calls {
            let output = call_tool(ctx, thread_id, &call, cancel).await?;
            messages.push(Message::ToolResult {
                call_id: call.id,
                output,
            });
        }
    }
    Err(Stop::Failed(format!(
        "the model was still calling tools after {} steps; stopped",
        ctx.max_steps
    )))
}

/// Streams one model message: deltas go out as ephemerals; returns the text and tool calls.
async fn stream_answer(
    ctx: &TurnContext,
    thread_id: ThreadId,
    request: &ChatRequest,
    cancel: &CancellationToken,
) -> Result<(String, Vec<ToolCallRequest>), Stop> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stream = ctx.provider.stream(request, tx);
    tokio::pin!(stream);
    let mut finished = None;
    let mut text = String::new();
    let mut calls = Vec::new();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(Stop::Cancelled),
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
        Some(Err(err)) => Err(Stop::Failed(err.to_string())),
        _ => Ok((text, calls)),
    }
}

/// Runs one tool call (after approval if needed); returns what the model is told.
async fn call_tool(
    ctx: &TurnContext,
    thread_id: ThreadId,
    call: &ToolCallRequest,
    cancel: &CancellationToken,
) -> Result<String, Stop> {
    let Some(spec) = ctx
        .tools
        .specs()
        .into_iter()
        .find(|spec| spec.name == call.name)
    else {
        return Ok(format!("error: there is no tool named `{}`", call.name));
    };
    let call_id = CallId(call.id.clone());
    if ctx.policy.needs_approval(spec.name, spec.side_effects) {
        append(
            ctx,
            EventBody::ToolRequested {
                call_id: call_id.clone(),
                tool: call.name.clone(),
                args: call.arguments.clone(),
                thread_id: Some(thread_id),
                needs_approval: true,
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
            Some(Approval::Denied(reason)) => {
                return Ok(format!("the user denied this call: {reason}"))
            }
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
        Ok(result) => match result.exit_code {
            Some(code) => format!("exit code {code}\n{}", result.output),
            None if result.ok => result.output,
            None => format!("error: {}", result.output),
        },
        Err(err) => format!("error: {err}"),
    })
}
