//! The model gateway, attacked from inside real sandboxes (process backend, as root): the
//! operator's key is nowhere a sandbox can look, the agent answers through the gateway (the
//! provider stand-in sees the operator's key, never the sandbox's credential), the provider
//! itself is out of the sandbox's reach, a wrong credential and another user's socket are
//! refused, use is counted per user and shown in `user list`, `sandbox list` and `/usage`,
//! and over a limit the chat says which limit and when it frees up, while the other user's
//! agent still answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::provider::{Provider, ANSWER, CLIENT, COMPLETION_TOKENS, PROMPT_TOKENS};
use common::{bash, needs_root, Hypervisor, WAIT};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OPERATOR_KEY: &str = "sk-operator-7f3a9c1e5b2d4068";
const ANTHROPIC_OPERATOR_KEY: &str = "sk-ant-operator-2b8e6d0c4a1f3957";

/// One HTTP request to a sandbox's daemon over its socket, as its owner (the test is root, so
/// it may open the socket); the answer's JSON body.
async fn daemon(hv: &Hypervisor, user: &str, method: &str, path: &str, body: Value) -> Value {
    let text = std::fs::read_to_string(hv.sandbox_dir(user).join("daemon.json")).unwrap();
    let endpoint: Value = serde_json::from_str(&text).unwrap();
    let socket = endpoint["url"]
        .as_str()
        .unwrap()
        .strip_prefix("unix:")
        .unwrap();
    let token = endpoint["token"].as_str().unwrap();
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = tokio::time::timeout(WAIT, async {
        let mut stream = tokio::net::UnixStream::connect(Path::new(socket))
            .await
            .unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        answer
    })
    .await
    .expect("the daemon did not answer");
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 2"), "{method} {path}: {answer}");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("{method} {path}: {answer}"))
}

/// Every event of `user`'s sandbox.
async fn events(hv: &Hypervisor, user: &str) -> Vec<Value> {
    daemon(
        hv,
        user,
        "GET",
        "/api/events?from=1&limit=1000",
        Value::Null,
    )
    .await["events"]
        .as_array()
        .unwrap()
        .clone()
}

/// Opens a chat window in `user`'s sandbox; its thread.
async fn open_chat(hv: &Hypervisor, user: &str) -> Value {
    let command = json!({ "type": "window.open", "app": "chat" });
    daemon(hv, user, "POST", "/api/commands", command).await;
    let all = events(hv, user).await;
    all.iter()
        .rev()
        .find(|event| event["type"] == "chat.thread_created")
        .map(|event| event["data"]["thread_id"].clone())
        .unwrap_or_else(|| panic!("no thread: {:?}", events_of_kind_names(&all)))
}

fn events_of_kind_names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Posts `text` in `thread` and waits for the turn to end; the event that ended it.
async fn ask(hv: &Hypervisor, user: &str, thread: &Value, text: &str) -> Value {
    let before = events(hv, user).await.len();
    let command = json!({ "type": "chat.post", "thread_id": thread, "text": text });
    daemon(hv, user, "POST", "/api/commands", command).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let all = events(hv, user).await;
        if let Some(end) = all[before..].iter().find(|event| {
            matches!(
                event["type"].as_str(),
                Some("chat.turn_completed" | "chat.turn_failed")
            )
        }) {
            let mut end = end.clone();
            // The answer's text, when there is one, beside the ending.
            end["answer"] = all[before..]
                .iter()
                .filter(|event| event["type"] == "chat.assistant_message")
                .map(|event| event["data"]["text"].clone())
                .next_back()
                .unwrap_or(Value::Null);
            return end;
        }
        assert!(
            Instant::now() < deadline,
            "the turn did not end: {:?}",
            events_of_kind_names(&all[before..])
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operators_key_stays_in_the_hypervisor_and_each_user_is_counted_and_limited() {
    if needs_root("the_operators_key_stays_in_the_hypervisor_and_each_user_is_counted_and_limited")
    {
        return;
    }
    let provider = Provider::start().await;
    let openai_url = provider.openai_url();
    let anthropic_url = provider.anthropic_url();
    let hv = Hypervisor::start_with_env(
        &["alice", "bob"],
        &["--limit-model-requests", "4"],
        &[
            ("CHOIR_MODEL", "gpt-test"),
            ("OPENAI_API_KEY", OPERATOR_KEY),
            ("OPENAI_BASE_URL", &openai_url),
            ("ANTHROPIC_API_KEY", ANTHROPIC_OPERATOR_KEY),
            ("ANTHROPIC_BASE_URL", &anthropic_url),
        ],
    );
    // Announced just after the SSH line `start` waits for.
    let deadline = Instant::now() + WAIT;
    while !hv.output().contains("model gateway: openai gpt-test") {
        assert!(
            Instant::now() < deadline,
            "no gateway announced:\n{}",
            hv.output()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let alice = hv.connect("alice").await;
    let bob = hv.connect("bob").await;
    bash(&bob, "true").await;

    // 1. The keys are nowhere Alice can look: her environment, her daemon's, her files.
    let (output, code) = bash(
        &alice,
        "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; grep -rs sk- ~ .. 2>/dev/null; \
         echo gateway=$CHOIR_GATEWAY",
    )
    .await;
    assert_eq!(code, 0, "{output}");
    assert!(
        !output.contains("sk-"),
        "a key is in the sandbox:\n{output}"
    );
    assert!(output.contains("CHOIR_GATEWAY_TOKEN=chg_"), "{output}");
    let socket = output
        .lines()
        .find_map(|line| line.strip_prefix("gateway="))
        .unwrap()
        .to_owned();
    assert!(socket.ends_with("/gateway.sock"), "{output}");
    for (pid, _, cmdline) in hv.daemons() {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        assert!(!environ.contains("sk-"), "a daemon has a key: {cmdline}");
    }

    // 2. The agent answers through the gateway: the provider saw the operator's key, was
    //    asked to report usage, and never saw the sandbox's credential.
    let thread = open_chat(&hv, "alice").await;
    let end = ask(&hv, "alice", &thread, "hello through the gateway").await;
    assert_eq!(end["type"], "chat.turn_completed", "{end}");
    assert_eq!(end["answer"], ANSWER, "{end}");
    let seen = provider.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert_eq!(
        seen[0].headers["authorization"],
        format!("Bearer {OPERATOR_KEY}")
    );
    assert_eq!(seen[0].body["stream_options"]["include_usage"], true);
    assert!(!format!("{:?}", seen[0].headers).contains("chg_"));
    let used = PROMPT_TOKENS + COMPLETION_TOKENS;

    // 3. The provider itself is out of reach from the sandbox (it listens on the host's
    //    loopback); a wrong credential and Bob's socket are refused; Anthropic's API works
    //    with Alice's own credential, and the provider sees the operator's key.
    let port = provider.addr.port();
    let (output, _) = bash(
        &alice,
        &format!(
            "{CLIENT}\npython3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('provider reached')\" 2>&1 | tail -1\n\
             python3 gw.py $CHOIR_GATEWAY POST /openai/v1/chat/completions chg_0000 '{{\"model\":\"m\",\"messages\":[]}}'\n\
             python3 gw.py {bob_socket} GET /usage $CHOIR_GATEWAY_TOKEN\n\
             python3 gw.py $CHOIR_GATEWAY POST /anthropic/v1/messages $CHOIR_GATEWAY_TOKEN '{{\"model\":\"claude\",\"max_tokens\":16,\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'\n\
             python3 gw.py $CHOIR_GATEWAY GET /usage $CHOIR_GATEWAY_TOKEN",
            bob_socket = hv.sandbox_dir("bob").join("gateway.sock").display(),
        ),
    )
    .await;
    assert!(!output.contains("provider reached"), "{output}");
    assert!(
        output.contains("HTTP/1.1 401"),
        "a wrong credential: {output}"
    );
    // Landlock hides Bob's data dir, whose socket only Bob's uid may open anyway.
    assert!(
        output.contains("refused PermissionError") || output.contains("refused FileNotFoundError"),
        "Bob's socket: {output}"
    );
    assert!(
        output.contains(ANSWER),
        "Anthropic through the gateway: {output}"
    );
    let seen = provider.seen();
    assert_eq!(seen.len(), 2, "the wrong credential went through: {seen:?}");
    assert_eq!(seen[1].path, "/v1/messages");
    assert_eq!(seen[1].headers["x-api-key"], ANTHROPIC_OPERATOR_KEY);
    assert!(seen[1].headers.get("anthropic-version").is_some());
    let used = used * 2;
    let usage: Value = output
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .unwrap_or_else(|| panic!("no /usage answer: {output}"));
    assert_eq!(usage["requests_today"], 2, "{usage}");
    assert_eq!(usage["tokens_today"], used, "{usage}");
    assert_eq!(usage["limits"]["requests_per_minute"], 4, "{usage}");

    // 4. Counted per user, where the operator looks.
    let users = String::from_utf8(hv.run(&["user", "list"]).stdout).unwrap();
    let alice_block: String = users.split("\nbob\n").next().unwrap().to_owned();
    assert!(
        alice_block.contains(&format!("model    today (UTC): 2 requests, {used} tokens")),
        "{users}"
    );
    assert!(
        !users
            .split("\nbob\n")
            .nth(1)
            .unwrap_or("")
            .contains("model"),
        "{users}"
    );
    let listed = hv.sandbox("alice");
    assert_eq!(listed["model_requests"], 2, "{listed}");
    assert_eq!(listed["model_tokens"], used, "{listed}");

    // 5. Over the limit (4 a minute): the fourth and last request goes, the next turn fails
    //    with the limit named, and Bob, counted apart, still gets his answer.
    let end = ask(&hv, "alice", &thread, "third").await;
    assert_eq!(end["type"], "chat.turn_completed", "{end}");
    let end = ask(&hv, "alice", &thread, "fourth").await;
    assert_eq!(end["type"], "chat.turn_completed", "{end}");
    let end = ask(&hv, "alice", &thread, "one too many").await;
    assert_eq!(end["type"], "chat.turn_failed", "{end}");
    let error = end["data"]["error"].as_str().unwrap();
    assert!(
        error.contains("4 requests a minute") && error.contains("the next may go in"),
        "{error}"
    );
    assert_eq!(
        provider.seen().len(),
        4,
        "a refused request reached the provider"
    );
    let bob_thread = open_chat(&hv, "bob").await;
    let end = ask(&hv, "bob", &bob_thread, "and me?").await;
    assert_eq!(end["type"], "chat.turn_completed", "{end}");
    assert_eq!(end["answer"], ANSWER);
}
