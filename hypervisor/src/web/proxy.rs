//! A signed-in browser's `/ws` and `/api/*`, carried to its user's sandbox (started on first
//! use, like for SSH) with the sandbox's token added. The browser chooses nothing about where
//! it goes: its session names the user. What the sandbox answers is passed on as data only:
//! no headers of its own (cookies included) reach the browser.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use choir_client::connect::DaemonHttp;
use choir_proto::{Endpoint, CLOSE_UNAUTHORIZED};
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Limited};
use tokio_tungstenite::tungstenite;

use super::sessions::Session;
use super::{error, guard, Web};

/// How often an open socket checks that its session still holds (expiry), and pings.
const RECHECK: Duration = Duration::from_secs(30);
/// A browser silent this long (no frame, no pong) is gone: its socket closes.
const SILENCE: Duration = Duration::from_secs(90);
/// Largest answer passed on from a sandbox's API.
const MAX_ANSWER: usize = 16 << 20;
/// Bytes read from a socket at a time.
const READ_BUFFER: usize = 16 << 10;
/// Sockets (tabs) one user may have open through the hypervisor at once.
pub(super) const MAX_TABS: usize = 32;
/// API requests of one user carried at once.
pub(super) const MAX_API_REQUESTS: usize = 8;
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
    // Listening before looking: a session that ends meanwhile is not missed.
    let ended = web.revocations.ended_sessions();
    let session = match web.sessions.from_headers(&headers).await {
        Ok(session) => session,
        Err(err) => {
            tracing::error!(%err, "the users database failed");
            None
        }
    };
    let tab = match &session {
        Some(session) => match web.tabs.take(&session.user) {
            Some(tab) => Some(tab),
            None => {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("you have {MAX_TABS} tabs open here, the most allowed: close one"),
                )
            }
        },
        None => None,
    };
    upgrade
        .max_message_size(choir_proto::MAX_FRAME_BYTES)
        .max_frame_size(choir_proto::MAX_FRAME_BYTES)
        // An idle tab costs its buffers: small ones (frames are small; big ones just take
        // more reads).
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |mut socket| async move {
            match session {
                Some(session) => {
                    let _tab = tab;
                    let endpoint = match sandbox(&web, &session.user).await {
                        Ok(endpoint) => endpoint,
                        Err(reason) => return close(&mut socket, CLOSE_INTERNAL, &reason).await,
                    };
                    let budget = web.budgets.of(&session.user);
                    carry(web, Some(session), endpoint, budget, ended, socket).await
                }
                None => close(&mut socket, CLOSE_UNAUTHORIZED, "signed out: sign in again").await,
            }
        })
}

pub(super) async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
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
pub(super) async fn sandbox(web: &Web, user: &str) -> Result<Endpoint, String> {
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

/// Carries frames both ways between a browser and the sandbox at `endpoint` until either side
/// closes, the browser falls silent, or the session (when it came with one) ends.
pub(super) async fn carry(
    web: Arc<Web>,
    session: Option<Session>,
    endpoint: Endpoint,
    budget: choir_client::budget::Budget,
    mut ended: tokio::sync::broadcast::Receiver<String>,
    mut browser: WebSocket,
) {
    // The sandbox may have taken a while to start: the session may be gone by now.
    if !still_valid(&web, session.as_ref()).await {
        return close(
            &mut browser,
            CLOSE_UNAUTHORIZED,
            "your session ended: sign in again",
        )
        .await;
    }
    let mut upstream =
        match choir_client::transport::websocket(&endpoint, Duration::from_secs(10)).await {
            Ok(upstream) => upstream,
            Err(reason) => {
                // A share's token may be what was refused: say so, as the sandbox does.
                if let Some(refusal) = refusal(&endpoint).await {
                    return close(&mut browser, CLOSE_UNAUTHORIZED, &refusal).await;
                }
                tracing::warn!(
                    url = endpoint.url,
                    reason,
                    "cannot reach a sandbox's socket"
                );
                return close(&mut browser, CLOSE_INTERNAL, "the sandbox does not answer").await;
            }
        };
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.reset();
    let mut heard = tokio::time::Instant::now();
    loop {
        tokio::select! {
            from_browser = browser.recv() => match from_browser {
                Some(Ok(Message::Text(text))) => {
                    heard = tokio::time::Instant::now();
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
                Some(Ok(_)) => heard = tokio::time::Instant::now(),
            },
            from_sandbox = upstream.next() => match from_sandbox {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    // Held of the owner's budget until the browser has it.
                    let Ok(_held) = budget.hold(text.len()) else {
                        let _ = upstream.close(None).await;
                        tracing::warn!(url = endpoint.url, "a sandbox sent more than its budget to a tab");
                        break close(&mut browser, CLOSE_INTERNAL, &format!(
                            "the sandbox sent more than this host holds for one user ({} MiB): reload",
                            budget.limit() >> 20
                        )).await;
                    };
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
                let ours = match (changed, &session) {
                    (_, None) => false,
                    (Ok(user), Some(session)) => user == session.user,
                    (Err(tokio::sync::broadcast::error::RecvError::Lagged(_)), Some(_)) => true,
                    (Err(tokio::sync::broadcast::error::RecvError::Closed), Some(_)) => false,
                };
                if ours && !still_valid(&web, session.as_ref()).await {
                    let _ = upstream.close(None).await;
                    break close(&mut browser, CLOSE_UNAUTHORIZED, "your session ended: sign in again").await;
                }
            }
            _ = recheck.tick() => {
                if heard.elapsed() > SILENCE {
                    tracing::debug!(url = endpoint.url, "a browser fell silent: closing its socket");
                    let _ = upstream.close(None).await;
                    break;
                }
                let _ = browser.send(Message::Ping(Bytes::new())).await;
                if !still_valid(&web, session.as_ref()).await {
                    let _ = upstream.close(None).await;
                    break close(&mut browser, CLOSE_UNAUTHORIZED, "your session ended: sign in again").await;
                }
            }
        }
    }
}

/// Why the sandbox refuses the endpoint's token, if it does.
async fn refusal(endpoint: &Endpoint) -> Option<String> {
    let daemon = DaemonHttp::new(endpoint.clone()).ok()?;
    let (status, body) = daemon
        .exchange(axum::http::Method::GET, "/api/whoami", None, Bytes::new())
        .await
        .ok()?;
    if status != 401 {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    Some(
        body["message"]
            .as_str()
            .unwrap_or("the token was refused")
            .to_owned(),
    )
}

/// Whether `session` still holds (an open socket counts as activity); no session (a share
/// opened by link) always does: the sandbox decides.
async fn still_valid(web: &Web, session: Option<&Session>) -> bool {
    match session {
        Some(session) => matches!(web.sessions.find(&session.key).await, Ok(Some(_))),
        None => true,
    }
}

/// `/api/*`: the same request to the user's sandbox, with its token; the answer's status and
/// body back, as JSON.
pub(super) async fn api(State(web): State<Arc<Web>>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let session = match web.signed_in(&headers).await {
        Ok(session) => session,
        Err(refusal) => return refusal.into_response(),
    };
    let endpoint = match sandbox(&web, &session.user).await {
        Ok(endpoint) => endpoint,
        Err(reason) => return error(StatusCode::SERVICE_UNAVAILABLE, &reason),
    };
    let path = without_token(&uri);
    pass_on(&web, &session.user, endpoint, method, &path, &headers, body).await
}

/// Sends a request (its body read within the limit) to the sandbox at `endpoint`, as one of
/// `who`'s requests under way; the answer back as JSON data.
pub(super) async fn pass_on(
    web: &Web,
    who: &str,
    endpoint: Endpoint,
    method: axum::http::Method,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let Some(_slot) = web.api_requests.take(who) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("{MAX_API_REQUESTS} requests are under way already: wait for one"),
        );
    };
    // The body only now, and only so much: a stranger cannot make us hold it.
    let body = match Limited::new(body, choir_proto::MAX_FRAME_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "requests are limited to {} bytes",
                    choir_proto::MAX_FRAME_BYTES
                ),
            )
        }
    };
    let content_type = headers.get(header::CONTENT_TYPE).cloned();
    let daemon = match DaemonHttp::with_timeout(endpoint, API_TIMEOUT * 2) {
        Ok(daemon) => daemon.with_max_body(MAX_ANSWER),
        Err(err) => return error(StatusCode::BAD_GATEWAY, &err.to_string()),
    };
    let exchange = daemon.exchange(method, path, content_type, body);
    match tokio::time::timeout(API_TIMEOUT, exchange).await {
        Ok(Ok((status, body))) => answer(status, body),
        Ok(Err(err)) => {
            tracing::warn!(who, %err, "a sandbox's API failed");
            error(StatusCode::BAD_GATEWAY, "the sandbox did not answer")
        }
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "the sandbox took too long to answer",
        ),
    }
}

/// The path and query, any `token=` left out (the token is the hypervisor's to add).
pub(super) fn without_token(uri: &Uri) -> String {
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

/// A sandbox's answer as the browser gets it: its status and body, as JSON data only.
fn answer(status: u16, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
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
    response
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
