//! The plain HTTP routes.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use choir_proto::{Command, DocId, ErrorCode, Seek, ThreadId};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Access;
use super::error::ApiError;
use super::AppState;
use crate::correlation;
use crate::tools::{ToolCall, ToolError};

/// Most events one `/api/events` call returns.
const MAX_EVENTS_PER_PAGE: usize = 10_000;

/// `GET /api/state` → `{"head": N, "world": World}`: what a welcome carries (the latest
/// messages of the threads shown in windows, documents without their text).
pub(super) async fn state(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<Value>, ApiError> {
    let world = state
        .world
        .welcome()
        .await
        .ok_or_else(|| ApiError::internal("the world is not running"))?
        .since(access.floor());
    Ok(Json(json!({ "head": world.head, "world": world })))
}

#[derive(Debug, Deserialize)]
pub(super) struct PageQuery {
    before: Option<u64>,
    limit: Option<u32>,
}

/// Messages a page has unless asked for fewer.
const DEFAULT_PAGE: u32 = 50;

/// `GET /api/threads/{id}/messages?before=SEQ&limit=N` → a `ThreadPage`: the thread's latest
/// `limit` messages before `before` (the latest ones without it), oldest first, with their
/// tool calls, and whether older ones exist.
pub(super) async fn thread_messages(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Path(thread_id): Path<u64>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = super::queries::thread_page(
        &state,
        ThreadId(thread_id),
        query.before,
        query.limit.unwrap_or(DEFAULT_PAGE),
        access.floor(),
    )
    .await?;
    Ok(Json(json!(page)))
}

/// `GET /api/docs/{id}` → the document with its text and recent edits.
pub(super) async fn doc(
    State(state): State<AppState>,
    Path(doc_id): Path<u64>,
) -> Result<Json<Value>, ApiError> {
    let doc = super::queries::doc(&state, DocId(doc_id)).await?;
    Ok(Json(json!(doc)))
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/events?from=N&limit=M` → `{"head": H, "events": [...]}`: events with
/// `seq >= from` (default 1; for a share, never before it was made), at most `limit`
/// (default and cap 10,000).
pub(super) async fn events(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query
        .limit
        .unwrap_or(MAX_EVENTS_PER_PAGE)
        .min(MAX_EVENTS_PER_PAGE);
    let events = state
        .store
        .read(query.from.unwrap_or(1).max(access.floor()), limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "head": state.store.head(), "events": events }),
    ))
}

#[derive(Debug, Deserialize)]
pub(super) struct MomentQuery {
    seq: Option<u64>,
    ts: Option<i64>,
    /// `false`: the seq and time only.
    world: Option<bool>,
}

/// `GET /api/moment?seq=N` or `?ts=MS` → `{"seq", "ts", "head", "world"}`: the world as it was
/// right after event N (or the last event at or before time MS); `&world=false` leaves the
/// world out. For a share, a moment before it was made is the one it was made at.
pub(super) async fn moment(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    Query(query): Query<MomentQuery>,
) -> Result<Json<Value>, ApiError> {
    let at = match (query.seq, query.ts) {
        (Some(seq), None) => Seek::Seq { seq },
        (None, Some(ts)) => Seek::Time { ts },
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArguments,
                "give exactly one of seq= and ts=",
            ))
        }
    };
    let floor = access.floor();
    if query.world == Some(false) {
        let seq = state
            .past
            .resolve(at)
            .await
            .map_err(ApiError::internal)?
            .max(floor - 1);
        let ts = state.store.ts_of(seq).await.map_err(ApiError::internal)?;
        return Ok(Json(
            json!({ "seq": seq, "ts": ts, "head": state.store.head() }),
        ));
    }
    let moment = super::queries::moment(&state, at, floor).await?;
    Ok(Json(json!(moment)))
}

/// `POST /api/commands` with a command as the body → `{"seqs": [...]}`.
pub(super) async fn command(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let command = Command::parse(&body)?;
    let actor = match access.grant() {
        Some(grant) => format!("share:{}", grant.share.id),
        None => "http".into(),
    };
    let seqs = super::mail::command(&state, &access, command, actor).await?;
    Ok(Json(json!({ "seqs": seqs })))
}

/// `GET /api/agent` → the agent's configuration, keys masked.
pub(super) async fn agent(State(state): State<AppState>) -> Json<Value> {
    Json((*state.agent).clone())
}

/// `GET /api/settings` → `{"path", "settings", "problem", "toml"}`: the settings in force
/// (as the log last recorded them), where they are read from, and what was wrong there.
pub(super) async fn settings(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (settings, problem) = state
        .world
        .query(|world| (world.settings.clone(), world.settings_problem.clone()))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "path": state.settings_path.as_ref().map(|path| path.display().to_string()),
        "toml": crate::settings::to_toml(&settings),
        "settings": settings,
        "problem": problem,
    })))
}

/// `POST /api/settings/reload`: reads the settings file again and records what changed;
/// answers as `GET /api/settings` does, with `"changed"`.
pub(super) async fn reload_settings(
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let Some(path) = state.settings_path.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::InvalidArguments,
            "this daemon reads no settings file (it was started without one)",
        ));
    };
    let read = tokio::task::spawn_blocking(move || crate::settings::read(&path))
        .await
        .map_err(ApiError::internal)?;
    let was = state
        .world
        .query(crate::settings::recorded)
        .await
        .map_err(ApiError::internal)?;
    let read_back = read.clone();
    let changed = crate::settings::record(&state.store, &was, read)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "path": state.settings_path.as_ref().map(|path| path.display().to_string()),
        "toml": crate::settings::to_toml(&read_back.settings),
        "settings": read_back.settings,
        "problem": read_back.problem,
        "changed": changed,
    })))
}

/// `GET /api/tools` → `{"tools": [{name, description, schema, side_effects}]}`.
pub(super) async fn list_tools(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "tools": state.tools.specs() }))
}

/// `POST /api/tools/{name}` with the arguments object as the body → the call's result. The
/// tool runs in a task of its own, so a client that goes away does not leave it half recorded.
/// Who a tool call through the API is recorded as: `exec` (`choir --exec`, the default) or
/// `mcp` (`choir mcp`).
#[derive(serde::Deserialize)]
pub(super) struct CallerQuery {
    actor: Option<String>,
}

pub(super) async fn call_tool(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(caller): Query<CallerQuery>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let actor = match caller.actor.as_deref() {
        None | Some("exec") => "exec",
        Some("mcp") => "mcp",
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArguments,
                format!("unknown actor `{other}` (exec, mcp)"),
            ))
        }
    };
    let args: Value = if body.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(&body).map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArguments,
                format!("arguments are not JSON: {err}"),
            )
        })?
    };
    let call = ToolCall {
        tool: name,
        args,
        call_id: None,
        thread_id: None,
        actor: actor.into(),
        correlation: Some(correlation()),
    };
    let tools = state.tools.clone();
    let cancel = state.shutdown.child_token();
    let result = tokio::spawn(async move { tools.call(call, cancel).await })
        .await
        .map_err(ApiError::internal)?
        .map_err(|err| ApiError::new(status_for_tool_error(&err), err.code(), err.to_string()))?;
    Ok(Json(
        serde_json::to_value(result).map_err(ApiError::internal)?,
    ))
}

fn status_for_tool_error(err: &ToolError) -> StatusCode {
    match err {
        ToolError::UnknownTool(_) => StatusCode::NOT_FOUND,
        ToolError::InvalidArguments(_) | ToolError::Workspace(_) => StatusCode::BAD_REQUEST,
        ToolError::Io(_) | ToolError::Unavailable => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
}
