//! The agent across turns and failures, against the local model server: posts made while a
//! turn runs, a server that never answers, a restart mid-turn, a message too large for the
//! context, answers cut off at the length limit, errors that name their cause, partial text on
//! failure and cancel, tool calls the way local servers send them, arguments checked before
//! approval, `edit_file` with its diff, AGENTS.md, and sub-agents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod model;

use std::time::Duration;

use choir_daemon::agent::{AgentConfig, ApprovalPolicy};
use choir_proto::{AppKind, Command, Event, EventBody, MessageEnding, ThreadId};
use common::{Client, WAIT};
use model::*;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

async fn post(client: &mut Client, id: u64, text: &str) {
    client
        .command(
            id,
            Command::PostChat {
                thread_id: ThreadId(1),
                text: text.into(),
            },
        )
        .await;
}

fn failures(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ChatTurnFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

fn assistant_texts(events: &[Event]) -> Vec<(String, Option<MessageEnding>)> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ChatAssistantMessage { text, ending, .. } if !text.is_empty() => {
                Some((text.clone(), *ending))
            }
            _ => None,
        })
        .collect()
}

/// The roles and texts of a request to the OpenAI API, after the system message.
fn openai_messages(request: &Value) -> Vec<(String, String)> {
    request["messages"].as_array().unwrap()[1..]
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Failure 2: a message posted while a turn runs used to be placed before that turn's answer,
/// so the next request ended with the assistant (a prefill) and the question went unanswered.
#[tokio::test]
async fn a_post_during_a_turn_is_the_next_question() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_slow_text(
            &["Thinking ", "about ", "it."],
            150,
            "stop",
        )),
        Reply::Stream(openai_text(&["Second answer."])),
    ])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "first question").await;
    wait_for_type(&daemon, "chat.turn_started").await;
    post(&mut client, 3, "second question").await;
    let events = turns_ended(&daemon, 2).await;
    assert!(failures(&events).is_empty());
    let bodies = requests(&script, 2).await;
    assert_eq!(bodies.len(), 2);
    assert_eq!(
        openai_messages(&bodies[1]),
        [
            ("user".into(), "first question".into()),
            ("assistant".into(), "Thinking about it.".into()),
            ("user".into(), "second question".into()),
        ]
    );
    assert_eq!(
        assistant_texts(&events),
        [
            ("Thinking about it.".into(), None),
            ("Second answer.".into(), None)
        ]
    );
    daemon.shutdown().await;
}

async fn wait_for_type(daemon: &choir_daemon::RunningDaemon, kind: &str) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let events = daemon.store.read(1, 10_000).await.unwrap();
        if events.iter().any(|e| e.body.type_name() == kind) {
            return events;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {kind}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Failure 3: a server that takes the request and never answers (its process stopped) used to
/// hang the turn until cancelled.
#[tokio::test]
async fn a_server_that_never_answers_fails_the_turn() {
    let (url, script) = model_server(vec![Reply::Hang]).await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hello?").await;
    let events = turns_ended(&daemon, 1).await;
    assert_eq!(
        failures(&events),
        [format!(
            "the model at {url}/v1/chat/completions sent no response within 2 s"
        )]
    );
    assert_eq!(script.requests.lock().unwrap().len(), 1, "not retried");
    daemon.shutdown().await;
}

/// Failure 4: a restart during a turn used to leave the thread busy and its call pending; an
/// approval afterwards was accepted and did nothing.
#[tokio::test]
async fn a_restart_ends_the_turn_and_its_pending_call() {
    let (url, _script) = model_server(vec![Reply::Stream(openai_tool_call(
        "call_r",
        "bash",
        &["{\"cmd\": \"echo hi\"}"],
    ))])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_at(dir.path(), openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "run echo").await;
    let call_id = wait_for_call(&daemon, "tool.requested").await;
    daemon.shutdown().await;

    let (url, script) = model_server(vec![Reply::Stream(openai_text(&["Ran nothing."]))]).await;
    let daemon = start_at(dir.path(), openai(&url, ApprovalPolicy::Ask)).await;
    let events = daemon.store.read(1, 1000).await.unwrap();
    let tail: Vec<&EventBody> = events.iter().rev().take(2).rev().map(|e| &e.body).collect();
    assert!(
        matches!(tail[0], EventBody::ToolDenied { call_id: denied, reason } if *denied == call_id && reason.contains("restarted")),
        "{tail:?}"
    );
    assert!(
        matches!(tail[1], EventBody::ChatTurnFailed { thread_id: ThreadId(1), error } if error.contains("restarted")),
        "{tail:?}"
    );
    let (mut client, _) = Client::hello(&daemon, None).await;
    client
        .send(&choir_proto::ClientFrame::Command {
            id: 5,
            command: Command::ApproveTool {
                call_id: call_id.clone(),
            },
        })
        .await;
    let refused = client
        .recv_while(|frames| {
            !frames
                .iter()
                .any(|f| matches!(f, choir_proto::ServerFrame::Error { id: Some(5), .. }))
        })
        .await;
    assert!(refused.iter().any(
        |f| matches!(f, choir_proto::ServerFrame::Error { id: Some(5), message, .. } if message.contains("no pending tool call"))
    ));
    // The thread takes messages again, and the model hears what became of the call.
    post(&mut client, 6, "try again").await;
    turns_ended(&daemon, 2).await;
    let request = requests(&script, 1).await.remove(0);
    let messages = request["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_calls"][0]["id"], json!(call_id.0));
    assert_eq!(
        messages[3]["content"],
        json!("the call did not run: the daemon restarted before this call ran")
    );
    assert_eq!(messages[4], json!({"role": "user", "content": "try again"}));
    daemon.shutdown().await;
}

/// The agent follows the log like every follower: when the daemon stops, its running turns
/// stop and their tools are killed, rather than left running in a stopped daemon (the next
/// start says the daemon restarted, as above).
#[tokio::test]
async fn a_stopping_daemon_cancels_the_running_turn_and_kills_its_tool() {
    let marker = format!("choir-stop-{}", std::process::id());
    let command = format!("{{\"cmd\": \"sleep 20; touch {marker}\"}}");
    let (url, _script) = model_server(vec![Reply::Stream(openai_tool_call(
        "call_s",
        "bash",
        &[&command],
    ))])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_at(dir.path(), openai(&url, ApprovalPolicy::AutoAll)).await;
    let _client = chat(&daemon, "run it").await;
    wait_for_type(&daemon, "tool.started").await;
    let running = || {
        std::process::Command::new("pgrep")
            .args(["-f", &format!("touch {marker}")])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    assert!(running(), "the tool runs");
    daemon.shutdown().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while running() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tool still runs after the daemon stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!dir.path().join("workspace").join(&marker).exists());
}

/// Failure 5: one message larger than the context used to break the thread for good.
#[tokio::test]
async fn a_message_too_large_for_the_context_fails_alone() {
    let (url, script) = model_server(vec![Reply::Stream(openai_text(&["Hello."]))]).await;
    // The smallest context the sandbox's tools leave room in (about 4,500 tokens of specs).
    let config = AgentConfig {
        context_tokens: Some(8192),
        max_tokens: Some(256),
        ..openai(&url, ApprovalPolicy::Ask)
    };
    let (_dir, daemon) = start(config).await;
    let huge = "word ".repeat(12_000);
    let mut client = chat(&daemon, &huge).await;
    let events = turns_ended(&daemon, 1).await;
    let error = &failures(&events)[0];
    assert!(
        error.contains("needs about 20") && error.contains("8192 tokens"),
        "{error}"
    );
    assert!(script.requests.lock().unwrap().is_empty());
    post(&mut client, 3, "hi").await;
    turns_ended(&daemon, 2).await;
    let request = requests(&script, 1).await.remove(0);
    assert_eq!(request["max_tokens"], json!(256));
    assert_eq!(openai_messages(&request), [("user".into(), "hi".into())]);
    assert!(request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("1 earlier exchanges of this conversation were left out"));
    daemon.shutdown().await;
}

/// Failure 6: `finish_reason: "length"` (OpenAI) and `stop_reason: "max_tokens"` (Anthropic)
/// used to be stored as complete answers.
#[tokio::test]
async fn answers_cut_off_at_the_limit_are_marked() {
    let (url, _script) = model_server(vec![Reply::Stream(openai_slow_text(
        &["An answer that goes on and"],
        5,
        "length",
    ))])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "go on").await;
    let events = turns_ended(&daemon, 1).await;
    assert_eq!(
        assistant_texts(&events),
        [(
            "An answer that goes on and".into(),
            Some(MessageEnding::CutOff)
        )]
    );
    assert_eq!(
        events.last().unwrap().body.type_name(),
        "chat.turn_completed"
    );
    daemon.shutdown().await;

    let (url, _script) = model_server(vec![Reply::Stream(anthropic_events(&[
        ("message_start", json!({"type": "message_start", "message": {}})),
        ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Cut"}})),
        ("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}})),
        ("message_stop", json!({"type": "message_stop"})),
    ]))])
    .await;
    let (_dir, daemon) = start(anthropic(&url)).await;
    let _client = chat(&daemon, "go on").await;
    let events = turns_ended(&daemon, 1).await;
    assert_eq!(
        assistant_texts(&events),
        [("Cut".into(), Some(MessageEnding::CutOff))]
    );
    // The world marks the message too, for every client.
    let world = choir_proto::World::replay(&events);
    let last = world.chats[&ThreadId(1)].messages.last().unwrap().clone();
    assert_eq!(last.ending, Some(MessageEnding::CutOff));
    daemon.shutdown().await;
}

/// Failure 7: errors used to hide their cause, and text streamed before a failure or a cancel
/// was lost.
#[tokio::test]
async fn errors_name_their_cause_and_partial_text_is_kept() {
    // Nothing listens: "connection refused", after the retries.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hello?").await;
    let error = failures(&turns_ended(&daemon, 1).await).remove(0);
    assert!(
        error.starts_with(&format!(
            "cannot reach the model at {url}/v1/chat/completions"
        )) && error.to_lowercase().contains("connection refused"),
        "{error}"
    );
    daemon.shutdown().await;

    // The server dies mid-answer: the cause is named and the text so far kept.
    let (url, _script) = model_server(vec![Reply::Break(
        openai_text(&["Half an ", "answer"])[..2].to_vec(),
    )])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "hello?").await;
    let events = turns_ended(&daemon, 1).await;
    let error = failures(&events).remove(0);
    assert!(
        error.starts_with("the connection to the model broke mid-answer: "),
        "{error}"
    );
    // (What the server flushed before it died: at least the first chunk.)
    let texts = assistant_texts(&events);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].0.starts_with("Half an "), "{texts:?}");
    assert_eq!(texts[0].1, Some(MessageEnding::Interrupted));
    daemon.shutdown().await;

    // Cancelled mid-answer: the text so far is kept, marked.
    let (url, _script) = model_server(vec![Reply::Stream(openai_slow_text(
        &["Slowly ", "and ", "more"],
        400,
        "stop",
    ))])
    .await;
    let (_dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "hello?").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let _ = client
        .recv_while(|frames| {
            !frames
                .iter()
                .any(|f| matches!(f, choir_proto::ServerFrame::Ephemeral { .. }))
                && tokio::time::Instant::now() < deadline
        })
        .await;
    client
        .command(
            9,
            Command::CancelTurn {
                thread_id: ThreadId(1),
            },
        )
        .await;
    let events = turns_ended(&daemon, 1).await;
    assert_eq!(
        events.last().unwrap().body.type_name(),
        "chat.turn_cancelled"
    );
    let texts = assistant_texts(&events);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].0.starts_with("Slowly"), "{texts:?}");
    assert_eq!(texts[0].1, Some(MessageEnding::Interrupted));
    daemon.shutdown().await;
}

/// Tool calls as some local servers stream them: no `index`, or no `id`. Calls used to merge
/// (no index) or get the id "" (no id).
#[tokio::test]
async fn tool_calls_without_index_or_id_stay_apart() {
    let call = |id: Option<&str>, name: &str, args: &str| {
        let mut call = json!({"type": "function", "function": {"name": name, "arguments": args}});
        if let Some(id) = id {
            call["id"] = json!(id);
        }
        sse(json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
    };
    let chunks = vec![
        call(Some("a"), "list_files", "{}"),
        call(Some("b"), "read_file", "{\"path\":"),
        call(None, "", " \"x.txt\"}"),
        sse(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})),
        (5, "data: [DONE]\n\n".to_owned()),
    ];
    let (url, script) = model_server(vec![
        Reply::Stream(chunks),
        Reply::Stream(openai_tool_call("", "list_files", &["{}"])),
        Reply::Stream(openai_text(&["Done."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    std::fs::write(dir.path().join("workspace/x.txt"), "ex").unwrap();
    let _client = chat(&daemon, "look").await;
    let events = turns_ended(&daemon, 1).await;
    let steps: Vec<Vec<(String, String, Value)>> = events
        .iter()
        .filter(|e| e.body.type_name() == "chat.assistant_message")
        .map(planned)
        .collect();
    assert_eq!(steps[0].len(), 2, "{steps:?}");
    assert_eq!(
        (steps[0][0].1.as_str(), &steps[0][0].2),
        ("list_files", &json!({}))
    );
    assert_eq!(
        (steps[0][1].1.as_str(), &steps[0][1].2),
        ("read_file", &json!({"path": "x.txt"}))
    );
    assert_eq!(steps[1].len(), 1);
    assert!(steps[1][0].0.starts_with("call-"));
    let ids: std::collections::HashSet<&String> = steps.iter().flatten().map(|c| &c.0).collect();
    assert_eq!(ids.len(), 3, "every call has an id of its own");
    let last = requests(&script, 3).await.remove(2);
    let tool_messages: Vec<&Value> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(tool_messages.len(), 3);
    assert_eq!(tool_messages[1]["content"], json!("ex"));
    daemon.shutdown().await;
}

/// Arguments that are not JSON, or do not fit the schema, are refused before anyone is asked
/// to approve them (they used to wait for approval first), and the model hears why.
#[tokio::test]
async fn bad_arguments_are_refused_before_approval() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_tool_call("c1", "write_file", &["{\"path\": \"x\""])),
        Reply::Stream(openai_tool_call("c2", "write_file", &["{\"path\": \"x\"}"])),
        Reply::Stream(openai_text(&["Giving up."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "write x").await;
    let events = turns_ended(&daemon, 1).await;
    assert!(!events.iter().any(|e| matches!(
        e.body,
        EventBody::ToolRequested {
            needs_approval: true,
            ..
        }
    )));
    let outputs: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolFinished {
                ok: false, output, ..
            } => Some(output.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        outputs,
        [
            "invalid arguments: arguments must be a JSON object",
            "invalid arguments: missing required argument `content`"
        ]
    );
    let last = requests(&script, 3).await.remove(2);
    let messages = last["messages"].as_array().unwrap();
    // Arguments that were not JSON go back to the model as it wrote them.
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        json!("{\"path\": \"x\"")
    );
    assert_eq!(
        messages[3]["content"],
        json!("error: invalid arguments: arguments must be a JSON object")
    );
    assert!(!dir.path().join("workspace/x").exists());
    daemon.shutdown().await;
}

/// `edit_file` asks for approval with the diff it would make, and returns the diff.
#[tokio::test]
async fn edit_file_shows_its_diff_before_and_after() {
    let args = json!({"path": "notes.md", "old": "two", "new": "2"}).to_string();
    let (url, script) = model_server(vec![
        Reply::Stream(openai_tool_call("e1", "edit_file", &[&args])),
        Reply::Stream(openai_text(&["Edited."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    std::fs::write(dir.path().join("workspace/notes.md"), "one\ntwo\nthree\n").unwrap();
    // An executable stays executable after the edit.
    use std::os::unix::fs::PermissionsExt;
    let notes = dir.path().join("workspace/notes.md");
    std::fs::set_permissions(&notes, std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::write(dir.path().join("workspace/AGENTS.md"), "Answer in haiku.\n").unwrap();
    let mut client = chat(&daemon, "make two a digit").await;
    let call_id = wait_for_call(&daemon, "tool.requested").await;
    let diff = "--- a/notes.md\n+++ b/notes.md\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n";
    let events = daemon.store.read(1, 100).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.body,
        EventBody::ToolRequested { preview: Some(preview), .. } if preview == diff)));
    // The world's card carries it, for every client's approval prompt.
    let world = choir_proto::World::replay(&events);
    assert_eq!(
        world.chats[&ThreadId(1)].tools[0].preview.as_deref(),
        Some(diff)
    );
    client.command(7, Command::ApproveTool { call_id }).await;
    let events = turns_ended(&daemon, 1).await;
    assert!(events.iter().any(|e| matches!(&e.body,
        EventBody::ToolFinished { ok: true, output, .. } if output == diff)));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/notes.md")).unwrap(),
        "one\n2\nthree\n"
    );
    assert_eq!(
        std::fs::metadata(&notes).unwrap().permissions().mode() & 0o777,
        0o750
    );
    // The workspace's AGENTS.md is in the system prompt.
    let first = requests(&script, 1).await.remove(0);
    assert!(first["messages"][0]["content"].as_str().unwrap().contains(
        "The workspace's AGENTS.md says (follow it where it applies):\n\nAnswer in haiku."
    ));
    daemon.shutdown().await;
}

fn delegate_call(task: &str, tools: &[&str]) -> String {
    json!({"task": task, "tools": tools}).to_string()
}

/// `delegate` starts a sub-agent in a chat window of its own, marked as the parent's, with
/// the tools it was given; the parent gets its answer. A second delegation beyond the limit is
/// refused with the reason.
#[tokio::test]
async fn a_sub_agent_answers_its_parent() {
    let both = vec![
        sse(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "d1", "type": "function", "function": {"name": "delegate", "arguments": delegate_call("Count the files.", &["list_files"])}}]}}]}),
        ),
        sse(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "d2", "type": "function", "function": {"name": "delegate", "arguments": delegate_call("Another task.", &[])}}]}}]}),
        ),
        sse(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})),
        (5, "data: [DONE]\n\n".to_owned()),
    ];
    let (url, script) = model_server(vec![
        Reply::Stream(both),
        Reply::Stream(openai_text(&["There are 2 files."])),
        Reply::Stream(openai_text(&["The sub-agent counted 2 files."])),
    ])
    .await;
    let config = AgentConfig {
        max_subagents: 1,
        ..openai(&url, ApprovalPolicy::Ask)
    };
    let (_dir, daemon) = start(config).await;
    let _client = chat(&daemon, "how many files?").await;
    let events = turns_ended(&daemon, 2).await;
    assert!(failures(&events).is_empty(), "{:?}", failures(&events));
    let started: Vec<&EventBody> = events
        .iter()
        .map(|e| &e.body)
        .filter(|b| b.type_name() == "chat.subagent_started")
        .collect();
    assert_eq!(started.len(), 1);
    let EventBody::ChatSubagentStarted {
        thread_id: child,
        parent,
        depth,
        tools,
        ..
    } = started[0].clone()
    else {
        unreachable!()
    };
    assert_eq!(
        (parent, depth, tools),
        (ThreadId(1), 1, vec!["list_files".to_owned()])
    );
    let world = choir_proto::World::replay(&events);
    assert_eq!(
        world.chats[&child].subagent,
        Some(choir_proto::Subagent {
            parent: ThreadId(1),
            depth: 1,
            tools: vec!["list_files".into()]
        })
    );
    assert_eq!(
        world.desktop.windows[&choir_proto::WindowId(child.0)].app,
        AppKind::Chat
    );
    assert!(world.desktop.windows[&choir_proto::WindowId(child.0)]
        .title
        .starts_with("↳ Count the files."));
    let outputs: Vec<(bool, String)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolFinished { ok, output, .. } => Some((*ok, output.clone())),
            _ => None,
        })
        .collect();
    assert!(
        outputs.contains(&(true, "There are 2 files.".into())),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&(
            false,
            "1 sub-agents are already working; wait for one to finish".into()
        )),
        "{outputs:?}"
    );
    let bodies = requests(&script, 3).await;
    // The sub-agent's request: its task, its one tool, no delegate (depth limit 1).
    let child_request = bodies
        .iter()
        .find(|b| b["messages"][1]["content"] == "Count the files.")
        .unwrap();
    let names: Vec<&str> = child_request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_files"]);
    assert!(child_request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("You are a sub-agent"));
    let last = &bodies[2];
    assert!(last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["role"] == "tool" && m["content"] == "There are 2 files."));
    daemon.shutdown().await;
}

/// Cancelling the parent cancels the sub-agent working for it.
#[tokio::test]
async fn cancelling_the_parent_cancels_its_sub_agent() {
    let (url, _script) = model_server(vec![
        Reply::Stream(openai_tool_call(
            "d1",
            "delegate",
            &[&delegate_call("Think for a long time.", &[])],
        )),
        Reply::Stall(format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": "Hmm"}}]})
        )),
    ])
    .await;
    let config = AgentConfig {
        http: choir_daemon::agent::provider::HttpSettings {
            read_timeout: Duration::from_secs(30),
            ..settings()
        },
        ..openai(&url, ApprovalPolicy::Ask)
    };
    let (_dir, daemon) = start(config).await;
    let mut client = chat(&daemon, "delegate something").await;
    wait_for_type(&daemon, "chat.subagent_started").await;
    // The sub-agent's turn is under way (its model is streaming).
    let deadline = tokio::time::Instant::now() + WAIT;
    while daemon
        .store
        .read(1, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.body.type_name() == "chat.turn_started")
        .count()
        < 2
    {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let clock = std::time::Instant::now();
    client
        .command(
            4,
            Command::CancelTurn {
                thread_id: ThreadId(1),
            },
        )
        .await;
    let events = turns_ended(&daemon, 2).await;
    assert!(
        clock.elapsed() < Duration::from_secs(2),
        "{:?}",
        clock.elapsed()
    );
    let cancelled: Vec<ThreadId> = events
        .iter()
        .filter_map(|e| match e.body {
            EventBody::ChatTurnCancelled { thread_id } => Some(thread_id),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled.len(), 2, "{events:#?}");
    assert!(cancelled.contains(&ThreadId(1)));
    assert!(events.iter().any(|e| matches!(&e.body,
        EventBody::ToolFinished { ok: false, output, .. } if output == "cancelled with its parent's turn")));
    daemon.shutdown().await;
}

/// Two delegations in one step run at once, each in its own thread; a sub-agent's tool call
/// waits for the user's approval like any other; the parent gets both answers.
#[tokio::test]
async fn sub_agents_work_at_once_and_ask_for_approval() {
    let both = vec![
        sse(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "d1", "type": "function", "function": {"name": "delegate", "arguments": delegate_call("Write the file.", &["write_file"])}}]}}]}),
        ),
        sse(
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "d2", "type": "function", "function": {"name": "delegate", "arguments": delegate_call("Say hello.", &[])}}]}}]}),
        ),
        sse(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})),
        (5, "data: [DONE]\n\n".to_owned()),
    ];
    let write = json!({"path": "out.txt", "content": "from a sub-agent"}).to_string();
    // The two sub-agents' first requests come in either order: one script answers both
    // ("Say hello." gets the write call only if it came first, so each reply fits either).
    let (url, script) = model_server(vec![
        Reply::Stream(both),
        Reply::Stream(openai_tool_call("w1", "write_file", &[&write])),
        Reply::Stream(openai_text(&["Done."])),
        Reply::Stream(openai_text(&["Done."])),
        Reply::Stream(openai_text(&["Both finished."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let mut client = chat(&daemon, "do two things").await;
    // Both sub-agents are working before either has finished: two turns under way at once.
    let call_id = wait_for_call(&daemon, "tool.requested").await;
    let events = daemon.store.read(1, 1000).await.unwrap();
    let subagents: Vec<ThreadId> = events
        .iter()
        .filter_map(|e| match e.body {
            EventBody::ChatSubagentStarted { thread_id, .. } => Some(thread_id),
            _ => None,
        })
        .collect();
    assert_eq!(subagents.len(), 2);
    // The approval is asked in a sub-agent's thread, and any client can give it.
    let asked_in = events.iter().find_map(|e| match &e.body {
        EventBody::ToolRequested {
            thread_id,
            needs_approval: true,
            ..
        } => *thread_id,
        _ => None,
    });
    assert!(asked_in.is_some_and(|thread| subagents.contains(&thread)));
    client.command(8, Command::ApproveTool { call_id }).await;
    let events = turns_ended(&daemon, 3).await;
    assert!(failures(&events).is_empty(), "{:?}", failures(&events));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/out.txt")).unwrap(),
        "from a sub-agent"
    );
    let bodies = requests(&script, 5).await;
    let answers = bodies[4]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .count();
    assert_eq!(answers, 2);
    daemon.shutdown().await;
}

/// AGENTS.md is read only as a regular file inside the workspace: a link to a file outside it
/// (a secret of the host, the sandbox's own token) or a FIFO (which would hang every turn) is
/// not read, and the turn goes on.
#[tokio::test]
async fn agents_md_cannot_reach_outside_the_workspace() {
    let (url, script) = model_server(vec![
        Reply::Stream(openai_text(&["One."])),
        Reply::Stream(openai_text(&["Two."])),
    ])
    .await;
    let (dir, daemon) = start(openai(&url, ApprovalPolicy::Ask)).await;
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-VALUE").unwrap();
    let agents = dir.path().join("workspace/AGENTS.md");
    std::os::unix::fs::symlink(&secret, &agents).unwrap();
    let mut client = chat(&daemon, "hi").await;
    turns_ended(&daemon, 1).await;
    std::fs::remove_file(&agents).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&agents)
        .status()
        .unwrap();
    assert!(made.success());
    post(&mut client, 3, "again").await;
    let events = turns_ended(&daemon, 2).await;
    assert!(failures(&events).is_empty(), "{:?}", failures(&events));
    for body in requests(&script, 2).await {
        let system = body["messages"][0]["content"].as_str().unwrap().to_owned();
        assert!(!system.contains("TOP-SECRET-VALUE"));
        assert!(!system.contains("AGENTS.md says"), "{system}");
    }
    daemon.shutdown().await;
}

/// A sub-agent's limits hold after a daemon restart: a message typed later in its window gets
/// a turn with its tools only, and no `delegate`.
#[tokio::test]
async fn a_sub_agent_keeps_its_limits_after_a_restart() {
    let (url, _script) = model_server(vec![
        Reply::Stream(openai_tool_call(
            "d1",
            "delegate",
            &[&delegate_call("Count the files.", &["list_files"])],
        )),
        Reply::Stream(openai_text(&["None."])),
        Reply::Stream(openai_text(&["It found none."])),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_at(dir.path(), openai(&url, ApprovalPolicy::Ask)).await;
    let _client = chat(&daemon, "delegate a count").await;
    let events = turns_ended(&daemon, 2).await;
    let child = events
        .iter()
        .find_map(|e| match e.body {
            EventBody::ChatSubagentStarted { thread_id, .. } => Some(thread_id),
            _ => None,
        })
        .unwrap();
    daemon.shutdown().await;

    let (url, script) = model_server(vec![Reply::Stream(openai_text(&["Still none."]))]).await;
    let daemon = start_at(dir.path(), openai(&url, ApprovalPolicy::Ask)).await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    client
        .command(
            5,
            Command::PostChat {
                thread_id: child,
                text: "and now?".into(),
            },
        )
        .await;
    let request = requests(&script, 1).await.remove(0);
    let names: Vec<&str> = request["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["list_files"]);
    assert!(request["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("You are a sub-agent"));
    daemon.shutdown().await;
}
