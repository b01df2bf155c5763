//! The agent's own overhead per request: `cargo bench -p choir-daemon --bench agent`.
//!
//! A thread of 1,000 messages (500 exchanges, every fifth with a tool call and its result;
//! `BENCH_MESSAGES` for another count) is written to a fresh log; then
//! 1. history assembly: what a turn does before it sends anything (read the thread from
//!    SQLite, assemble the conversation, fit it to the context), timed alone;
//! 2. time to first token: a chat message posted over the WebSocket until the first streamed
//!    delta arrives back, against the same request (the body ChoirOS sent, recorded) sent
//!    straight to the same server, alternating, in the same run.
//!
//! The model server is `BENCH_MODEL_URL` (an OpenAI-compatible base URL such as llama.cpp's
//! `http://127.0.0.1:8080/v1`, with `BENCH_MODEL` naming the model), or else a stand-in that
//! streams its first token `BENCH_FIRST_TOKEN_MS` (default 200, a warm local model's figure)
//! after the request. Either way ChoirOS reaches it through a recording pass-through, which
//! the straight path does not cross. The straight request is the body ChoirOS sent; a real
//! server is asked not to use its prompt cache for either (`cache_prompt: false`, added by
//! the pass-through), or the replay would be answered from the cache ChoirOS's request just
//! filled. `BENCH_QUICK=1` for a short run, `BENCH_ROUNDS=N` to choose.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use choir_daemon::agent::{AgentConfig, ApprovalPolicy, ProviderKind};
use choir_daemon::store::{EventStore, StoreOptions};
use choir_daemon::{Daemon, DaemonConfig};
use choir_proto::{
    CallId, ClientFrame, Command, EphemeralBody, EventBody, NewEvent, PlannedCall, ServerFrame,
    ThreadId, PROTOCOL_VERSION,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const THREAD: ThreadId = ThreadId(1);

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn summary(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (percentile(samples, 0.5), percentile(samples, 0.99))
}

/// A thread of `messages` messages, as a log holds them after half as many turns.
fn history(messages: usize) -> Vec<NewEvent> {
    let mut events = vec![NewEvent::new(
        "bench",
        EventBody::ChatThreadCreated {
            thread_id: THREAD,
            title: "Chat".into(),
        },
    )];
    let text = |i: usize, who: &str| {
        format!("{who} message {i}: the quick brown fox jumps over the lazy dog, twice over, and then it rests for a while in the shade of the old oak tree.")
    };
    for i in 0..messages / 2 {
        let mut push = |body| events.push(NewEvent::new("bench", body));
        push(EventBody::ChatUserMessage {
            thread_id: THREAD,
            text: text(i, "user"),
        });
        push(EventBody::ChatTurnStarted { thread_id: THREAD });
        if i % 5 == 0 {
            let call_id = CallId(format!("call-{i}"));
            push(EventBody::ChatAssistantMessage {
                thread_id: THREAD,
                text: String::new(),
                tool_calls: vec![PlannedCall {
                    call_id: call_id.clone(),
                    tool: "bash".into(),
                    args: json!({"cmd": "ls -la"}),
                }],
                ending: None,
            });
            push(EventBody::ToolFinished {
                call_id,
                ok: true,
                exit_code: Some(0),
                output: "total 8\n".repeat(40),
                duration_ms: 3,
            });
        }
        push(EventBody::ChatAssistantMessage {
            thread_id: THREAD,
            text: text(i, "assistant"),
            tool_calls: Vec::new(),
            ending: None,
        });
        push(EventBody::ChatTurnCompleted { thread_id: THREAD });
    }
    events
}

/// The stand-in model: its first token after `delay`, then a few more.
async fn stand_in(State(delay): State<Duration>, _body: String) -> Response {
    let chunks = ["Sure", ", here", " it is."];
    let stream = futures_util::stream::iter(chunks.into_iter().enumerate()).then(
        move |(i, text)| async move {
            tokio::time::sleep(if i == 0 {
                delay
            } else {
                Duration::from_millis(2)
            })
            .await;
            let chunk = json!({"choices": [{"index": 0, "delta": {"content": text}}]});
            Ok::<_, std::io::Error>(format!("data: {chunk}\n\n"))
        },
    );
    let end = futures_util::stream::iter([Ok::<_, std::io::Error>(
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n".to_owned(),
    )]);
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream.chain(end)))
        .unwrap()
}

#[derive(Clone)]
struct Relay {
    upstream: String,
    http: reqwest::Client,
    bodies: Arc<Mutex<Vec<String>>>,
    /// Ask a real server not to answer from its prompt cache (llama.cpp's `cache_prompt`).
    uncached: bool,
}

/// The recording pass-through ChoirOS talks to.
async fn relay(State(relay): State<Relay>, body: String) -> Response {
    let body = if relay.uncached {
        let mut value: Value = serde_json::from_str(&body).unwrap();
        value["cache_prompt"] = Value::Bool(false);
        value.to_string()
    } else {
        body
    };
    relay.bodies.lock().unwrap().push(body.clone());
    let upstream = relay
        .http
        .post(format!("{}/chat/completions", relay.upstream))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(upstream.bytes_stream()))
        .unwrap()
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Time to the first streamed content chunk of `body` sent straight to `upstream`.
async fn straight(http: &reqwest::Client, upstream: &str, body: &str) -> Duration {
    let clock = Instant::now();
    let response = http
        .post(format!("{upstream}/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        if seen.contains("\"content\":\"") {
            let first = clock.elapsed();
            // Drain the rest so the server is idle for the next request.
            while stream.next().await.is_some() {}
            return first;
        }
    }
    panic!("no content from the model: {seen}");
}

#[tokio::main]
async fn main() {
    let rounds = if quick() { 8 } else { 40 };
    let first_token = Duration::from_millis(
        std::env::var("BENCH_FIRST_TOKEN_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200),
    );
    let (upstream, model, what) = match std::env::var("BENCH_MODEL_URL") {
        Ok(url) => {
            let model = std::env::var("BENCH_MODEL").unwrap_or_else(|_| "model".into());
            let what = format!("{model} at {url}");
            (url.trim_end_matches('/').to_owned(), model, what)
        }
        Err(_) => {
            let app = Router::new()
                .route("/v1/chat/completions", post(stand_in))
                .with_state(first_token);
            let url = serve(app).await;
            let what = format!(
                "a stand-in streaming its first token after {} ms",
                first_token.as_millis()
            );
            (url, "gpt-4o".to_owned(), what)
        }
    };
    let real_model = std::env::var_os("BENCH_MODEL_URL").is_some();
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(rounds);
    let http = reqwest::Client::new();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let relay_url = serve(
        Router::new()
            .route("/v1/chat/completions", post(relay))
            .with_state(Relay {
                upstream: upstream.clone(),
                http: http.clone(),
                bodies: bodies.clone(),
                uncached: real_model,
            }),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(&dir.path().join("events.db"), StoreOptions::default())
        .await
        .unwrap();
    let messages: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let events = history(messages);
    for batch in events.chunks(500) {
        store.append(batch.to_vec()).await.unwrap();
    }
    store.shutdown().await;
    let agent = AgentConfig {
        provider: ProviderKind::OpenAi,
        model: Some(model.clone()),
        openai_base_url: relay_url,
        approval: ApprovalPolicy::AutoAll,
        ..AgentConfig::default()
    };
    let budget = agent.budget();
    let daemon = Daemon::start(DaemonConfig {
        agent,
        ..DaemonConfig::local(dir.path())
    })
    .await
    .unwrap();
    println!("model: {what}");
    println!(
        "thread: {} events, {messages} messages; budget {:?}",
        events.len(),
        budget
    );

    // 1. History assembly alone.
    let mut assembly = Vec::new();
    let mut sent = (0, 0);
    for _ in 0..rounds {
        let clock = Instant::now();
        sent = choir_daemon::agent::request_size(&daemon.store, THREAD, budget)
            .await
            .unwrap();
        assembly.push(clock.elapsed());
    }
    let (a50, a99) = summary(&mut assembly);
    println!(
        "history assembly (read the thread, assemble, fit): p50 {} p99 {} → {} messages, ~{} tokens sent",
        ms(a50),
        ms(a99),
        sent.0,
        sent.1
    );

    // 2. Time to first token, through ChoirOS and straight, alternating.
    let url = daemon.url().replacen("http", "ws", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}/ws"))
        .await
        .unwrap();
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(daemon.token.clone()),
        resume_from: None,
        client: Some("bench".into()),
    };
    ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
        .await
        .unwrap();
    let mut through = Vec::new();
    let mut direct = Vec::new();
    for round in 0..rounds + 2 {
        let post = ClientFrame::Command {
            id: round as u64 + 1,
            command: Command::PostChat {
                thread_id: THREAD,
                text: format!("question {round}: what next?"),
            },
        };
        let clock = Instant::now();
        ws.send(Message::text(serde_json::to_string(&post).unwrap()))
            .await
            .unwrap();
        let mut first = None;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(120), ws.next())
                .await
                .expect("no answer within 120 s")
                .unwrap()
                .unwrap();
            let Message::Text(text) = frame else { continue };
            let frame: ServerFrame = serde_json::from_str(&text).unwrap();
            match frame {
                ServerFrame::Ephemeral {
                    body: EphemeralBody::ChatDelta { .. },
                } if first.is_none() => first = Some(clock.elapsed()),
                ServerFrame::Event { event } => match event.body {
                    EventBody::ChatTurnCompleted { .. } => break,
                    EventBody::ChatTurnFailed { error, .. } => panic!("the turn failed: {error}"),
                    _ => {}
                },
                _ => {}
            }
        }
        let body = bodies.lock().unwrap().last().cloned().unwrap();
        // A real server is asked to skip its prompt cache on both paths, so both process the
        // same prompt from scratch; the stand-in has no cache and gets the body as sent.
        let straight_first = straight(&http, &upstream, &body).await;
        // The first two rounds warm up (connections, the model's prompt cache).
        if round >= 2 {
            through.push(first.expect("no streamed delta"));
            direct.push(straight_first);
        }
    }
    let body: Value =
        serde_json::from_str(&bodies.lock().unwrap().last().cloned().unwrap()).unwrap();
    let (t50, t99) = summary(&mut through);
    let (d50, d99) = summary(&mut direct);
    println!(
        "request sent: {} messages, {} KiB",
        body["messages"].as_array().map_or(0, Vec::len),
        serde_json::to_string(&body).unwrap().len() / 1024
    );
    println!(
        "time to first token, {} rounds: through ChoirOS p50 {} p99 {}; straight p50 {} p99 {}",
        through.len(),
        ms(t50),
        ms(t99),
        ms(d50),
        ms(d99)
    );
    println!(
        "ratio p50 {:.3}, p99 {:.3}; added at the median {}",
        t50.as_secs_f64() / d50.as_secs_f64(),
        t99.as_secs_f64() / d99.as_secs_f64(),
        ms(t50.saturating_sub(d50))
    );
    daemon.shutdown().await;
}
