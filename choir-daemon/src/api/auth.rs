//! The sandbox token: where a request may carry it and how it is compared.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use choir_proto::ErrorCode;

use super::error::ApiError;
use super::AppState;

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

pub(super) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let presented = presented_token(request.headers(), request.uri().query());
    match presented {
        Some(token) if token_matches(&state.token, &token) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized("wrong token")),
        None => Err(ApiError::unauthorized(
            "this endpoint needs the sandbox token (Authorization: Bearer <token>, X-Choir-Token, or ?token=)",
        )),
    }
}

impl ApiError {
    pub(super) fn unauthorized(message: &str) -> Self {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            message,
        )
    }
}
