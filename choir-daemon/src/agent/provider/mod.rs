//! LLM providers behind one trait: OpenAI-compatible chat completions, Anthropic Messages, and
//! an offline provider for when no model is configured. Each streams text deltas and complete
//! tool calls into a channel and returns when the model's message is finished.

mod anthropic;
mod offline;
mod openai;
mod sse;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::tools::ToolSpec;

pub use anthropic::Anthropic;
pub use offline::Offline;
pub use openai::OpenAi;

/// One message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant {
        text: String,
        tool_calls: Vec<ToolCallRequest>,
    },
    ToolResult {
        call_id: String,
        output: String,
    },
}

/// A tool call the model asked for, with its arguments complete.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCallRequest {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    /// Most tokens the answer may take.
    pub max_tokens: u32,
}

/// How the model's message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// It finished (or called tools).
    Done,
    /// It reached `max_tokens`: the text is cut off and tool calls may be incomplete.
    Length,
}

/// What a provider streams.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Text(String),
    ToolCall(ToolCallRequest),
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ProviderError {
    #[error("cannot reach the model at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the model at {url} sent no response within {secs} s")]
    NoResponse { url: String, secs: u64 },
    #[error("the connection to the model broke mid-answer: {0}")]
    Broken(String),
    #[error("the model answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the model sent no data for {0} s")]
    Stalled(u64),
    #[error("the model's stream is malformed: {0}")]
    Malformed(String),
}

impl ProviderError {
    /// Worth trying again (rate limits and server errors).
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Unreachable { .. } => true,
            ProviderError::NoResponse { .. }
            | ProviderError::Broken(_)
            | ProviderError::Stalled(_)
            | ProviderError::Malformed(_) => false,
        }
    }
}

/// Timeouts and retries shared by the HTTP providers.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Longest wait for the response headers once the request is sent (a model that is slow
    /// to read a long prompt answers late; a stopped server never does).
    pub response_timeout: Duration,
    /// Longest silence between two chunks of a stream.
    pub read_timeout: Duration,
    /// Attempts for a request that fails with 429 or 5xx before any data arrived.
    pub attempts: u32,
    /// Longest wait before a retry: an answer whose Retry-After asks for longer (a limit that
    /// frees up only in hours) is not tried again.
    pub max_backoff: Duration,
    /// Reach the model through this Unix socket instead of over TCP (the hypervisor's model
    /// gateway, see `config.rs`).
    pub unix_socket: Option<std::path::PathBuf>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(60),
            attempts: 3,
            max_backoff: Duration::from_secs(10),
            unix_socket: None,
        }
    }
}

pub trait Provider: Send + Sync {
    /// A short description for `choir status`, e.g. `openai gpt-4o-mini`.
    fn describe(&self) -> String;
    /// Streams the model's next message for `request` into `events`; says how it ended.
    fn stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        events: mpsc::UnboundedSender<StreamEvent>,
    ) -> BoxFuture<'a, Result<Finish, ProviderError>>;
}

/// Sends a request, retrying 429 and 5xx answers with backoff (honouring Retry-After), and
/// returns the successful response.
async fn send_with_retries(
    settings: &HttpSettings,
    url: &str,
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, ProviderError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match tokio::time::timeout(settings.response_timeout, build().send()).await {
            Ok(result) => result,
            Err(_) => {
                return Err(ProviderError::NoResponse {
                    url: url.to_owned(),
                    secs: settings.response_timeout.as_secs(),
                })
            }
        };
        let error = match result {
            Ok(response) if response.status().is_success() => return Ok(response),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.to_str().ok())
                    .and_then(|value| value.trim().parse::<f64>().ok())
                    .map(Duration::from_secs_f64);
                let body = response.text().await.unwrap_or_default();
                (
                    ProviderError::Status {
                        status,
                        message: error_message(&body),
                    },
                    retry_after,
                )
            }
            Err(err) => (
                ProviderError::Unreachable {
                    url: url.to_owned(),
                    reason: with_causes(&err),
                },
                None,
            ),
        };
        let (error, retry_after) = error;
        let waits_too_long = retry_after.is_some_and(|wait| wait > settings.max_backoff);
        if !error.is_retryable() || attempt >= settings.attempts || waits_too_long {
            return Err(error);
        }
        let backoff = retry_after.unwrap_or(Duration::from_millis(500 * (1 << attempt.min(5))));
        tracing::warn!(%error, attempt, ?backoff, "model request failed; retrying");
        tokio::time::sleep(backoff.min(settings.max_backoff)).await;
    }
}

/// The message of an error body (`{"error": {"message"}}` for both APIs), or the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(500).collect())
}

pub(crate) use choir_proto::with_causes;

/// A tool call's arguments from the text the model streamed: `{}` when empty; text that is
/// not JSON is passed on as a string, so the tool refuses it and the model hears why.
fn parse_arguments(text: String) -> Value {
    if text.trim().is_empty() {
        return Value::Object(serde_json::Map::new());
    }
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn client(settings: &HttpSettings) -> reqwest::Client {
    let builder = reqwest::Client::builder().connect_timeout(settings.connect_timeout);
    let builder = match &settings.unix_socket {
        Some(path) => builder.unix_socket(path.as_path()),
        None => builder,
    };
    builder.build().unwrap_or_default()
}
