//! `GET /term?cols=&rows=&term=`: a terminal desktop drawn here, in the sandbox, for a client
//! that only carries bytes (the hypervisor, for an SSH channel). Binary messages in are what
//! the user's terminal sent; binary messages out are what it should show; a text message
//! `{"resize":[cols,rows]}` is a new size (`choir_proto::term_stream`). When the desktop ends
//! (the user quit, or a share was revoked) a last text message `{"exit":STATUS}` comes before
//! the close; a stream that closes without it was cut (the daemon stopping), and the client
//! may open another.
//!
//! The desktop is `choir-tui`'s, linked to this daemon over its own socket as any client is,
//! with the token (and viewer) this stream was opened with: a share's desktop sees what the
//! share allows, no more.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use choir_proto::term_stream::TermInput;
use choir_proto::term_stream::{clamp_size, TermControl, MAX_SCREEN_MESSAGE};
use choir_proto::{Endpoint, ErrorCode};
use choir_tui::remote;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::auth::{access_of, presented_token, viewer};
use super::error::ApiError;
use super::AppState;

/// Largest message a terminal may send at once (a paste arrives in pieces this size).
const MAX_INPUT: usize = 1 << 20;
/// Input messages waiting for the desktop before the stream stops being read.
const INPUT_QUEUE: usize = 64;
/// Longest `TERM` kept.
const MAX_TERM: usize = 64;
/// How long the last screen bytes have to leave before the stream closes.
const LINGER: Duration = Duration::from_secs(2);

#[derive(Debug, Deserialize)]
pub(super) struct TermParams {
    #[serde(default)]
    cols: u32,
    #[serde(default)]
    rows: u32,
    #[serde(default)]
    term: String,
}

pub(super) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Query<TermParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let viewer = viewer(&headers).map(str::to_owned);
    let Some(token) = presented_token(&headers, uri.query()) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a terminal stream needs the token on its request",
        )
        .into_response();
    };
    if let Err(err) = access_of(&state, &token, viewer.as_deref()) {
        return err.into_response();
    }
    let endpoint = Endpoint {
        url: state.own_url.to_string(),
        token,
        pid: std::process::id(),
        viewer,
    };
    let size = clamp_size(params.cols, params.rows);
    let term: String = params.term.chars().take(MAX_TERM).collect();
    ws.max_message_size(MAX_INPUT)
        .max_frame_size(MAX_INPUT)
        .read_buffer_size(super::ws::READ_BUFFER)
        .on_upgrade(move |socket| run(socket, state, endpoint, size, term))
}

async fn run(
    socket: WebSocket,
    state: AppState,
    endpoint: Endpoint,
    size: (u16, u16),
    term: String,
) {
    let (mut sink, mut stream) = socket.split();
    let (input, input_rx) = mpsc::channel(INPUT_QUEUE);
    let (mut output, desktop) = remote::start(endpoint, size, &term, input_rx);
    // Why the terminal's side could not be read on, if it broke rather than closed.
    let broken: Arc<Mutex<Option<String>>> = Arc::default();
    let broken_by = broken.clone();
    // What the terminal sends, to the desktop; waiting when it is behind stops reading.
    let reader = tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            let message = match message {
                Ok(message) => message,
                Err(err) => {
                    *broken_by.lock().unwrap_or_else(|e| e.into_inner()) = Some(refusal(&err));
                    break;
                }
            };
            let input_message = match message {
                Message::Binary(bytes) => TermInput::Bytes(bytes.to_vec()),
                Message::Text(text) => match serde_json::from_str(&text) {
                    Ok(TermControl::Resize(cols, rows)) => {
                        let (cols, rows) = clamp_size(cols, rows);
                        TermInput::Resize(cols, rows)
                    }
                    Ok(TermControl::Exit(_)) | Err(_) => continue,
                },
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if input.send(input_message).await.is_err() {
                break;
            }
        }
    });
    let writing = async {
        while let Some(bytes) = output.next().await {
            for piece in pieces(bytes.into()) {
                if sink.send(Message::Binary(piece)).await.is_err() {
                    return false;
                }
            }
        }
        true
    };
    let delivered = tokio::select! {
        // The desktop ended and everything it drew went out (or the terminal left).
        delivered = writing => Some(delivered),
        // The daemon stops: the stream is cut without an exit, so the client comes back.
        () = state.shutdown.cancelled() => None,
    };
    reader.abort();
    match delivered {
        Some(delivered) => {
            let mut status = desktop.await.unwrap_or(0);
            let broken = broken.lock().unwrap_or_else(|e| e.into_inner()).take();
            if delivered {
                let end = async {
                    // The desktop ended because its input broke: say why, and fail.
                    if let Some(why) = broken {
                        tracing::warn!(%why, "a terminal stream's input broke");
                        status = 1;
                        let line = format!("\r\nchoir: {why}; the desktop ended\r\n");
                        sink.send(Message::Binary(line.into_bytes().into())).await?;
                    }
                    let exit =
                        serde_json::to_string(&TermControl::Exit(status)).unwrap_or_default();
                    sink.send(Message::Text(exit.into())).await?;
                    sink.send(Message::Close(Some(CloseFrame {
                        code: 1000,
                        reason: "the desktop ended".into(),
                    })))
                    .await
                };
                let _ = tokio::time::timeout(LINGER, end).await;
            }
        }
        None => {
            desktop.abort();
            let close = sink.send(Message::Close(Some(CloseFrame {
                code: 1001,
                reason: "the sandbox is stopping".into(),
            })));
            let _ = tokio::time::timeout(LINGER, close).await;
        }
    }
}

/// What a terminal is told when what it sent could not be read.
fn refusal(err: &axum::Error) -> String {
    let text = err.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        format!(
            "a message from the terminal was over {} MiB",
            MAX_INPUT >> 20
        )
    } else {
        format!("the terminal's stream broke ({text})")
    }
}

/// A frame's bytes in messages of at most [`MAX_SCREEN_MESSAGE`], in order, without copying.
fn pieces(bytes: Bytes) -> impl Iterator<Item = Bytes> {
    (0..bytes.len())
        .step_by(MAX_SCREEN_MESSAGE)
        .map(move |start| bytes.slice(start..bytes.len().min(start + MAX_SCREEN_MESSAGE)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_frame_goes_in_pieces_a_client_accepts() {
        let frame: Vec<u8> = (0..MAX_SCREEN_MESSAGE * 5 / 2).map(|i| i as u8).collect();
        let sent: Vec<Bytes> = pieces(Bytes::from(frame.clone())).collect();
        assert_eq!(
            sent.iter().map(Bytes::len).collect::<Vec<_>>(),
            [
                MAX_SCREEN_MESSAGE,
                MAX_SCREEN_MESSAGE,
                MAX_SCREEN_MESSAGE / 2
            ]
        );
        assert_eq!(sent.concat(), frame);
        assert_eq!(pieces(Bytes::new()).count(), 0);
    }
}
