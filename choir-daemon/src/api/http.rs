//! The plain HTTP routes.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use choir_proto::{Command, ErrorCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::correlation;

/// Most events one `/api/events` call returns.
const MAX_EVENTS_PER_PAGE: usize = 10_000;

/// `GET /api/state` → `{"head": N, "world": World}`.
pub(super) async fn state(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let world = state
        .projection
        .snapshot()
        .await
        .ok_or_else(|| ApiError::internal("the projection is not running"))?;
    Ok(Json(json!({ "head": world.head, "world": world })))
}

#[derive(Debug, Deserialize)]
pub(super) struct EventsQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/events?from=N&limit=M` → `{"head": H, "events": [...]}`: events with
/// `seq >= from` (default 1), at most `limit` (default and cap 10,000).
pub(super) async fn events(
    State(state): State<AppState>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query
        .limit
        .unwrap_or(MAX_EVENTS_PER_PAGE)
        .min(MAX_EVENTS_PER_PAGE);
    let events = state
        .store
        .read(query.from.unwrap_or(1), limit)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "head": state.store.head(), "events": events }),
    ))
}

/// `POST /api/commands` with a command as the body → `{"seqs": [...]}`.
pub(super) async fn command(
    State(state): State<AppState>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let command = Command::parse(&body)?;
    let seqs = state
        .commands
        .execute(command, "http".into(), Some(correlation()))
        .await?;
    Ok(Json(json!({ "seqs": seqs })))
}

pub(super) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such route")
}
