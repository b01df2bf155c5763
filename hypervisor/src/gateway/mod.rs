//! The model gateway: the operator's provider keys stay in the hypervisor. Each sandbox's
//! agent talks to an OpenAI- and Anthropic-compatible endpoint on a Unix socket in its own
//! data dir, which only the sandbox's user may open, with a credential of its own (`chg_…`,
//! new at each start of the sandbox). The gateway forwards each request to the real provider
//! with the operator's key, streaming the answer back as it comes, within per-user limits
//! (`ledger.rs`), and counts what each user used (`usage.rs`).
//!
//! Routes, on each user's socket:
//! - `POST /openai/v1/chat/completions` → `$OPENAI_BASE_URL/chat/completions`
//! - `POST /anthropic/v1/messages` → `$ANTHROPIC_BASE_URL/v1/messages`
//! - `GET /usage` → the user's figures and limits (`UsageReport`)
//!
//! Over a limit, the answer is the provider's own error shape with status 429, a message that
//! names the limit and when it frees up, and `Retry-After`.

mod ledger;
mod usage;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::db::Pool;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde_json::{json, Value};
use thiserror::Error;

use ledger::Admitted;
pub use ledger::{today_of, Ledger, Limits, OverLimit, UsageReport};
use usage::Scanner;
pub use usage::Tokens;

/// The socket's name in a sandbox's data dir.
pub const SOCKET: &str = "gateway.sock";
/// What a sandbox is told: where its gateway is, and its credential.
pub const SOCKET_ENV: &str = "CHOIR_GATEWAY";
pub const TOKEN_ENV: &str = "CHOIR_GATEWAY_TOKEN";
/// What every credential starts with (so the daemon can keep them out of its log).
const CREDENTIAL_PREFIX: &str = "chg_";
/// Largest request a sandbox may send (a long conversation with its tools).
const MAX_REQUEST: usize = 16 << 20;
/// Anthropic's API version, when the sandbox names none.
const ANTHROPIC_VERSION: &str = "2023-06-01";

pub const DEFAULT_OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
pub const DEFAULT_ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

#[derive(Debug, Error)]
pub enum GatewayError {
    #[error("the gateway's socket {path}: {source}")]
    Socket {
        path: String,
        source: std::io::Error,
    },
    #[error("the gateway's usage table: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot make a credential: {0}")]
    Random(String),
}

/// A provider the gateway forwards to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub base_url: String,
    /// The operator's key (a local server may need none).
    pub key: Option<String>,
}

/// What the gateway forwards to, and how much each user may ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    pub openai: Option<Upstream>,
    pub anthropic: Option<Upstream>,
    /// The provider sandboxes use by default (`openai` or `anthropic`), and the model.
    pub provider: Option<String>,
    pub model: Option<String>,
    pub limits: Limits,
}

impl GatewayConfig {
    /// From the operator's environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
    /// `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`, `CHOIR_PROVIDER`, `CHOIR_MODEL`. A provider
    /// is there when its key or its base URL is set.
    pub fn from_env(env: impl Fn(&str) -> Option<String>, limits: Limits) -> Self {
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let upstream = |key: &str, base: &str, default: &str| {
            let (key, base) = (set(key), set(base));
            (key.is_some() || base.is_some()).then(|| Upstream {
                base_url: base
                    .unwrap_or_else(|| default.to_owned())
                    .trim_end_matches('/')
                    .to_owned(),
                key,
            })
        };
        let openai = upstream("OPENAI_API_KEY", "OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL);
        let anthropic = upstream(
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_BASE_URL",
            DEFAULT_ANTHROPIC_BASE_URL,
        );
        // As the daemon would pick it: named, else (with a model) the one configured, OpenAI
        // if both; without a model, agents stay offline unless their owner names one.
        let model = set("CHOIR_MODEL");
        let provider = set("CHOIR_PROVIDER").or_else(|| match (&model, &openai, &anthropic) {
            (None, _, _) => None,
            (Some(_), Some(_), _) => Some("openai".into()),
            (Some(_), None, Some(_)) => Some("anthropic".into()),
            (Some(_), None, None) => None,
        });
        Self {
            openai,
            anthropic,
            provider,
            model,
            limits,
        }
    }

    /// Whether there is anything to forward to.
    pub fn enabled(&self) -> bool {
        self.openai.is_some() || self.anthropic.is_some()
    }

    /// What is wrong with the operator's choice, which every sandbox's agent would refuse.
    pub fn problem(&self) -> Option<String> {
        match (self.provider.as_deref(), &self.model) {
            (Some("openai" | "anthropic"), None) => Some(format!(
                "CHOIR_PROVIDER is {} but CHOIR_MODEL is not set: set the model agents use",
                self.provider.as_deref().unwrap_or_default()
            )),
            (Some("openai"), Some(_)) if self.openai.is_none() => Some(
                "CHOIR_PROVIDER is openai but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set"
                    .into(),
            ),
            (Some("anthropic"), Some(_)) if self.anthropic.is_none() => Some(
                "CHOIR_PROVIDER is anthropic but neither ANTHROPIC_API_KEY nor ANTHROPIC_BASE_URL is set"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The gateway; one per hypervisor.
pub struct Gateway {
    config: GatewayConfig,
    client: reqwest::Client,
    ledger: Arc<Ledger>,
    /// Each user's current credential and the task serving their socket.
    served: Mutex<HashMap<String, Served>>,
}

struct Served {
    credential: Arc<str>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No keys.
        f.debug_struct("Gateway")
            .field("provider", &self.config.provider)
            .field("model", &self.config.model)
            .field("limits", &self.config.limits)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub async fn new(config: GatewayConfig, pool: Pool) -> Result<Arc<Self>, GatewayError> {
        let ledger = Arc::new(Ledger::open(pool, config.limits).await?);
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Ok(Arc::new(Self {
            config,
            client,
            ledger,
            served: Mutex::default(),
        }))
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Opens `user`'s endpoint: a socket at `path` that only `owner` (uid, gid) may open, with
    /// a new credential (the last one stops working). Returns what the sandbox is told, with
    /// the socket at `path_inside` as the sandbox sees it.
    pub fn attach(
        self: &Arc<Self>,
        user: &str,
        path: &Path,
        owner: Option<(u32, u32)>,
        path_inside: &Path,
    ) -> Result<Vec<(String, String)>, GatewayError> {
        let socket_error = |source| GatewayError::Socket {
            path: path.display().to_string(),
            source,
        };
        // Only a socket is replaced: anything else there was put by the sandbox.
        match std::fs::symlink_metadata(path) {
            Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
                std::fs::remove_file(path).map_err(socket_error)?;
            }
            Ok(_) => std::fs::remove_file(path).map_err(socket_error)?,
            Err(_) => {}
        }
        let listener = tokio::net::UnixListener::bind(path).map_err(socket_error)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(socket_error)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(socket_error)?;
        }
        let credential: Arc<str> = Arc::from(format!("{CREDENTIAL_PREFIX}{}", random_hex()?));
        let router = Router::new()
            .route("/openai/v1/chat/completions", post(openai_chat))
            .route("/anthropic/v1/messages", post(anthropic_messages))
            .route("/usage", get(usage))
            .fallback(not_found)
            .layer(DefaultBodyLimit::max(MAX_REQUEST))
            .with_state(Caller {
                gateway: self.clone(),
                user: Arc::from(user),
                credential: credential.clone(),
            });
        let owner_name = user.to_owned();
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, router).await {
                tracing::error!(user = owner_name, %err, "the model gateway's socket failed");
            }
        });
        self.served
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(
                user.to_owned(),
                Served {
                    credential: credential.clone(),
                    task,
                },
            );
        let mut env = vec![
            (SOCKET_ENV.to_owned(), path_inside.display().to_string()),
            (TOKEN_ENV.to_owned(), credential.to_string()),
        ];
        if let Some(provider) = &self.config.provider {
            env.push(("CHOIR_PROVIDER".into(), provider.clone()));
        }
        if let Some(model) = &self.config.model {
            env.push(("CHOIR_MODEL".into(), model.clone()));
        }
        Ok(env)
    }

    /// `user`'s figures and limits.
    pub async fn report(&self, user: &str) -> Result<UsageReport, GatewayError> {
        Ok(self.ledger.report(user).await?)
    }

    /// Whether `credential` is `user`'s current one.
    fn current(&self, user: &str, credential: &str) -> bool {
        self.served
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(user)
            .is_some_and(|served| choir_proto::same_secret(&served.credential, credential))
    }
}

/// Who is asking: the user whose socket the request came on.
#[derive(Clone)]
struct Caller {
    gateway: Arc<Gateway>,
    user: Arc<str>,
    credential: Arc<str>,
}

/// The two provider APIs, for their error shapes and their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    OpenAi,
    Anthropic,
}

impl Caller {
    /// Whether the request carries this socket's credential, still the user's current one.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let header = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
        };
        let presented = header(header::AUTHORIZATION)
            .and_then(|value| value.strip_prefix("Bearer "))
            .or_else(|| header(header::HeaderName::from_static("x-api-key")));
        presented.is_some_and(|presented| {
            choir_proto::same_secret(&self.credential, presented)
                && self.gateway.current(&self.user, presented)
        })
    }

    /// Sends `body` to `url` with the operator's key, within the user's limits, and streams
    /// the answer back, counting the tokens it reports.
    async fn forward(
        &self,
        api: Api,
        upstream: &Upstream,
        url: String,
        body: Vec<u8>,
        headers: &HeaderMap,
    ) -> Response {
        let admitted = match self.gateway.ledger.admit(&self.user).await {
            Ok(Ok(admitted)) => admitted,
            Ok(Err(over)) => {
                tracing::info!(user = %self.user, limit = over.message, "model request over a limit");
                return over_limit(api, &over);
            }
            Err(err) => {
                tracing::error!(%err, "cannot count a model request");
                return error(
                    api,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the gateway cannot count this request",
                );
            }
        };
        let mut request = self
            .gateway
            .client
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        request = match (api, &upstream.key) {
            (Api::OpenAi, Some(key)) => request.bearer_auth(key),
            (Api::Anthropic, key) => {
                let version = headers
                    .get("anthropic-version")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or(ANTHROPIC_VERSION);
                let request = request.header("anthropic-version", version);
                match key {
                    Some(key) => request.header("x-api-key", key),
                    None => request,
                }
            }
            (Api::OpenAi, None) => request,
        };
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::warn!(user = %self.user, %err, "the provider cannot be reached");
                return error(
                    api,
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "the model gateway cannot reach the provider: {}",
                        without_url(&err)
                    ),
                );
            }
        };
        let status =
            StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = Response::builder().status(status);
        for name in [header::CONTENT_TYPE, header::RETRY_AFTER] {
            if let Some(value) = answer.headers().get(name.as_str()) {
                if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                    response = response.header(name, value);
                }
            }
        }
        let counted = Counted {
            inner: Box::pin(answer.bytes_stream()),
            scanner: Some(Scanner::default()),
            user: self.user.clone(),
            gateway: self.gateway.clone(),
            _admitted: admitted,
        };
        response
            .body(Body::from_stream(counted))
            .unwrap_or_else(|_| {
                error(
                    api,
                    StatusCode::BAD_GATEWAY,
                    "a bad answer from the provider",
                )
            })
    }
}

/// `POST /openai/v1/chat/completions`.
async fn openai_chat(State(caller): State<Caller>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(upstream) = caller.gateway.config.openai.clone() else {
        return error(
            Api::OpenAi,
            StatusCode::NOT_FOUND,
            "this host's model gateway has no OpenAI-compatible provider",
        );
    };
    if !caller.authorized(&headers) {
        return error(
            Api::OpenAi,
            StatusCode::UNAUTHORIZED,
            "wrong or old gateway credential",
        );
    }
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return error(
            Api::OpenAi,
            StatusCode::BAD_REQUEST,
            "the request is not JSON",
        );
    };
    // The answer's last chunk then says how many tokens it took.
    if request["stream"] == true {
        if let Some(object) = request.as_object_mut() {
            object.insert("stream_options".into(), json!({ "include_usage": true }));
        }
    }
    let url = format!("{}/chat/completions", upstream.base_url);
    caller
        .forward(
            Api::OpenAi,
            &upstream,
            url,
            request.to_string().into_bytes(),
            &headers,
        )
        .await
}

/// `POST /anthropic/v1/messages`.
async fn anthropic_messages(
    State(caller): State<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(upstream) = caller.gateway.config.anthropic.clone() else {
        return error(
            Api::Anthropic,
            StatusCode::NOT_FOUND,
            "this host's model gateway has no Anthropic provider",
        );
    };
    if !caller.authorized(&headers) {
        return error(
            Api::Anthropic,
            StatusCode::UNAUTHORIZED,
            "wrong or old gateway credential",
        );
    }
    if serde_json::from_slice::<Value>(&body).is_err() {
        return error(
            Api::Anthropic,
            StatusCode::BAD_REQUEST,
            "the request is not JSON",
        );
    }
    let url = format!("{}/v1/messages", upstream.base_url);
    caller
        .forward(Api::Anthropic, &upstream, url, body.to_vec(), &headers)
        .await
}

/// `GET /usage`.
async fn usage(State(caller): State<Caller>, headers: HeaderMap) -> Response {
    if !caller.authorized(&headers) {
        return error(
            Api::OpenAi,
            StatusCode::UNAUTHORIZED,
            "wrong or old gateway credential",
        );
    }
    match caller.gateway.report(&caller.user).await {
        Ok(report) => Json(report).into_response(),
        Err(err) => {
            tracing::error!(%err, "cannot read model usage");
            error(
                Api::OpenAi,
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the usage",
            )
        }
    }
}

async fn not_found() -> Response {
    error(
        Api::OpenAi,
        StatusCode::NOT_FOUND,
        "the model gateway serves /openai/v1/chat/completions, /anthropic/v1/messages and /usage",
    )
}

/// An error in the shape the API's clients read.
fn error(api: Api, status: StatusCode, message: &str) -> Response {
    let kind = match status {
        StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
        StatusCode::UNAUTHORIZED => "authentication_error",
        StatusCode::BAD_REQUEST => "invalid_request_error",
        StatusCode::NOT_FOUND => "not_found_error",
        _ => "api_error",
    };
    let body = match api {
        Api::OpenAi => {
            json!({ "error": { "message": message, "type": kind, "code": "choir_gateway" } })
        }
        Api::Anthropic => json!({ "type": "error", "error": { "type": kind, "message": message } }),
    };
    (status, Json(body)).into_response()
}

fn over_limit(api: Api, over: &OverLimit) -> Response {
    let mut response = error(api, StatusCode::TOO_MANY_REQUESTS, &over.message);
    if let Ok(value) = HeaderValue::from_str(&over.retry_after.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The provider's answer on its way to the sandbox, with the tokens it reports counted when
/// it ends (or the sandbox stops reading).
struct Counted {
    inner: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    scanner: Option<Scanner>,
    user: Arc<str>,
    gateway: Arc<Gateway>,
    /// Holds the user's place among requests under way.
    _admitted: Admitted,
}

impl Stream for Counted {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                if let Some(scanner) = &mut self.scanner {
                    scanner.feed(&bytes);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(err))) => {
                Poll::Ready(Some(Err(std::io::Error::other(without_url(&err)))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let Some(scanner) = self.scanner.take() else {
            return;
        };
        let tokens = scanner.finish();
        let (gateway, user) = (self.gateway.clone(), self.user.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = gateway.ledger.record(&user, tokens).await {
                    tracing::error!(%err, %user, "cannot count a model answer's tokens");
                }
            });
        }
    }
}

/// An HTTP client error and its causes, without the provider's URL (an operator's URL may
/// hold more than a host).
fn without_url(err: &reqwest::Error) -> String {
    let text = choir_proto::with_causes(err);
    match err.url() {
        Some(url) => text.replace(url.as_str(), "the provider"),
        None => text,
    }
}

fn random_hex() -> Result<String, GatewayError> {
    choir_proto::random_hex(32).map_err(|err| GatewayError::Random(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_environment_names_the_providers_and_the_default() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        let none = GatewayConfig::from_env(env(&[]), Limits::default());
        assert!(!none.enabled());
        let anthropic = GatewayConfig::from_env(
            env(&[("ANTHROPIC_API_KEY", "sk-ant"), ("CHOIR_MODEL", "claude")]),
            Limits::default(),
        );
        assert_eq!(anthropic.provider.as_deref(), Some("anthropic"));
        assert_eq!(
            anthropic.anthropic,
            Some(Upstream {
                base_url: DEFAULT_ANTHROPIC_BASE_URL.into(),
                key: Some("sk-ant".into())
            })
        );
        let local = GatewayConfig::from_env(
            env(&[
                ("OPENAI_BASE_URL", "http://127.0.0.1:8080/v1/"),
                ("CHOIR_MODEL", "qwen"),
            ]),
            Limits::default(),
        );
        assert_eq!(local.provider.as_deref(), Some("openai"));
        assert_eq!(local.problem(), None);
        assert_eq!(
            local.openai,
            Some(Upstream {
                base_url: "http://127.0.0.1:8080/v1".into(),
                key: None
            })
        );
        // Without a model, agents stay offline (as without a gateway) unless a user names one.
        let no_model =
            GatewayConfig::from_env(env(&[("OPENAI_API_KEY", "sk-x")]), Limits::default());
        assert!(no_model.enabled());
        assert_eq!(
            (no_model.provider.as_deref(), no_model.problem()),
            (None, None)
        );
        let named = GatewayConfig::from_env(
            env(&[("OPENAI_API_KEY", "sk-x"), ("CHOIR_PROVIDER", "openai")]),
            Limits::default(),
        );
        assert!(named.problem().unwrap().contains("CHOIR_MODEL"));
        let wrong = GatewayConfig::from_env(
            env(&[
                ("OPENAI_API_KEY", "sk-x"),
                ("CHOIR_PROVIDER", "anthropic"),
                ("CHOIR_MODEL", "claude"),
            ]),
            Limits::default(),
        );
        assert!(wrong.problem().unwrap().contains("ANTHROPIC_API_KEY"));
    }
}
