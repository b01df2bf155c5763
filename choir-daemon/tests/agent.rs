//! Complete agent turns against a local HTTP server that speaks the providers' real streaming
//! wire formats (OpenAI chat completions and Anthropic Messages, SSE): text deltas, tool-call
//! arguments split across chunks, usage chunks, `[DONE]`, error bodies, 429 with Retry-After,
//! and a server that stalls. Each test asserts the exact events in the log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod model;

use std::time::Duration;

use choir_daemon::agent::{AgentConfig, ApprovalPolicy};
use choir_proto::{
    AppKind, Command, EphemeralBody, EventBody, MessageEnding, ServerFrame, ThreadId,
};
use common::{Client, WAIT};
use model::*;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

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
    // The step carries its call, under the daemon's own id (not the model's `call_7`).
    let calls = planned(&events[2]);
    assert!(
        matches!(&events[2].body, EventBody::ChatAssistantMessage { text, ending: None, .. } if text == "Let me look.")
    );
    let (id, tool, args) = &calls[0];
    assert!(id.starts_with("call-") && id != "call_7", "{id}");
    assert_eq!(
        (tool.as_str(), args),
        ("read_file", &json!({"path": "a.txt"}))
    );
    assert!(
        matches!(&events[3].body, EventBody::ToolStarted { call_id, tool, thread_id: Some(ThreadId(1)), .. }
        if call_id.0 == *id && tool == "read_file")
    );
    assert!(
        matches!(&events[4].body, EventBody::ToolFinished { ok: true, output, .. } if output == "hi")
    );
    assert_eq!(
        events[5].body,
        EventBody::ChatAssistantMessage {
            thread_id: ThreadId(1),
            text: "The file says hi.".into(),
            ending: None,
            tool_calls: Vec::new()
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
    assert_eq!(second[2]["tool_calls"][0]["id"], json!(id));
    assert_eq!(
        second[3],
        json!({"role": "tool", "tool_call_id": id, "content": "hi"})
    );
    assert_eq!(
        first["max_tokens"],
        json!(2048),
        "the fallback budget's answer limit"
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
    let call_id = wait_for_call(&daemon, "tool.requested").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!daemon
        .store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .any(|e| e.body.type_name() == "tool.started"));
    let (mut approver, _) = Client::hello(&daemon, None).await;
    approver.command(9, Command::ApproveTool { call_id }).await;

    let events = turn_events(&daemon).await;
    assert_eq!(
        types(&events),
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "tool.requested",
            "tool.approved",
            "tool.started",
            "tool.finished",
            "chat.assistant_message",
            "chat.turn_completed",
        ]
    );
    assert!(
        matches!(&events[6].body, EventBody::ToolFinished { ok: true, exit_code: Some(0), output, .. } if output == "approved\n")
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
    let call_id = wait_for_call(&daemon, "tool.requested").await;
    client
        .command(
            5,
            Command::DenyTool {
                call_id,
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
            "chat.assistant_message",
            "tool.requested",
            "tool.denied",
            "chat.assistant_message",
            "chat.turn_completed"
        ]
    );
    assert_eq!(
        script.requests.lock().unwrap()[1].1["messages"][3]["content"],
        json!("the call did not run: not today")
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
            "chat.assistant_message",
            "tool.started",
            "chat.cancel_requested",
            "tool.finished",
            "chat.turn_cancelled"
        ]
    );
    assert!(
        matches!(&events[5].body, EventBody::ToolFinished { ok: false, output, .. } if output.contains("cancelled"))
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
        vec![
            "chat.user_message",
            "chat.turn_started",
            "chat.assistant_message",
            "chat.turn_failed"
        ]
    );
    // What streamed before the stall is kept, marked as interrupted.
    assert!(
        matches!(&events[2].body, EventBody::ChatAssistantMessage { text, ending: Some(MessageEnding::Interrupted), .. } if text == "Thinking")
    );
    assert!(
        matches!(&events[3].body, EventBody::ChatTurnFailed { error, .. } if error.contains("no data for 1 s"))
    );
    daemon.shutdown().await;
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
    let id = planned(&events[2])[0].0.clone();
    assert_eq!(
        second[1]["content"][1],
        json!({"type": "tool_use", "id": id, "name": "list_files", "input": {"recursive": true}})
    );
    assert_eq!(
        second[2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "notes.md"}]})
    );
    assert_eq!(requests[0].1["max_tokens"], json!(4096));
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
            "chat.assistant_message",
            "tool.started",
            "doc.created",
            "window.opened",
            "writer.doc_shown",
            "tool.finished",
            "chat.assistant_message",
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

/// A second turn in a thread sends the model the thread so far (read back from the log), in
/// order, with the earlier turn's tool call and its result where they were (they used to be
/// dropped, and the model then learned to write fake tool output as text), roles alternating
/// as Anthropic requires; OpenAI gets the same messages.
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
    assert_eq!(
        roles,
        ["user", "assistant", "user", "assistant", "user"],
        "{third}"
    );
    assert_eq!(messages[1]["content"][1]["type"], "tool_use");
    assert_eq!(messages[1]["content"][1]["name"], "list_files");
    assert_eq!(
        messages[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": messages[1]["content"][1]["id"], "content": "notes.md"})
    );
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
            "Listing files.",
            "",
            "One file: notes.md",
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
