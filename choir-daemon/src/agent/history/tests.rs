//! Conversations generated as a thread's log would hold them (posts before and during turns,
//! steps with tool calls, results, denials, calls cut short, cancelled and failed turns) are
//! assembled and then checked against the ordering rules of both providers' APIs, as the
//! request bodies they would be sent.

use std::collections::{HashMap, HashSet};

use choir_proto::{CallId, Event, EventBody, PlannedCall, ThreadId};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::assemble;
use crate::agent::provider::{Anthropic, ChatRequest, HttpSettings, Message, OpenAi};

const THREAD: ThreadId = ThreadId(7);

#[derive(Debug, Clone)]
enum Action {
    Post,
    StartTurn,
    /// A step with this text (maybe blank) and calls ending (0 result, 1 denied, 2 none).
    Step(String, Vec<u8>),
    /// Cancelled or failed with streamed text.
    Interrupt(String),
    EndTurn,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => Just(Action::Post),
        2 => Just(Action::StartTurn),
        3 => (prop_oneof![Just(String::new()), Just("  ".to_owned()), "[a-z]{1,8}"], prop::collection::vec(0u8..3, 0..3))
            .prop_map(|(text, calls)| Action::Step(text, calls)),
        1 => prop_oneof![Just(String::new()), "[a-z]{1,8}"].prop_map(Action::Interrupt),
        2 => Just(Action::EndTurn),
    ]
}

/// The log of a generated history, and each post's text in the order the turns answered them.
fn log(actions: &[Action]) -> (Vec<Event>, Vec<String>) {
    let mut events = Vec::new();
    let mut push = |body: EventBody| {
        let seq = events.len() as u64 + 1;
        events.push(Event {
            seq,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        });
    };
    let mut running = false;
    let mut posts = 0;
    let mut unanswered = Vec::new();
    let mut answered = Vec::new();
    let mut calls = 0;
    for action in actions {
        match action {
            Action::Post => {
                posts += 1;
                let text = format!("question {posts}");
                unanswered.push(text.clone());
                push(EventBody::ChatUserMessage {
                    thread_id: THREAD,
                    text,
                });
            }
            Action::StartTurn if !running && !unanswered.is_empty() => {
                running = true;
                answered.append(&mut unanswered);
                push(EventBody::ChatTurnStarted { thread_id: THREAD });
            }
            Action::Step(text, outcomes) if running => {
                let planned: Vec<PlannedCall> = outcomes
                    .iter()
                    .map(|_| {
                        calls += 1;
                        PlannedCall {
                            call_id: CallId(format!("call-{calls}")),
                            tool: "bash".into(),
                            args: if calls % 5 == 0 {
                                json!("not json")
                            } else {
                                json!({"cmd": "ls"})
                            },
                        }
                    })
                    .collect();
                push(EventBody::ChatAssistantMessage {
                    thread_id: THREAD,
                    text: text.clone(),
                    tool_calls: planned.clone(),
                    ending: None,
                });
                for (call, outcome) in planned.iter().zip(outcomes) {
                    match outcome {
                        0 => push(EventBody::ToolFinished {
                            call_id: call.call_id.clone(),
                            ok: true,
                            exit_code: Some(0),
                            output: String::new(),
                            duration_ms: 1,
                        }),
                        1 => push(EventBody::ToolDenied {
                            call_id: call.call_id.clone(),
                            reason: "no".into(),
                        }),
                        _ => {}
                    }
                }
            }
            Action::Interrupt(text) if running => {
                running = false;
                push(EventBody::ChatAssistantMessage {
                    thread_id: THREAD,
                    text: text.clone(),
                    tool_calls: Vec::new(),
                    ending: Some(choir_proto::MessageEnding::Interrupted),
                });
                push(EventBody::ChatTurnCancelled { thread_id: THREAD });
            }
            Action::EndTurn if running => {
                running = false;
                push(EventBody::ChatTurnCompleted { thread_id: THREAD });
            }
            _ => {}
        }
    }
    answered.append(&mut unanswered);
    (events, answered)
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        system: "system".into(),
        messages,
        tools: Vec::new(),
        max_tokens: 100,
    }
}

/// OpenAI chat completions: each `tool` message answers a call of the assistant message
/// before the run of tool messages it is in, each call is answered once, right after.
fn check_openai(body: &Value) {
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    let mut open: Vec<String> = Vec::new();
    for message in &messages[1..] {
        match message["role"].as_str().unwrap() {
            "tool" => {
                let id = message["tool_call_id"].as_str().unwrap().to_owned();
                assert_eq!(open.first(), Some(&id), "tool result out of order: {body}");
                open.remove(0);
            }
            role => {
                assert!(
                    open.is_empty(),
                    "calls left unanswered before a {role} message: {body}"
                );
                if role == "assistant" {
                    let calls = message["tool_calls"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let content = &message["content"];
                    assert!(content.is_null() || !content.as_str().unwrap().trim().is_empty());
                    assert!(
                        !calls.is_empty() || !content.is_null(),
                        "empty assistant message"
                    );
                    for call in calls {
                        assert!(call["function"]["arguments"].is_string());
                        open.push(call["id"].as_str().unwrap().to_owned());
                    }
                }
            }
        }
    }
    assert!(open.is_empty(), "calls left unanswered at the end: {body}");
    let last = messages.last().unwrap();
    assert_ne!(last["role"], "assistant", "ends with the assistant: {body}");
}

/// Anthropic Messages: starts with the user, roles alternate, no empty or blank text, inputs
/// are objects, each tool_use answered by a tool_result in the next message, results first.
fn check_anthropic(body: &Value) {
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "user", "{body}");
    let mut pending: HashSet<String> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            assert_ne!(
                message["role"],
                messages[i - 1]["role"],
                "roles repeat: {body}"
            );
        }
        let content = message["content"].as_array().unwrap();
        assert!(!content.is_empty(), "empty content: {body}");
        let mut seen_other = false;
        for block in content {
            match block["type"].as_str().unwrap() {
                "text" => {
                    assert!(!block["text"].as_str().unwrap().trim().is_empty());
                    seen_other = true;
                }
                "tool_use" => {
                    assert!(block["input"].is_object(), "{block}");
                    pending.insert(block["id"].as_str().unwrap().to_owned());
                }
                "tool_result" => {
                    assert!(!seen_other, "a tool_result after text: {body}");
                    let id = block["tool_use_id"].as_str().unwrap();
                    assert!(pending.remove(id), "a result for no open call: {body}");
                }
                other => panic!("block {other}"),
            }
        }
        if message["role"] == "user" {
            assert!(
                pending.is_empty(),
                "calls not answered in the next message: {body}"
            );
        }
    }
    assert_eq!(messages.last().unwrap()["role"], "user");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_history_meets_both_apis(actions in prop::collection::vec(action(), 1..40)) {
        let (events, answered) = log(&actions);
        let messages = assemble(&events);
        // Each post once, in the order the turns answered them.
        let users: Vec<String> = messages.iter().filter_map(|m| match m {
            Message::User(text) => Some(text.clone()),
            _ => None,
        }).collect();
        prop_assert_eq!(&users, &answered);
        // Every call of every step has exactly one result, right after it.
        let mut results: HashMap<String, usize> = HashMap::new();
        for message in &messages {
            if let Message::ToolResult { call_id, .. } = message {
                *results.entry(call_id.clone()).or_default() += 1;
            }
        }
        prop_assert!(results.values().all(|n| *n == 1));
        // A request is only made when the conversation ends with a question.
        if !matches!(messages.last(), Some(Message::User(_))) {
            return Ok(());
        }
        let openai = OpenAi::new("http://127.0.0.1:9", None, "m", HttpSettings::default());
        check_openai(&openai.body(&request(messages.clone())));
        let anthropic = Anthropic::new("http://127.0.0.1:9", "k".into(), "m", HttpSettings::default());
        check_anthropic(&anthropic.body(&request(messages)));
    }
}

#[test]
fn a_post_during_a_turn_follows_its_answer() {
    let (events, _) = log(&[
        Action::Post,
        Action::StartTurn,
        Action::Post,
        Action::Step("Let me look".into(), vec![0]),
        Action::Step("Done".into(), vec![]),
        Action::EndTurn,
    ]);
    let messages = assemble(&events);
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| match m {
            Message::User(_) => "user",
            Message::Assistant { .. } => "assistant",
            Message::ToolResult { .. } => "tool",
        })
        .collect();
    assert_eq!(kinds, ["user", "assistant", "tool", "assistant", "user"]);
    assert_eq!(messages[4], Message::User("question 2".into()));
    assert_eq!(
        messages[2],
        Message::ToolResult {
            call_id: "call-1".into(),
            output: "exit code 0\n".into()
        }
    );
}
