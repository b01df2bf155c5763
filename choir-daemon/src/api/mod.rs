//! The daemon's HTTP and WebSocket API.
//!
//! - `GET /health` — liveness, no token;
//! - `GET /ws` — the protocol (`choir_proto::ClientFrame` / `ServerFrame`);
//! - `GET /term?cols=&rows=&term=` — a terminal desktop drawn here, bytes both ways (the
//!   hypervisor's SSH desktops; see `term.rs`);
//! - `GET /api/state` — the world's summary (as a welcome carries it) and its head seq;
//! - `GET /api/threads/{id}/messages?before=&limit=` — a page of a thread, older first;
//! - `GET /api/docs/{id}` — a document with its text;
//! - `GET /api/events?from=&limit=` — committed events with `seq >= from`;
//! - `GET /api/moment?seq=|ts=` — the world as it was right after an event (time travel);
//! - `POST /api/shares`, `GET /api/shares`, `DELETE /api/shares/{id}` — the owner's shares;
//! - `GET /api/whoami` — whether the token is the owner's or a share's, and which;
//! - `POST /api/commands` — one `choir_proto::Command`, answered with the seqs it appended;
//! - `GET /api/tools` — every tool with its JSON schema;
//! - `GET /api/agent` — the agent's provider, model and approval policy (keys masked);
//! - `POST /api/tools/{name}` — run a tool with the body as its arguments (`choir --exec`);
//! - `GET /api/activity` — clients connected, work running, idle time (for the hypervisor);
//! - `GET /` and `GET /assets/...` — the web mirror, embedded at build time; no token (the
//!   page holds no secret: it takes the token from its URL and presents it on `/ws`).
//!
//! Every other route needs the sandbox token: `Authorization: Bearer <token>`,
//! `X-Choir-Token: <token>`, or `?token=<token>` (for a browser's first load). A WebSocket
//! may instead carry it in its `hello` frame. A share token (`chs_...`, see `shares.rs`)
//! works where its share allows: a read-only one for reading only, and no share for the
//! share routes or the activity report.

mod apps;
mod auth;
mod error;
mod http;
mod mail;
mod queries;
mod shares;
mod term;
mod ws;

pub use choir_web_assets::embedded as web_mirror_embedded;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::{middleware, Json, Router};
use choir_proto::MAX_FRAME_BYTES;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::activity::Activity;
use crate::actors::{Past, WorldHandle};
use crate::shares::Shares;
use crate::store::EventStore;
use crate::tools::ToolRunner;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: EventStore,
    /// The one projection: decides commands, hands out welcomes and documents.
    pub world: WorldHandle,
    pub tools: ToolRunner,
    /// The world at past moments (time travel).
    pub past: Past,
    /// Who else may watch or work here.
    pub shares: Shares,
    /// Queries answered at once, over every connection (a past moment, an old document's
    /// text, a page of a thread can each take a while).
    pub queries: Arc<tokio::sync::Semaphore>,
    /// Streaming text and other live signals for every session.
    pub ephemerals: tokio::sync::broadcast::Sender<choir_proto::EphemeralBody>,
    /// The agent's configuration as shown to clients (keys masked).
    pub agent: Arc<serde_json::Value>,
    /// The sandbox's own tokens (host and local).
    pub tokens: crate::tokens::Tokens,
    /// The model gateway's latest figures, told to each client as it connects.
    pub model_usage: tokio::sync::watch::Receiver<Option<choir_proto::ModelUsage>>,
    /// Cancelled when the daemon shuts down: WebSocket sessions close.
    pub shutdown: CancellationToken,
    /// Sessions and work in progress, and the idle clock.
    pub activity: Activity,
    /// Where this daemon listens (`http://…` or `unix:…`), for the desktops it draws.
    pub own_url: Arc<str>,
    /// The user's settings file, if this daemon reads one.
    pub settings_path: Option<Arc<std::path::Path>>,
    /// The user's mail accounts (only the owner may see or change them).
    pub mail: crate::mail::MailAccounts,
    /// The apps the user or the agent writes (only the owner may make, build or remove one).
    pub apps: crate::apps::Apps,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    // Every request but the activity poll resets the sandbox's idle clock.
    let busy = Router::new()
        .route("/api/state", get(http::state))
        .route("/api/events", get(http::events))
        .route("/api/moment", get(http::moment))
        .route("/api/shares", post(shares::mint).get(shares::list))
        .route("/api/shares/{id}", delete(shares::revoke))
        .route("/api/whoami", get(shares::whoami))
        .route("/api/commands", post(http::command))
        .route("/api/tools", get(http::list_tools))
        .route("/api/agent", get(http::agent))
        .route("/api/settings", get(http::settings))
        .route("/api/settings/reload", post(http::reload_settings))
        .route("/api/tools/{name}", post(http::call_tool))
        .route("/api/threads/{id}/messages", get(http::thread_messages))
        .route("/api/docs/{id}", get(http::doc))
        .route("/api/apps", get(apps::list))
        .route("/api/apps/{name}", post(apps::create).delete(apps::remove))
        .route("/api/apps/{name}/build", post(apps::build))
        .route("/api/mail/accounts", get(mail::list).post(mail::add))
        .route("/api/mail/accounts/{address}", delete(mail::remove))
        .fallback(http::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), touch));
    let protected = Router::new()
        .route("/api/activity", get(activity))
        .merge(busy)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .route("/ws", get(ws::upgrade))
        .route("/term", get(term::upgrade))
        .route("/", get(choir_web_assets::page))
        .route("/assets/{*file}", get(choir_web_assets::page))
        .merge(protected)
        .layer(DefaultBodyLimit::max(MAX_FRAME_BYTES))
        .with_state(state)
}

async fn touch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.activity.touch();
    next.run(request).await
}

/// Asking does not count as activity: a supervisor polling an idle sandbox leaves it idle.
async fn activity(State(state): State<AppState>) -> Json<crate::activity::ActivityReport> {
    Json(state.activity.report())
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}
