//! Tokens: where a request may carry one, how it is compared, and what it allows (the
//! sandbox token everything; a share token what its share says).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use choir_proto::ErrorCode;

use super::error::ApiError;
use super::AppState;
use crate::shares::{Grant, Shares};

/// What a read-only connection is told when it asks for a change.
pub(super) const READ_ONLY: &str =
    "this is a read-only share: it can watch, but every change is refused";

/// What a request presented as its token, if anything.
pub(super) fn presented_token(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(bearer) = header("authorization").and_then(|value| value.strip_prefix("Bearer ")) {
        return Some(bearer.trim().to_owned());
    }
    if let Some(token) = header("x-choir-token") {
        return Some(token.trim().to_owned());
    }
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "token")
        .map(|(_, value)| value.to_owned())
}

/// Compares without leaking, through timing, how much of a guess was right.
pub(super) fn token_matches(expected: &str, presented: &str) -> bool {
    let (a, b) = (expected.as_bytes(), presented.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who a request or connection speaks for.
#[derive(Debug, Clone)]
pub(super) enum Access {
    /// The sandbox token: everything.
    Owner,
    /// A share token: what its share allows, until it is revoked or expires.
    Share(Grant),
}

impl Access {
    /// Whether it may only read.
    pub(super) fn read_only(&self) -> bool {
        matches!(self, Access::Share(grant) if grant.share.read_only)
    }

    /// The share, if any.
    pub(super) fn grant(&self) -> Option<&Grant> {
        match self {
            Access::Owner => None,
            Access::Share(grant) => Some(grant),
        }
    }
}

/// The access a token gives, if any. `viewer` is the hypervisor's word for who is signed in
/// (only the hypervisor reaches a sandbox it runs; a share bound to a user needs it).
pub(super) fn access_of(
    state: &AppState,
    token: &str,
    viewer: Option<&str>,
) -> Result<Access, ApiError> {
    if Shares::is_share_token(token) {
        return state
            .shares
            .check(token, viewer)
            .map(Access::Share)
            .map_err(|err| ApiError::unauthorized(&err.to_string()));
    }
    if token_matches(&state.token, token) {
        Ok(Access::Owner)
    } else {
        Err(ApiError::unauthorized("wrong token"))
    }
}

/// The viewer the hypervisor names, if any.
pub(super) fn viewer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-choir-viewer")
        .and_then(|value| value.to_str().ok())
}

/// Every protected route: the token must be right, and a share may do only what it allows
/// (a read-only one reads; no share manages shares or reads the activity report).
pub(super) async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = presented_token(request.headers(), request.uri().query()).ok_or_else(|| {
        ApiError::unauthorized(
            "this endpoint needs the sandbox token (Authorization: Bearer <token>, X-Choir-Token, or ?token=)",
        )
    })?;
    let access = access_of(&state, &presented, viewer(request.headers()))?;
    if let Access::Share(grant) = &access {
        let path = request.uri().path();
        if path.starts_with("/api/shares") || path == "/api/activity" {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                ErrorCode::Unauthorized,
                "only the sandbox's owner may do this",
            ));
        }
        let reads = matches!(*request.method(), Method::GET | Method::HEAD);
        if grant.share.read_only && !reads {
            return Err(ApiError::read_only());
        }
    }
    request.extensions_mut().insert(access);
    Ok(next.run(request).await)
}

impl ApiError {
    pub(super) fn read_only() -> Self {
        ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            ErrorCode::ReadOnly,
            READ_ONLY,
        )
    }

    pub(super) fn unauthorized(message: &str) -> Self {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            message,
        )
    }
}
