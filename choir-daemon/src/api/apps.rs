//! The owner's apps: `GET /api/apps` lists them (installed, and the crates in the
//! workspace's `apps/`), `POST /api/apps/{name}` makes a new one, `POST …/{name}/build`
//! builds and installs it (its open windows then run the new version), `DELETE …/{name}`
//! removes it. A share's holder gets 403 (see `auth.rs`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use choir_proto::ErrorCode;
use serde_json::{json, Value};

use super::error::ApiError;
use super::AppState;
use crate::apps::AppsError;

pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let installed = state
        .world
        .query(|world| {
            world
                .apps
                .values()
                .map(|app| {
                    json!({
                        "name": app.name,
                        "version": app.version,
                        "bytes": app.bytes,
                        "built_at": app.built_at,
                        "granted": app.answers.iter().filter(|(_, granted)| *granted).map(|(capability, _)| capability.describe()).collect::<Vec<_>>(),
                        "asked": app.asked.iter().map(|capability| capability.describe()).collect::<Vec<_>>(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .await?;
    let sources = state.apps.sources().await;
    Ok(Json(json!({ "installed": installed, "sources": sources })))
}

pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let dir = state.apps.create(&name).await.map_err(refused)?;
    Ok(Json(json!({ "name": name, "dir": dir })))
}

pub(super) async fn build(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let installed = state.apps.build(&name).await.map_err(refused)?;
    Ok(Json(json!(installed)))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.apps.remove(&name, "user".into()).await?;
    Ok(Json(json!({ "removed": name })))
}

fn refused(err: AppsError) -> ApiError {
    let (status, code) = match &err {
        AppsError::BadName(_) | AppsError::Exists(..) | AppsError::TooLarge(_) => {
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidArguments)
        }
        AppsError::NoSource(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        // What the compiler said is the answer: the caller fixes the app.
        AppsError::Build(_) | AppsError::Load(_) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidArguments,
        ),
        AppsError::Io { .. } | AppsError::Record(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal)
        }
    };
    ApiError::new(status, code, err.to_string())
}
