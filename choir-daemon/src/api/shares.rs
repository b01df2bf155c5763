//! The owner's share routes, and what a token may ask about itself.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use choir_proto::ErrorCode;
use serde_json::{json, Value};

use super::auth::Access;
use super::error::ApiError;
use super::AppState;
use crate::shares::{ShareError, ShareRequest};

/// Where the hypervisor that runs this sandbox says a share is opened: `CHOIR_SHARE_WEB`, a
/// URL the token is appended to, and `CHOIR_SHARE_SSH`, an ssh command with `{token}` in it.
const WEB_LINK_ENV: &str = "CHOIR_SHARE_WEB";
const SSH_LINK_ENV: &str = "CHOIR_SHARE_SSH";

/// `POST /api/shares` with `{"read_only", "expires_in" (s), "viewer", "label", "history"}`
/// (each optional) → `{"share": {...}, "token": "chs_...", "links": {"web", "ssh"}}`; the token
/// is shown this once. `links` is there when a hypervisor set where shares are opened. The
/// share sees from now on, or the whole past with `"history": true`.
pub(super) async fn mint(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    body: String,
) -> Result<Json<Value>, ApiError> {
    let request: ShareRequest = if body.trim().is_empty() {
        ShareRequest::default()
    } else {
        serde_json::from_str(&body).map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidArguments,
                format!("not a share request: {err}"),
            )
        })?
    };
    let (shares, head, local) = (state.shares.clone(), state.store.head(), access.is_local());
    let (share, token) = tokio::task::spawn_blocking(move || shares.mint(request, head, local))
        .await
        .map_err(ApiError::internal)?
        .map_err(share_error)?;
    tracing::info!(id = %share.id, read_only = share.read_only, history = share.history, "share made");
    let mut links = serde_json::Map::new();
    if let Ok(web) = std::env::var(WEB_LINK_ENV) {
        links.insert("web".into(), json!(format!("{web}{token}")));
    }
    if let Ok(ssh) = std::env::var(SSH_LINK_ENV) {
        links.insert("ssh".into(), json!(ssh.replace("{token}", &token)));
    }
    Ok(Json(
        json!({ "share": share, "token": token, "links": links }),
    ))
}

/// `GET /api/shares` → `{"shares": [...]}` (never their tokens). On the blocking pool: listing
/// forgets expired shares, which saves the file (synced).
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let shares = state.shares.clone();
    let list = tokio::task::spawn_blocking(move || shares.list())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "shares": list })))
}

/// `DELETE /api/shares/{id}` → `{"revoked": {...}, "also": [...], "token_replaced": bool}`;
/// its connections close now. A full share also replaces the sandbox's local token and ends
/// the shares minted with it since (`also`).
pub(super) async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (shares, tokens) = (state.shares.clone(), state.tokens.clone());
    let ended = tokio::task::spawn_blocking(move || crate::shares::end(&shares, &tokens, &id))
        .await
        .map_err(ApiError::internal)?
        .map_err(share_error)?;
    Ok(Json(json!({
        "revoked": ended.share,
        "also": ended.also,
        "token_replaced": !ended.share.read_only,
    })))
}

/// `GET /api/whoami` → `{"owner": true}` or `{"owner": false, "share": {...}}`.
pub(super) async fn whoami(Extension(access): Extension<Access>) -> Json<Value> {
    match access.grant() {
        None => Json(json!({ "owner": true })),
        Some(grant) => Json(json!({ "owner": false, "share": grant.share })),
    }
}

fn share_error(err: ShareError) -> ApiError {
    let (status, code) = match &err {
        ShareError::Unknown => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
        ShareError::Invalid(_) | ShareError::TooMany => {
            (StatusCode::BAD_REQUEST, ErrorCode::InvalidArguments)
        }
        ShareError::Expired | ShareError::OtherViewer(_) => {
            (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized)
        }
        ShareError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
    };
    ApiError::new(status, code, err.to_string())
}
