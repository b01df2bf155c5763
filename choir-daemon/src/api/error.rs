//! HTTP error responses: a status and a JSON body `{"code", "message"}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use choir_proto::{ErrorCode, FrameError};
use serde_json::json;

use crate::actors::CommandError;

#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(super) fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            err.to_string(),
        )
    }
}

/// The HTTP status for a wire error code.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::NotFound | ErrorCode::UnknownTool => StatusCode::NOT_FOUND,
        ErrorCode::FrameTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::MalformedFrame
        | ErrorCode::ExpectedHello
        | ErrorCode::ProtocolVersion
        | ErrorCode::UnknownCommand
        | ErrorCode::InvalidCommand
        | ErrorCode::InvalidArguments
        | ErrorCode::ResumeBeyondHead => StatusCode::BAD_REQUEST,
        ErrorCode::ReadOnly => StatusCode::FORBIDDEN,
        ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<FrameError> for ApiError {
    fn from(err: FrameError) -> Self {
        Self::new(status_of(err.code), err.code, err.message)
    }
}

impl From<CommandError> for ApiError {
    fn from(err: CommandError) -> Self {
        let code = err.code();
        Self::new(status_of(code), code, err.to_string())
    }
}

impl ApiError {
    /// The wire code and message, for an `error` frame.
    pub(super) fn into_parts(self) -> (ErrorCode, String) {
        (self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code.as_str(), message = %self.message, "request failed");
        }
        let body = json!({ "code": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}
