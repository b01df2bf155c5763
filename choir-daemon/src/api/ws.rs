//! One WebSocket session: handshake, then events out and commands in.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use choir_proto::{
    ClientFrame, Command, ErrorCode, ServerFrame, CLOSE_EXPECTED_HELLO, CLOSE_PROTOCOL_VERSION,
    CLOSE_RESUME_BEYOND_HEAD, CLOSE_REVOKED, CLOSE_UNAUTHORIZED, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use futures_util::stream::{SplitStream, StreamExt};
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::auth::{access_of, presented_token, viewer, Access, READ_ONLY};
use super::error::ApiError;
use super::AppState;
use crate::shares::Grant;
use crate::store::{Committed, Subscription};

/// How long a client has to send `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames queued for one client before the event forwarder waits (it then catches up from
/// disk, so a slow client costs no memory).
const OUTBOX: usize = 256;
/// Messages beyond this size close the connection outright; between [`MAX_FRAME_BYTES`] and
/// this they get a `frame_too_large` error and the connection stays open.
const HARD_MESSAGE_LIMIT: usize = 4 * MAX_FRAME_BYTES;
/// Bytes read from a client at a time. A client sends little (a command, a query; a paste
/// grows the buffer to its size), and each read fills the buffer first: the default 128 KiB
/// would cost every connection that much memory.
pub(super) const READ_BUFFER: usize = 16 << 10;
/// Longest client name kept for event actors.
const MAX_CLIENT_NAME: usize = 64;
/// Queries one connection may have answered at once.
const QUERIES_AT_ONCE: usize = 4;

/// `GET /ws`: a token presented on the upgrade request must be right; without one, `hello`
/// must carry it.
pub(super) async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    let viewer = viewer(&headers).map(str::to_owned);
    let pre_authorized = match presented_token(&headers, uri.query()) {
        Some(token) => match access_of(&state, &token, viewer.as_deref()) {
            Ok(access) => Some(access),
            Err(err) => return err.into_response(),
        },
        None => None,
    };
    ws.max_message_size(HARD_MESSAGE_LIMIT)
        .max_frame_size(HARD_MESSAGE_LIMIT)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| run(socket, state, pre_authorized, viewer))
}

/// Sends frames to one client from one writer task.
#[derive(Clone)]
struct Outbox(mpsc::Sender<Message>);

impl Outbox {
    async fn frame(&self, frame: &ServerFrame) -> bool {
        match serde_json::to_string(frame) {
            Ok(text) => self.0.send(Message::Text(text.into())).await.is_ok(),
            Err(err) => {
                tracing::error!(%err, "cannot encode a server frame");
                false
            }
        }
    }

    async fn error(&self, id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> bool {
        let message = message.into();
        self.frame(&ServerFrame::Error { id, code, message }).await
    }

    async fn event(&self, event: &Committed) -> bool {
        // Wrap the event's JSON (encoded once for every client) without cloning it into a
        // `ServerFrame`.
        match event.json() {
            Ok(json) => {
                let text = format!("{{\"type\":\"event\",\"event\":{json}}}");
                self.0.send(Message::Text(text.into())).await.is_ok()
            }
            Err(err) => {
                tracing::error!(%err, seq = event.seq, "cannot encode an event");
                false
            }
        }
    }

    async fn close(&self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = self.0.send(Message::Close(Some(frame))).await;
    }
}

async fn run(
    socket: WebSocket,
    state: AppState,
    pre_authorized: Option<Access>,
    viewer: Option<String>,
) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        // Frames that wait together go out with one write.
        'frames: while let Some(mut message) = rx.recv().await {
            loop {
                let closing = matches!(message, Message::Close(_));
                if sink.feed(message).await.is_err() {
                    break 'frames;
                }
                if closing {
                    let _ = sink.flush().await;
                    break 'frames;
                }
                match rx.try_recv() {
                    Ok(next) => message = next,
                    Err(_) => break,
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let outbox = Outbox(tx);
    let session = handshake(
        &mut stream,
        &outbox,
        &state,
        pre_authorized,
        viewer.as_deref(),
    )
    .await;
    if let Some(Session {
        actor,
        access,
        events,
    }) = session
    {
        let _client = state.activity.client();
        let ephemerals = state.ephemerals.subscribe();
        let forwarder = tokio::spawn(forward(events, ephemerals, outbox.clone()));
        tokio::select! {
            () = serve(&mut stream, &outbox, &state, &actor, &access) => forwarder.abort(),
            (why, code) = access.ended() => {
                // Nothing more of the log goes out, then why.
                forwarder.abort();
                if code == CLOSE_REVOKED {
                    outbox
                        .error(None, ErrorCode::Unauthorized, why)
                        .await;
                }
                outbox.close(code, why).await;
            }
        }
    }
    drop(outbox);
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

struct Session {
    actor: String,
    access: Access,
    events: Subscription,
}

/// Waits for `hello`, checks token and version, sends `welcome`.
async fn handshake(
    stream: &mut SplitStream<WebSocket>,
    outbox: &Outbox,
    state: &AppState,
    pre_authorized: Option<Access>,
    viewer: Option<&str>,
) -> Option<Session> {
    let first = tokio::time::timeout(HELLO_TIMEOUT, next_text(stream)).await;
    let text = match first {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(_) => {
            outbox
                .error(None, ErrorCode::ExpectedHello, "no hello within 10 s")
                .await;
            outbox.close(CLOSE_EXPECTED_HELLO, "no hello").await;
            return None;
        }
    };
    let (token, resume_from, client) = match ClientFrame::parse(&text) {
        Ok(ClientFrame::Hello {
            protocol,
            token,
            resume_from,
            client,
        }) => {
            if protocol != PROTOCOL_VERSION {
                let message =
                    format!("this daemon speaks protocol {PROTOCOL_VERSION}, not {protocol}");
                outbox
                    .error(None, ErrorCode::ProtocolVersion, message)
                    .await;
                outbox
                    .close(CLOSE_PROTOCOL_VERSION, "protocol version")
                    .await;
                return None;
            }
            (token, resume_from, client)
        }
        Ok(_) | Err(_) => {
            outbox
                .error(
                    None,
                    ErrorCode::ExpectedHello,
                    "the first frame must be a valid hello",
                )
                .await;
            outbox.close(CLOSE_EXPECTED_HELLO, "expected hello").await;
            return None;
        }
    };
    let access = match (pre_authorized, token.as_deref()) {
        (Some(access), _) => Ok(access),
        (None, Some(token)) => access_of(state, token, viewer).map_err(ApiError::into_parts),
        (None, None) => Err((ErrorCode::Unauthorized, "missing token".to_owned())),
    };
    // A share revoked or expired while this connection waited for its hello.
    let access = access.and_then(|access| match access.grant().and_then(Grant::is_over) {
        Some(why) => Err((ErrorCode::Unauthorized, why.to_owned())),
        None => Ok(access),
    });
    let access = match access {
        Ok(access) => access,
        Err((code, message)) => {
            outbox.error(None, code, message).await;
            outbox.close(CLOSE_UNAUTHORIZED, "unauthorized").await;
            return None;
        }
    };
    // A share sees nothing from before it was made: a resume from earlier gets a welcome.
    let floor = access.floor();
    let resume_from = resume_from.filter(|seq| seq + 1 >= floor);
    let (head, snapshot) = match resume_from {
        Some(seq) if seq > state.store.head() => {
            let message = format!(
                "resume_from {seq} is beyond this daemon's head {}",
                state.store.head()
            );
            outbox
                .error(None, ErrorCode::ResumeBeyondHead, message)
                .await;
            outbox
                .close(CLOSE_RESUME_BEYOND_HEAD, "resume beyond head")
                .await;
            return None;
        }
        Some(seq) => (seq, None),
        None => {
            let world = state.world.welcome().await?.since(floor);
            (world.head, Some(Box::new(world)))
        }
    };
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: state.store.head().max(head),
        snapshot,
        read_only: access.read_only(),
    };
    if !outbox.frame(&welcome).await {
        return None;
    }
    let usage = *state.model_usage.borrow();
    if let Some(usage) = usage {
        let body = choir_proto::EphemeralBody::ModelUsage(usage);
        if !outbox.frame(&ServerFrame::Ephemeral { body }).await {
            return None;
        }
    }
    let actor = match access.grant() {
        Some(grant) => format!("share:{}", grant.share.id),
        None => actor_name(client.as_deref()),
    };
    Some(Session {
        actor,
        access,
        events: state.store.subscribe(head + 1),
    })
}

/// Reads frames until the client leaves or the daemon shuts down.
async fn serve(
    stream: &mut SplitStream<WebSocket>,
    outbox: &Outbox,
    state: &AppState,
    actor: &str,
    access: &Access,
) {
    let queries = std::sync::Arc::new(tokio::sync::Semaphore::new(QUERIES_AT_ONCE));
    // The queries being answered: they end with the connection.
    let mut answering = tokio::task::JoinSet::new();
    loop {
        // Reap the answered ones.
        while answering.try_join_next().is_some() {}
        let message = tokio::select! {
            message = stream.next() => message,
            () = state.shutdown.cancelled() => {
                outbox.close(1001, "daemon shutting down").await;
                return;
            }
        };
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                outbox
                    .error(
                        None,
                        ErrorCode::MalformedFrame,
                        "binary frames are not supported; send JSON text",
                    )
                    .await;
                continue;
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return,
            Some(Err(err)) => {
                tracing::debug!(%err, "websocket closed with an error");
                return;
            }
        };
        let reply_ok = match ClientFrame::parse(text.as_str()) {
            Ok(ClientFrame::Command { id, .. }) if access.read_only() => {
                outbox.error(Some(id), ErrorCode::ReadOnly, READ_ONLY).await
            }
            // An account is checked with its servers (seconds, on a slow one) beside the loop:
            // the connection's other commands and keys do not wait for it.
            Ok(ClientFrame::Command {
                id,
                command: command @ Command::AddMailAccount { .. },
            }) => {
                let (state, outbox, access) = (state.clone(), outbox.clone(), access.clone());
                let actor = actor.to_owned();
                answering.spawn(async move {
                    match super::mail::command(&state, &access, command, actor).await {
                        Ok(seqs) => outbox.frame(&ServerFrame::Ack { id, seqs }).await,
                        Err(err) => {
                            let (code, message) = err.into_parts();
                            outbox.error(Some(id), code, message).await
                        }
                    }
                });
                true
            }
            Ok(ClientFrame::Command { id, command }) => {
                let result = super::mail::command(state, access, command, actor.to_owned()).await;
                match result {
                    Ok(seqs) => outbox.frame(&ServerFrame::Ack { id, seqs }).await,
                    Err(err) => {
                        let (code, message) = err.into_parts();
                        outbox.error(Some(id), code, message).await
                    }
                }
            }
            Ok(ClientFrame::Query { id, query }) => {
                // Answered beside the loop (a past moment or an old document text takes a
                // while), a few at a time per connection; commands keep their order.
                let Ok(permit) = queries.clone().acquire_owned().await else {
                    return;
                };
                let (state, outbox, floor) = (state.clone(), outbox.clone(), access.floor());
                answering.spawn(async move {
                    let _permit = permit;
                    // At most so many answered at once in the whole daemon.
                    let Ok(_daemon_permit) = state.queries.clone().acquire_owned().await else {
                        return false;
                    };
                    match super::queries::answer(&state, query, floor).await {
                        Ok(reply) => outbox.frame(&ServerFrame::Reply { id, reply }).await,
                        Err(err) => {
                            let (code, message) = err.into_parts();
                            outbox.error(Some(id), code, message).await
                        }
                    }
                });
                true
            }
            Ok(ClientFrame::Ping { nonce }) => outbox.frame(&ServerFrame::Pong { nonce }).await,
            Ok(ClientFrame::Hello { .. }) => {
                outbox
                    .error(None, ErrorCode::ExpectedHello, "hello was already received")
                    .await
            }
            Err(err) => outbox.error(err.id, err.code, err.message).await,
        };
        if !reply_ok {
            return;
        }
    }
}

/// Sends every event of the subscription, in order, and the ephemerals as they come.
async fn forward(
    mut events: Subscription,
    mut ephemerals: tokio::sync::broadcast::Receiver<choir_proto::EphemeralBody>,
    outbox: Outbox,
) {
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            ephemeral = ephemerals.recv() => {
                match ephemeral {
                    Ok(body) => {
                        if !outbox.frame(&ServerFrame::Ephemeral { body }).await {
                            return;
                        }
                    }
                    // Missed streaming text is made whole by the final message event.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
                continue;
            }
        };
        match next {
            Ok(Some(event)) => {
                if !outbox.event(&event).await {
                    return;
                }
            }
            Ok(None) => return,
            Err(err) => {
                tracing::error!(%err, "cannot read events for a client");
                outbox
                    .error(None, ErrorCode::Internal, err.to_string())
                    .await;
                return;
            }
        }
    }
}

async fn next_text(stream: &mut SplitStream<WebSocket>) -> Option<String> {
    loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => return Some(text.to_string()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Binary(_)) => return Some(String::new()),
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}

fn actor_name(client: Option<&str>) -> String {
    let name: String = client
        .unwrap_or("ws")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.@".contains(*c))
        .take(MAX_CLIENT_NAME)
        .collect();
    if name.is_empty() {
        "client:ws".into()
    } else {
        format!("client:{name}")
    }
}
