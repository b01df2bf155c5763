//! A model provider stand-in on 127.0.0.1:0 that speaks the real wire formats: OpenAI's
//! streamed chat completions (`data:` chunks, the usage chunk, `[DONE]`) and Anthropic's
//! Messages events. It remembers every request it got (headers and body), and can wait
//! before its first byte, for timing the gateway against it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// What the stand-in answers with, and the usage it reports.
pub const ANSWER: &str = "Hello from the provider";
pub const PROMPT_TOKENS: u64 = 11;
pub const COMPLETION_TOKENS: u64 = 5;

/// A small HTTP client over a Unix socket, run inside the sandbox:
/// `python3 gw.py SOCKET METHOD PATH CREDENTIAL [BODY]` prints the raw answer, or
/// `refused <why>` when the socket cannot be opened.
pub const CLIENT: &str = r#"cat > gw.py <<'EOF'
import socket, sys
path, method, url, cred = sys.argv[1:5]
body = sys.argv[5] if len(sys.argv) > 5 else ''
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
try:
    s.connect(path)
except Exception as e:
    print('refused', type(e).__name__)
    sys.exit(0)
head = f'{method} {url} HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {cred}\r\nx-api-key: {cred}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n'
s.sendall((head + body).encode())
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.decode(errors='replace'))
EOF"#;

/// One request the stand-in got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    delay: Arc<Mutex<Duration>>,
}

pub struct Provider {
    pub addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Provider {
    pub async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new()
            .route("/v1/chat/completions", post(openai))
            .route("/v1/messages", post(anthropic))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT/v1` (OpenAI's base URL form).
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT` (Anthropic's base URL form).
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// Waits this long before answering (a model thinking before its first token).
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock().unwrap() = delay;
    }
}

fn remember(shared: &Shared, path: &str, headers: HeaderMap, body: &[u8]) -> Duration {
    shared.seen.lock().unwrap().push(Seen {
        path: path.to_owned(),
        headers,
        body: serde_json::from_slice(body).unwrap_or(Value::Null),
    });
    *shared.delay.lock().unwrap()
}

fn stream(events: Vec<String>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .body(Body::from(events.concat()))
        .unwrap()
}

async fn openai(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let delay = remember(&shared, "/v1/chat/completions", headers, &body);
    tokio::time::sleep(delay).await;
    let chunk = |value: Value| format!("data: {value}\n\n");
    stream(vec![
        chunk(
            serde_json::json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ANSWER}}]}),
        ),
        chunk(serde_json::json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})),
        chunk(serde_json::json!({"choices": [], "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        }})),
        "data: [DONE]\n\n".to_owned(),
    ])
}

async fn anthropic(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let delay = remember(&shared, "/v1/messages", headers, &body);
    tokio::time::sleep(delay).await;
    let event = |name: &str, value: Value| format!("event: {name}\ndata: {value}\n\n");
    stream(vec![
        event(
            "message_start",
            serde_json::json!({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [],
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            serde_json::json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            "content_block_delta",
            serde_json::json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": ANSWER}}),
        ),
        event(
            "content_block_stop",
            serde_json::json!({"type": "content_block_stop", "index": 0}),
        ),
        event(
            "message_delta",
            serde_json::json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": COMPLETION_TOKENS}}),
        ),
        event("message_stop", serde_json::json!({"type": "message_stop"})),
    ])
}
