//! A local HTTP server that speaks the providers' real streaming wire formats (OpenAI chat
//! completions and Anthropic Messages, SSE) from a script, and helpers to run agent turns
//! against it in an in-process daemon.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use choir_daemon::agent::provider::HttpSettings;
use choir_daemon::agent::{AgentConfig, ApprovalPolicy, ProviderKind};
use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{AppKind, CallId, Command, Event, EventBody, ThreadId};
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::{Client, WAIT};

/// One scripted answer of the fake model server.
#[derive(Clone)]
pub enum Reply {
    /// 200 with these SSE chunks, each sent after its delay.
    Stream(Vec<(u64, String)>),
    /// 200, one chunk, then silence forever.
    Stall(String),
    /// Another status with a body and headers.
    Status(u16, String, Vec<(&'static str, &'static str)>),
    /// No response at all: the request is read and nothing is ever sent back (a server
    /// whose process is stopped).
    Hang,
    /// 200 with these chunks, then the connection breaks (a server killed mid-answer).
    Break(Vec<(u64, String)>),
}

#[derive(Clone, Default)]
pub struct Script {
    pub replies: Arc<Mutex<VecDeque<Reply>>>,
    pub requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

pub async fn answer(State(script): State<Script>, headers: HeaderMap, body: String) -> Response {
    script
        .requests
        .lock()
        .unwrap()
        .push((headers, serde_json::from_str(&body).unwrap()));
    let reply = script.replies.lock().unwrap().pop_front();
    let sse = |stream: Body| {
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(stream)
            .unwrap()
    };
    match reply {
        Some(Reply::Stream(chunks)) => sse(Body::from_stream(
            futures_util::stream::iter(chunks).then(|(delay, chunk)| async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                Ok::<_, std::io::Error>(chunk)
            }),
        )),
        Some(Reply::Stall(first)) => sse(Body::from_stream(
            futures_util::stream::iter([Ok::<_, std::io::Error>(first)])
                .chain(futures_util::stream::pending()),
        )),
        Some(Reply::Status(status, body, headers)) => {
            let mut response = Response::builder().status(StatusCode::from_u16(status).unwrap());
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(Body::from(body)).unwrap()
        }
        Some(Reply::Hang) => {
            futures_util::future::pending::<()>().await;
            unreachable!()
        }
        Some(Reply::Break(chunks)) => sse(Body::from_stream(
            futures_util::stream::iter(chunks)
                .then(|(delay, chunk)| async move {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    Ok::<_, std::io::Error>(chunk)
                })
                .chain(futures_util::stream::once(async {
                    Err(std::io::Error::other("killed"))
                })),
        )),
        None => Response::builder()
            .status(500)
            .body(Body::from("script exhausted"))
            .unwrap(),
    }
}

pub async fn model_server(replies: Vec<Reply>) -> (String, Script) {
    let script = Script::default();
    script.replies.lock().unwrap().extend(replies);
    let app = Router::new()
        .route("/v1/chat/completions", post(answer))
        .route("/v1/messages", post(answer))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, script)
}

pub fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
        attempts: 3,
        max_backoff: Duration::from_millis(50),
        response_timeout: Duration::from_secs(2),
        unix_socket: None,
    }
}

pub fn openai(url: &str, approval: ApprovalPolicy) -> AgentConfig {
    AgentConfig {
        provider: ProviderKind::OpenAi,
        model: Some("test-model".into()),
        openai_base_url: format!("{url}/v1"),
        openai_api_key: Some("sk-test-key-1234".into()),
        approval,
        http: settings(),
        ..AgentConfig::default()
    }
}

pub fn anthropic(url: &str) -> AgentConfig {
    AgentConfig {
        provider: ProviderKind::Anthropic,
        model: Some("claude-test".into()),
        anthropic_base_url: url.to_owned(),
        anthropic_api_key: Some("sk-ant-test-5678".into()),
        approval: ApprovalPolicy::Ask,
        http: settings(),
        ..AgentConfig::default()
    }
}

/// A daemon on the data dir `dir` (which may hold a log already).
pub async fn start_at(dir: &std::path::Path, agent: AgentConfig) -> RunningDaemon {
    Daemon::start(DaemonConfig {
        agent,
        ..DaemonConfig::local(dir)
    })
    .await
    .unwrap()
}

/// Waits until the log holds `count` events that end turns; returns the whole log.
pub async fn turns_ended(daemon: &RunningDaemon, count: usize) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = daemon.store.read(1, 10_000).await.unwrap();
        let ended = events
            .iter()
            .filter(|e| {
                matches!(
                    e.body,
                    EventBody::ChatTurnCompleted { .. }
                        | EventBody::ChatTurnFailed { .. }
                        | EventBody::ChatTurnCancelled { .. }
                )
            })
            .count();
        if ended >= count {
            return events;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ended} of {count} turns ended: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An OpenAI stream of these text parts, `delay` ms apart, that ends with `finish_reason`.
pub fn openai_slow_text(parts: &[&str], delay: u64, finish_reason: &str) -> Vec<(u64, String)> {
    let mut chunks: Vec<_> = parts
        .iter()
        .map(|part| {
            let chunk = json!({"choices": [{"index": 0, "delta": {"content": part}}]});
            (delay, format!("data: {chunk}\n\n"))
        })
        .collect();
    let end = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]});
    chunks.push((5, format!("data: {end}\n\n")));
    chunks.push((5, "data: [DONE]\n\n".into()));
    chunks
}

pub async fn start(agent: AgentConfig) -> (tempfile::TempDir, RunningDaemon) {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(DaemonConfig {
        agent,
        ..DaemonConfig::local(dir.path())
    })
    .await
    .unwrap();
    (dir, daemon)
}

/// Opens a chat window (thread 1) and posts `text` from a client; returns the client.
pub async fn chat(daemon: &RunningDaemon, text: &str) -> Client {
    let (mut client, _) = Client::hello(daemon, None).await;
    client
        .command(
            1,
            Command::OpenWindow {
                app: AppKind::Chat,
                title: None,
                rect: None,
            },
        )
        .await;
    client
        .command(
            2,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: text.into(),
            },
        )
        .await;
    client
}

/// Waits until the log holds an event that ends a turn; returns the events from the user's
/// message on.
pub async fn turn_events(daemon: &RunningDaemon) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = daemon.store.read(1, 1000).await.unwrap();
        let ended = events.iter().any(|e| {
            matches!(
                e.body,
                EventBody::ChatTurnCompleted { .. }
                    | EventBody::ChatTurnFailed { .. }
                    | EventBody::ChatTurnCancelled { .. }
            )
        });
        if ended {
            let start = events
                .iter()
                .position(|e| matches!(e.body, EventBody::ChatUserMessage { .. }))
                .unwrap();
            return events[start..].to_vec();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the turn never ended: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the log to hold an event of type `kind`; returns the call id it names.
pub async fn wait_for_call(daemon: &RunningDaemon, kind: &str) -> CallId {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = daemon.store.read(1, 1000).await.unwrap();
        let found = events.iter().find_map(|e| match &e.body {
            EventBody::ToolRequested { call_id, .. } | EventBody::ToolStarted { call_id, .. }
                if e.body.type_name() == kind =>
            {
                Some(call_id.clone())
            }
            _ => None,
        });
        if let Some(call_id) = found {
            return call_id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {kind}: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The calls an assistant step asked for.
pub fn planned(event: &Event) -> Vec<(String, String, Value)> {
    match &event.body {
        EventBody::ChatAssistantMessage { tool_calls, .. } => tool_calls
            .iter()
            .map(|call| (call.call_id.0.clone(), call.tool.clone(), call.args.clone()))
            .collect(),
        other => panic!("not an assistant step: {other:?}"),
    }
}

pub fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.body.type_name()).collect()
}

pub fn sse(data: Value) -> (u64, String) {
    (5, format!("data: {data}\n\n"))
}

pub fn openai_text(parts: &[&str]) -> Vec<(u64, String)> {
    let mut chunks: Vec<_> = parts
        .iter()
        .map(|part| sse(json!({"choices": [{"index": 0, "delta": {"content": part}}]})))
        .collect();
    chunks.push(sse(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    ));
    chunks.push(sse(
        json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3}}),
    ));
    chunks.push((5, "data: [DONE]\n\n".into()));
    chunks
}

/// A tool call whose arguments arrive in pieces.
pub fn openai_tool_call(id: &str, name: &str, argument_pieces: &[&str]) -> Vec<(u64, String)> {
    let mut chunks = vec![sse(
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null,
        "tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}}]}),
    )];
    for piece in argument_pieces {
        chunks.push(sse(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}}]})));
    }
    chunks.push(sse(
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ));
    chunks.push((5, "data: [DONE]\n\n".into()));
    chunks
}

pub fn anthropic_events(events: &[(&str, Value)]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|(name, data)| (5, format!("event: {name}\ndata: {data}\n\n")))
        .collect()
}

pub fn anthropic_text(id: &str, text: &str) -> Reply {
    Reply::Stream(anthropic_events(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"id": id}}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]))
}

/// Waits until the model server got `count` requests; returns their bodies.
pub async fn requests(script: &Script, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let requests = script.requests.lock().unwrap().clone();
        if requests.len() >= count {
            return requests.into_iter().map(|(_, body)| body).collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} requests",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
