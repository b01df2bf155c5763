//! A signed-in browser's `/ws` and `/api/*`, carried to its user's sandbox (started on first
//! use, like for SSH) with the sandbox's token added. The browser chooses nothing about where
//! it goes: its session names the user. What the sandbox answers is passed on as data only:
//! no headers of its own (cookies included) reach the browser.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use choir_proto::{Endpoint, CLOSE_UNAUTHORIZED};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite;

use super::sessions::Session;
use super::{error, guard, Web};

/// How often an open socket checks that its session still holds (expiry).
const RECHECK: Duration = Duration::from_secs(30);
/// Largest answer passed on from a sandbox's API.
const MAX_ANSWER: usize = 64 << 20;
/// A sandbox's API must answer within this.
const API_TIMEOUT: Duration = Duration::from_secs(120);
/// Close code for "the server could not do it".
const CLOSE_INTERNAL: u16 = 1011;

/// `GET /ws`: from a page of our origin only; without a live session the socket opens and
/// closes at once with [`CLOSE_UNAUTHORIZED`], which the page takes as "sign in again".
pub(super) async fn websocket(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !guard::same_origin(&headers, &web.origin) {
        tracing::info!(origin = ?headers.get(header::ORIGIN), "refused a WebSocket from another origin");
        return error(
            StatusCode::FORBIDDEN,
            "WebSocket refused: it must be opened by a page of this site",
        );
    }
    let session = match web.sessions.from_headers(&headers).await {
        Ok(session) => session,
        Err(err) => {
            tracing::error!(%err, "the users database failed");
            None
        }
    };
    upgrade
        .max_message_size(choir_proto::MAX_FRAME_BYTES)
        .max_frame_size(choir_proto::MAX_FRAME_BYTES)
        .on_upgrade(move |mut socket| async move {
            match session {
                Some(session) => carry(web, session, socket).await,
                None => close(&mut socket, CLOSE_UNAUTHORIZED, "signed out: sign in again").await,
            }
        })
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    // A close reason is at most 123 bytes.
    let mut cut = reason.len().min(120);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..cut].into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// The sandbox's endpoint for `user`, started if need be.
async fn sandbox(web: &Web, user: &str) -> Result<Endpoint, String> {
    web.sandboxes.ensure(user).await.map_err(|err| {
        tracing::warn!(user, %err, "a browser's sandbox is not available");
        // The first line: the rest is the sandbox's log, for the administrator.
        err.to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })
}

/// Carries frames both ways until either side closes or the session ends.
async fn carry(web: Arc<Web>, session: Session, mut browser: WebSocket) {
    let endpoint = match sandbox(&web, &session.user).await {
        Ok(endpoint) => endpoint,
        Err(reason) => return close(&mut browser, CLOSE_INTERNAL, &reason).await,
    };
    let mut upstream =
        match choir_tui::transport::websocket(&endpoint, Duration::from_secs(10)).await {
            Ok(upstream) => upstream,
            Err(reason) => {
                tracing::warn!(
                    user = session.user,
                    reason,
                    "cannot reach a sandbox's socket"
                );
                return close(&mut browser, CLOSE_INTERNAL, "the sandbox does not answer").await;
            }
        };
    let mut ended = web.revocations.ended_sessions();
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    loop {
        tokio::select! {
            from_browser = browser.recv() => match from_browser {
                Some(Ok(Message::Text(text))) => {
                    let text = tungstenite::Message::text(text.as_str());
                    if upstream.send(text).await.is_err() {
                        break close(&mut browser, CLOSE_INTERNAL, "the sandbox went away").await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = upstream.close(None).await;
                    break;
                }
                // Pings are answered by the socket itself; the protocol has no binary frames.
                Some(Ok(_)) => {}
            },
            from_sandbox = upstream.next() => match from_sandbox {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    if browser.send(Message::Text(text.as_str().into())).await.is_err() {
                        let _ = upstream.close(None).await;
                        break;
                    }
                }
                Some(Ok(tungstenite::Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|frame| (u16::from(frame.code), frame.reason.to_string()))
                        .unwrap_or((1000, String::new()));
                    break close(&mut browser, code, &reason).await;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    break close(&mut browser, CLOSE_INTERNAL, "the sandbox went away").await;
                }
            },
            changed = ended.recv() => {
                let ours = match changed {
                    Ok(user) => user == session.user,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => false,
                };
                if ours && !still_valid(&web, &session).await {
                    let _ = upstream.close(None).await;
                    break close(&mut browser, CLOSE_UNAUTHORIZED, "your session ended: sign in again").await;
                }
            }
            _ = recheck.tick() => {
                if !still_valid(&web, &session).await {
                    let _ = upstream.close(None).await;
                    break close(&mut browser, CLOSE_UNAUTHORIZED, "your session ended: sign in again").await;
                }
            }
        }
    }
}

/// Whether `session` still holds (an open socket counts as activity).
async fn still_valid(web: &Web, session: &Session) -> bool {
    matches!(web.sessions.find(&session.key).await, Ok(Some(_)))
}

/// `/api/*`: the same request to the user's sandbox, with its token; the answer's status and
/// body back, as JSON.
pub(super) async fn api(
    State(web): State<Arc<Web>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match web.signed_in(&headers).await {
        Ok(session) => session,
        Err(refusal) => return refusal.into_response(),
    };
    let endpoint = match sandbox(&web, &session.user).await {
        Ok(endpoint) => endpoint,
        Err(reason) => return error(StatusCode::SERVICE_UNAVAILABLE, &reason),
    };
    let path = without_token(&uri);
    let content_type = headers.get(header::CONTENT_TYPE).cloned();
    match tokio::time::timeout(
        API_TIMEOUT,
        forward(&endpoint, method, &path, content_type, body),
    )
    .await
    {
        Ok(Ok(response)) => response,
        Ok(Err(reason)) => {
            tracing::warn!(user = session.user, reason, "a sandbox's API failed");
            error(StatusCode::BAD_GATEWAY, "the sandbox did not answer")
        }
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the sandbox took too long to answer",
        ),
    }
}

/// The path and query, any `token=` left out (the token is the hypervisor's to add).
fn without_token(uri: &Uri) -> String {
    let query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
        .collect();
    if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), query.join("&"))
    }
}

async fn forward(
    endpoint: &Endpoint,
    method: Method,
    path: &str,
    content_type: Option<HeaderValue>,
    body: Bytes,
) -> Result<Response, String> {
    let stream = choir_tui::transport::open(endpoint)
        .await
        .map_err(|err| err.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|err| err.to_string())?;
    let connection = tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("Bearer {}", endpoint.token));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Full::new(body))
        .map_err(|err| err.to_string())?;
    let answer = sender
        .send_request(request)
        .await
        .map_err(|err| err.to_string())?;
    let status = answer.status();
    let body = Limited::new(answer.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|err| err.to_string())?
        .to_bytes();
    connection.abort();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_in_the_query_is_never_passed_on() {
        let uri: Uri = "/api/events?token=x&from=3&tokenish=1&token&limit=2"
            .parse()
            .unwrap();
        assert_eq!(without_token(&uri), "/api/events?from=3&tokenish=1&limit=2");
        let uri: Uri = "/api/state?token=abc".parse().unwrap();
        assert_eq!(without_token(&uri), "/api/state");
    }
}
