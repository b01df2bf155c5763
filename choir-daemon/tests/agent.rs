//! Complete agent turns against a local HTTP server that speaks the providers' real streaming
//! wire formats (OpenAI chat completions and Anthropic Messages, SSE): text deltas, tool-call
//! arguments split across chunks, usage chunks, `[DONE]`, error bodies, 429 with Retry-After,
//! and a server that stalls. Each test asserts the exact events in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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
use choir_daemon::store::StoreOptions;
use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{
    AppKind, CallId, Command, EphemeralBody, Event, EventBody, ServerFrame, ThreadId,
};
use common::{Client, WAIT};
use futures_util::StreamExt;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

/// One scripted answer of the fake model server.
#[derive(Clone)]
enum Reply {
    /// 200 with these SSE chunks, each sent after its delay.
    Stream(Vec<(u64, String)>),
    /// 200, one chunk, then silence forever.
    Stall(String),
    /// Another status with a body and headers.
    Status(u16, String, Vec<(&'static str, &'static str)>),
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn answer(State(script): State<Script>, headers: HeaderMap, body: String) -> Response {
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
        None => Response::builder()
            .status(500)
            .body(Body::from("script exhausted"))
            .unwrap(),
    }
}

async fn model_server(replies: Vec<Reply>) -> (String, Script) {
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

fn settings() -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(1),
        attempts: 3,
        max_backoff: Duration::from_millis(50),
    }
}

fn openai(url: &str, approval: ApprovalPolicy) -> AgentConfig {
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

fn anthropic(url: &str) -> AgentConfig {
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

async fn start(agent: AgentConfig) -> (tempfile::TempDir, RunningDaemon) {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(DaemonConfig {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        token: None,
        store: StoreOptions::default(),
        agent,
    })
    .await
    .unwrap();
    (dir, daemon)
}

/// Opens a chat window (thread 1) and posts `text` from a client; returns the client.
async fn chat(daemon: &RunningDaemon, text: &str) -> Client {
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
async fn turn_events(daemon: &RunningDaemon) -> Vec<Event> {
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

fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.body.type_name()).collect()
}

fn sse(data: Value) -> (u64, String) {
    (5, format!("data: {data}\n\n"))
}

fn openai_text(parts: &[&str]) -> Vec<(u64, String)> {
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
fn openai_tool_call(id: &str, name: &str, argument_pieces: &[&str]) -> Vec<(u64, String)> {
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

#[tokio::test]
async fn openai_streams_text_runs_a_tool_and_answers() {
    let (url, script) = model_server(vec![
        Reply::Stream(
            [
                openai_text(&["Let me ", "look."])[..2].to_vec(),
                openai_tool_call("call_7", "read_file", &["{\"pa", "th\": \"a.t", "xt\"}"]),
            ]
            .concat(),
        ),
        Reply::Stream(openai_text(&["The file ", "says hi."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    std::fs::write(dir.path().join("workspace/a.txt"), "hi").unwrap();
    let mut client = chat(&daemon, "what is in a.txt?").await;

    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "tool.started",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed",
        ]
    );
    assert_eq!(
        events[2].body,
        EventBody::ChatAssistantMessage {
            thread_id: ThreadId(1),
            text: "Let me look.".into()
        }
    );
    assert!(
        matches!(&events[3].body, EventBody::ToolStarted { call_id, tool, args, thread_id: Some(ThreadId(1)) }
        if call_id == &CallId("call_7".into()) && tool == "read_file" && args == &json!({"path": "a.txt"}))
    );
    assert!(
        matches!(&events[4].body, EventBody::ToolFinished { ok: true, output, .. } if output == "hi")
    );
    assert_eq!(
        events[5].body,
        EventBody::ChatAssistantMessage {
            thread_id: ThreadId(1),
            text: "The file says hi.".into()
        }
    );
    assert!(events[1..].iter().all(|e| e.actor == "agent"));

    // The second request carried the tool call and its result back to the model.
    let requests = script.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    let (headers, first) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer sk-test-key-1234");
    assert_eq!(first["stream"], json!(true));
    assert_eq!(
        first["messages"][1],
        json!({"role": "user", "content": "what is in a.txt?"})
    );
    assert!(first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["function"]["name"] == "bash"));
    let second = &requests[1].1["messages"];
    assert_eq!(second[2]["tool_calls"][0]["id"], json!("call_7"));
    assert_eq!(
        second[3],
        json!({"role": "tool", "tool_call_id": "call_7", "content": "hi"})
    );

    // The streaming text reached the client as ephemerals.
    let frames = client.recv_while(|f| !f.iter().any(|frame| matches!(frame, ServerFrame::Event { event } if event.body.type_name() == "chat.turn_completed"))).await;
    let streamed: String = frames
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Ephemeral {
                body: EphemeralBody::ChatDelta { text, .. },
            } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed, "Let me look.The file says hi.");
    daemon.shutdown().await;
}

#[tokio::test]
async fn bash_waits_for_approval_from_another_client() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_tool_call(
            "call_b",
            "bash",
            &["{\"cmd\": \"echo approved\"}"],
        )),
        Reply::Stream(openai_text(&["It printed approved."])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _writer = chat(&daemon, "run echo").await;
    // The call waits: nothing runs until someone approves.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon
        .store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.body.type_name() == "tool.requested")
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!daemon
        .store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.body.type_name() == "tool.started"));
    let (mut approver, _) = Client::hello(&daemon, None).await;
    approver
        .command(
            9,
            Command::ApproveTool {
                call_id: CallId("call_b".into()),
            },
        )
        .await;

    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "tool.requested",
            "tool.approved",
            "tool.started",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed",
        ]
    );
    assert!(
        matches!(&events[5].body, EventBody::ToolFinished { ok: true, exit_code: Some(0), output, .. } if output == "approved\n")
    );
    assert_eq!(
        script.requests.lock().unwrap()[1].1["messages"][3]["content"],
        json!("exit code 0\napproved\n")
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_denied_call_is_reported_to_the_model() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_tool_call(
            "call_d",
            "write_file",
            &["{\"path\": \"x\", \"content\": \"y\"}"],
        )),
        Reply::Stream(openai_text(&["Understood, I did not write it."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "write x").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon
        .store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.body.type_name() == "tool.requested")
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client
        .command(
            5,
            Command::DenyTool {
                call_id: CallId("call_d".into()),
                reason: Some("not today".into()),
            },
        )
        .await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "tool.requested",
            "tool.denied",
            "chat.assistant_message",
            "chat.turn_completed"
        ]
    );
    assert_eq!(
        script.requests.lock().unwrap()[1].1["messages"][3]["content"],
        json!("the user denied this call: not today")
    );
    assert!(!dir.path().join("workspace/x").exists());
    daemon.shutdown().await;
}

#[tokio::test]
async fn cancel_kills_a_running_tool_within_a_second() {
    let (url, _script) = model_server(vec![Reply::Stream(openai_tool_call(
        "call_s",
        "bash",
        &["{\"cmd\": \"sleep 600.5\"}"],
    ))])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::AutoAll)).await;
    let mut client = chat(&daemon, "sleep").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !daemon
        .store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.body.type_name() == "tool.started")
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let clock = std::time::Instant::now();
    client
        .command(
            7,
            Command::CancelTurn {
                thread_id: ThreadId(1),
            },
        )
        .await;
    let events = turn_events(&daemon).await;
    assert!(
        clock.elapsed() < Duration::from_secs(1),
        "took {:?}",
        clock.elapsed()
    );
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "tool.started",
            "chat.cancel_requested",
            "tool.finished",
            "chat.turn_cancelled"
        ]
    );
    assert!(
        matches!(&events[4].body, EventBody::ToolFinished { ok: false, output, .. } if output.contains("cancelled"))
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_dead_provider_becomes_an_error_in_the_chat() {
    let error =
        json!({"error": {"message": "model overloaded", "type": "server_error"}}).to_string();
    let (url, script) = model_server(vec![
        Reply::Status(500, error.clone(), vec![]),
        Reply::Status(503, error.clone(), vec![]),
        Reply::Status(500, error, vec![]),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hello?").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec!["chat.user_message", "chat.turn_started", "chat.turn_failed"]
    );
    assert!(
        matches!(&events[2].body, EventBody::ChatTurnFailed { error, .. } if error.contains("500") && error.contains("model overloaded")),
        "{:?}",
        events[2].body
    );
    assert_eq!(
        script.requests.lock().unwrap().len(),
        3,
        "retried up to the limit"
    );
    // The daemon is fine: the next message gets a turn too (and the script is empty: 500).
    daemon.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let (url, script) = model_server(vec![
        Reply::Status(
            429,
            json!({"error": {"message": "slow down"}}).to_string(),
            vec![("retry-after", "0")],
        ),
        Reply::Stream(openai_text(&["ok"])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hi").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "chat.turn_completed"
        ]
    );
    assert_eq!(script.requests.lock().unwrap().len(), 2);
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_stalled_stream_fails_the_turn_instead_of_hanging() {
    let first = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "Thinking"}}]})
    );
    let (url, _script) = model_server(vec![Reply::Stall(first)]).await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hi").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec!["chat.user_message", "chat.turn_started", "chat.turn_failed"]
    );
    assert!(
        matches!(&events[2].body, EventBody::ChatTurnFailed { error, .. } if error.contains("no data for 1 s"))
    );
    daemon.shutdown().await;
}

fn anthropic_events(events: &[(&str, Value)]) -> Vec<(u64, String)> {
    events
        .iter()
        .map(|(name, data)| (5, format!("event: {name}\ndata: {data}\n\n")))
        .collect()
}

#[tokio::test]
async fn anthropic_streams_text_and_tool_use() {
    let (url, script) = model_server(vec![
        Reply::Stream(anthropic_events(&[
            ("message_start", json!({"type": "message_start", "message": {"id": "msg_1", "role": "assistant", "content": []}})),
            ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Listing "}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "files."}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {}}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"recur"}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "sive\": true}"}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
            ("ping", json!({"type": "ping"})),
            ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}})),
            ("message_stop", json!({"type": "message_stop"})),
        ])),
        Reply::Stream(anthropic_events(&[
            ("message_start", json!({"type": "message_start", "message": {"id": "msg_2"}})),
            ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "One file: notes.md"}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ("message_stop", json!({"type": "message_stop"})),
        ])),
    ])
    .await;
    let (dir, daemon) = start(anthropic(&url)).await;
    std::fs::write(dir.path().join("workspace/notes.md"), "n").unwrap();
    let _client = chat(&daemon, "what files are there?").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "tool.started",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed",
        ]
    );
    assert!(
        matches!(&events[3].body, EventBody::ToolStarted { tool, args, .. } if tool == "list_files" && args == &json!({"recursive": true}))
    );
    let requests = script.requests.lock().unwrap().clone();
    assert_eq!(requests[0].0["x-api-key"], "sk-ant-test-5678");
    assert_eq!(requests[0].0["anthropic-version"], "2023-06-01");
    let second = &requests[1].1["messages"];
    assert_eq!(
        second[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {"recursive": true}})
    );
    assert_eq!(
        second[2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "notes.md"}]})
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn anthropic_error_events_fail_the_turn() {
    let (url, _script) = model_server(vec![Reply::Stream(anthropic_events(&[
        ("message_start", json!({"type": "message_start", "message": {}})),
        ("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
    ]))])
    .await;
    let (_dir, daemon) = start(anthropic(&url)).await;
    let _client = chat(&daemon, "hi").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec!["chat.user_message", "chat.turn_started", "chat.turn_failed"]
    );
    assert!(
        matches!(&events[2].body, EventBody::ChatTurnFailed { error, .. } if error.contains("Overloaded"))
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn without_a_model_the_agent_says_so_and_slash_commands_work() {
    let (_dir, daemon) = start(AgentConfig::default()).await;
    let mut client = chat(&daemon, "hello").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "chat.turn_completed"
        ]
    );
    assert!(
        matches!(&events[2].body, EventBody::ChatAssistantMessage { text, .. } if text.contains("No model is configured") && text.contains("CHOIR_MODEL"))
    );

    client
        .command(
            3,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: "/bash echo from slash".into(),
            },
        )
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let events = loop {
        let events = daemon.store.read(1, 100).await.unwrap();
        if events
            .iter()
            .filter(|e| e.body.type_name() == "chat.turn_completed")
            .count()
            == 2
        {
            break events;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let tail: Vec<&str> = types(&events).into_iter().rev().take(6).rev().collect();
    assert_eq!(
        tail,
        vec![
            "chat.user_message",
            "chat.turn_started",
            "tool.started",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed"
        ]
    );
    assert!(
        matches!(&events[events.len() - 2].body, EventBody::ChatAssistantMessage { text, .. } if text == "from slash\n")
    );

    // /doc creates a document and opens it, with no model at all.
    client
        .command(
            4,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: "/doc Shopping list".into(),
            },
        )
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let world = loop {
        let world = choir_proto::World::replay(&daemon.store.read(1, 100).await.unwrap());
        if world.chats[&ThreadId(1)].messages.len() == 6 {
            break world;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let doc = world.docs.values().next().expect("a document");
    assert_eq!(doc.title, "Shopping list");
    assert!(world
        .desktop
        .windows
        .values()
        .any(|w| w.doc_id == Some(doc.id)));
    let reply = &world.chats[&ThreadId(1)].messages[5].text;
    assert!(
        reply.starts_with("created document 1 \"Shopping list\""),
        "{reply}"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn each_chat_window_is_its_own_thread_with_its_own_history() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_text(&["one"])),
        Reply::Stream(openai_text(&["two"])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "first thread").await;
    turn_events(&daemon).await;
    client
        .command(
            3,
            Command::OpenWindow {
                app: AppKind::Chat,
                title: None,
                rect: None,
            },
        )
        .await;
    client
        .command(
            4,
            Command::PostChat {
                thread_id: ThreadId(2),
                text: "second thread".into(),
            },
        )
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while script.requests.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = script.requests.lock().unwrap()[1].1["messages"].clone();
    assert_eq!(
        second.as_array().unwrap().len(),
        2,
        "system + this thread's one message: {second}"
    );
    assert_eq!(
        second[1],
        json!({"role": "user", "content": "second thread"})
    );
    daemon.shutdown().await;
}

/// "Write a note about X": the model creates a document (which opens in a writer window),
/// then revises it, then answers.
#[tokio::test]
async fn write_about_x_creates_a_document_in_a_writer_window() {
    let create =
        json!({"title": "Otters", "content": "# Otters\n\nOtters hold hands while they sleep.\n"})
            .to_string();
    let edit = json!({"doc_id": 1, "find": "hold hands", "replace": "hold paws"}).to_string();
    let (url, script) = model_server(vec![
        Reply::Stream(openai_tool_call(
            "call_1",
            "create_doc",
            &[&create[..20], &create[20..]],
        )),
        Reply::Stream(openai_tool_call("call_2", "edit_doc", &[&edit])),
        Reply::Stream(openai_text(&["I wrote a note about otters."])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "write a short note about otters").await;
    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "tool.started",
            "doc.created",
            "window.opened",
            "writer.doc_shown",
            "tool.finished",
            "tool.started",
            "doc.edited",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed",
        ]
    );
    let world = choir_proto::World::replay(&daemon.store.read(1, 1000).await.unwrap());
    let doc = &world.docs[&choir_proto::DocId(1)];
    assert_eq!(doc.title, "Otters");
    assert_eq!(
        doc.text().unwrap(),
        "# Otters\n\nOtters hold paws while they sleep.\n"
    );
    let writer = world
        .desktop
        .windows
        .values()
        .find(|window| window.app == AppKind::Writer)
        .expect("a writer window");
    assert_eq!(writer.doc_id, Some(doc.id));
    assert_eq!(world.desktop.focused, Some(writer.id), "it opened on top");
    assert!(events[3..6].iter().all(|e| e.actor == "agent"));

    // The model was told what happened, with the id to use next.
    let requests = script.requests.lock().unwrap().clone();
    let told = &requests[1].1["messages"];
    let result = told.as_array().unwrap().last().unwrap();
    assert_eq!(result["role"], "tool");
    assert!(
        result["content"]
            .as_str()
            .unwrap()
            .starts_with("created document 1 \"Otters\""),
        "{result}"
    );
    let tools = requests[0].1["tools"].as_array().unwrap();
    for name in ["create_doc", "read_doc", "edit_doc", "list_docs"] {
        assert!(
            tools.iter().any(|t| t["function"]["name"] == name),
            "{name} is offered to the model"
        );
    }
    daemon.shutdown().await;
}

fn anthropic_text(id: &str, text: &str) -> Reply {
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

/// Waits until the model server got `count` requests; returns them.
async fn requests(script: &Script, count: usize) -> Vec<Value> {
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

/// A second turn in a thread sends the model the thread so far (read back from the log), in
/// order, with roles alternating as Anthropic requires; OpenAI gets the same messages.
#[tokio::test]
async fn a_second_turn_sends_the_thread_so_far_in_order() {
    let (url, script) = model_server(vec![
        Reply::Stream(anthropic_events(&[
            ("message_start", json!({"type": "message_start", "message": {"id": "msg_1"}})),
            ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
            ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Listing files."}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            ("content_block_start", json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {}}})),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 1})),
            ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}})),
            ("message_stop", json!({"type": "message_stop"})),
        ])),
        anthropic_text("msg_2", "One file: notes.md"),
        anthropic_text("msg_3", "You are welcome."),
    ])
    .await;
    let (dir, daemon) = start(anthropic(&url)).await;
    std::fs::write(dir.path().join("workspace/notes.md"), "n").unwrap();
    let mut client = chat(&daemon, "what files are there?").await;
    turn_events(&daemon).await;
    client
        .command(
            3,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: "thanks".into(),
            },
        )
        .await;
    let third = requests(&script, 3).await.remove(2);
    let messages = third["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "{third}");
    let texts: Vec<String> = messages
        .iter()
        .map(|message| match &message["content"] {
            Value::String(text) => text.clone(),
            blocks => blocks
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|block| block["text"].as_str())
                .collect::<Vec<_>>()
                .join(" | "),
        })
        .collect();
    assert_eq!(
        texts,
        [
            "what files are there?",
            "Listing files. | One file: notes.md",
            "thanks"
        ]
    );
    daemon.shutdown().await;

    // The same thread through OpenAI: one message per entry, in the same order.
    let (url, script) = model_server(vec![
        Reply::Stream(openai_text(&["one"])),
        Reply::Stream(openai_text(&["two"])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "first").await;
    turn_events(&daemon).await;
    client
        .command(
            3,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: "second".into(),
            },
        )
        .await;
    let second = requests(&script, 2).await.remove(1);
    assert_eq!(
        second["messages"].as_array().unwrap()[1..],
        [
            json!({"role": "user", "content": "first"}),
            json!({"role": "assistant", "content": "one"}),
            json!({"role": "user", "content": "second"}),
        ]
    );
    daemon.shutdown().await;
}
