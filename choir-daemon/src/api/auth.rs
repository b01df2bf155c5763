//! Tokens: where a request may carry one, how it is compared, and what it allows (the
//! sandbox's own tokens everything; a share token what its share says, and only from the
//! moment it was made unless it was made with its history).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use choir_proto::ErrorCode;

use super::error::ApiError;
use super::AppState;
use crate::shares::{Grant, Shares};
use crate::tokens::OwnerToken;

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

/// Who a request or connection speaks for.
#[derive(Debug, Clone)]
pub(super) enum Access {
    /// One of the sandbox's own tokens: everything.
    Owner(OwnerToken),
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
            Access::Owner(_) => None,
            Access::Share(grant) => Some(grant),
        }
    }

    /// The seq of the first event it may see (1: all of them).
    pub(super) fn floor(&self) -> u64 {
        match self {
            Access::Owner(_) => 1,
            Access::Share(grant) => grant.share.since.max(1),
        }
    }

    /// Whether it came with the sandbox's local token (which code in the sandbox can read).
    pub(super) fn is_local(&self) -> bool {
        matches!(self, Access::Owner(OwnerToken::Local(_)))
    }

    /// Resolves when this access ends while a connection holds it, with why and the close
    /// code to tell: a share revoked or expired, or the local token replaced.
    pub(super) async fn ended(&self) -> (&'static str, u16) {
        match self {
            Access::Share(grant) => (grant.ended().await, choir_proto::CLOSE_REVOKED),
            Access::Owner(OwnerToken::Local(replaced)) => {
                replaced.cancelled().await;
                (
                    "the sandbox's token was replaced; reconnect with the one in daemon.json",
                    choir_proto::CLOSE_TOKEN_REPLACED,
                )
            }
            Access::Owner(OwnerToken::Host) => std::future::pending().await,
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
    state
        .tokens
        .check(token)
        .map(Access::Owner)
        .ok_or_else(|| ApiError::unauthorized("wrong token"))
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
        if path.starts_with("/api/shares")
            || path.starts_with("/api/settings")
            || path.starts_with("/api/mail")
            || path.starts_with("/api/apps")
            || path == "/api/activity"
        {
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
