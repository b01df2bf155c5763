//! The desktop's link to the daemon: one WebSocket, re-established with `resume_from` after
//! any interruption, so the desktop sees every event exactly once across daemon restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use choir_desktop::Connection;
use choir_proto::client::{Link, Received};
use choir_proto::{ClientFrame, Command, Endpoint, ErrorCode, Query, ServerFrame, CLOSE_REVOKED};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::budget::Budget;
use crate::connect::{ConnectError, DaemonHttp};
use crate::transport::DaemonStream;

type WebSocket = WebSocketStream<DaemonStream>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// A ping goes out this often; a connection silent for three of these is dead.
const PING_EVERY: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the client reports to the desktop.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientUpdate {
    Connection(Connection),
    Frame(ServerFrame),
    /// Something the user should know (a command dropped while offline).
    Notice(String),
    /// Recent events from before the snapshot, for the event log.
    History(Vec<choir_proto::Event>),
    /// The daemon refused an edit of this document (the frame's message says why).
    EditRefused {
        doc_id: choir_proto::DocId,
        message: String,
    },
    /// The daemon could not answer a query.
    QueryFailed {
        query: Query,
        message: String,
    },
    /// The daemon turned this client away for good (its share was revoked or expired): the
    /// client has stopped.
    Gone(String),
}

/// Events of history fetched after a snapshot.
const HISTORY: u64 = 1000;

/// Sends commands and queries to the daemon; cheap to clone.
#[derive(Clone)]
pub struct ProtocolClient {
    commands: mpsc::Sender<Command>,
    queries: mpsc::Sender<Query>,
    /// Bytes of messages received from the daemon so far.
    received: Arc<AtomicU64>,
    budget: Option<Budget>,
}

/// Updates waiting for the desktop, with a budget (each holds at most a message's worth).
const BUDGETED_QUEUE: usize = 16;

impl ProtocolClient {
    /// Starts the connection task. `locate` is asked for the endpoint before every attempt, so
    /// a daemon restarted on another port is found again.
    pub fn spawn<F>(locate: F, name: &str) -> (Self, mpsc::Receiver<ClientUpdate>)
    where
        F: Fn() -> Result<Endpoint, ConnectError> + Send + 'static,
    {
        Self::start(locate, name, None)
    }

    /// As [`spawn`](Self::spawn), within `budget`: a message waiting for the desktop holds
    /// its bytes of it, few wait, and the desktop is expected to hold what it keeps (see
    /// [`crate::session::run`]). Past the budget the client stops, saying so.
    pub fn spawn_within<F>(
        locate: F,
        name: &str,
        budget: Budget,
    ) -> (Self, mpsc::Receiver<ClientUpdate>)
    where
        F: Fn() -> Result<Endpoint, ConnectError> + Send + 'static,
    {
        Self::start(locate, name, Some(budget))
    }

    fn start<F>(
        locate: F,
        name: &str,
        budget: Option<Budget>,
    ) -> (Self, mpsc::Receiver<ClientUpdate>)
    where
        F: Fn() -> Result<Endpoint, ConnectError> + Send + 'static,
    {
        let (commands, commands_rx) = mpsc::channel(256);
        let (queries, queries_rx) = mpsc::channel(64);
        let queue = if budget.is_some() {
            BUDGETED_QUEUE
        } else {
            1024
        };
        let (updates, updates_rx) = mpsc::channel(queue);
        let received = Arc::new(AtomicU64::new(0));
        let outgoing = Outgoing {
            commands: commands_rx,
            queries: queries_rx,
        };
        let incoming = Incoming {
            updates,
            received: received.clone(),
            budget: budget.clone(),
        };
        tokio::spawn(run(locate, name.to_owned(), outgoing, incoming));
        (
            Self {
                commands,
                queries,
                received,
                budget,
            },
            updates_rx,
        )
    }

    /// Bytes received from the daemon so far (every connection together).
    pub fn received_bytes(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The budget this client was started within, if any.
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// Queues a command; gives it back if the queue is full or the client has stopped.
    pub fn send(&self, command: Command) -> Result<(), Command> {
        self.commands
            .try_send(command)
            .map_err(|err| err.into_inner())
    }

    /// Queues a query (its reply arrives as a `reply` frame); gives it back if it cannot.
    /// Queries made while the link is down are dropped: ask again after the next welcome.
    pub fn query(&self, query: Query) -> Result<(), Query> {
        self.queries.try_send(query).map_err(|err| err.into_inner())
    }
}

/// What the desktop sends, each kind on its own queue.
struct Outgoing {
    commands: mpsc::Receiver<Command>,
    queries: mpsc::Receiver<Query>,
}

/// Where what the daemon sends goes, and what counts it.
struct Incoming {
    updates: mpsc::Sender<ClientUpdate>,
    received: Arc<AtomicU64>,
    budget: Option<Budget>,
}

impl Incoming {
    /// Counts a message of `bytes`; holds them of the budget until the desktop has the
    /// update (`Err` with the reason past it).
    fn count(&self, bytes: usize) -> Result<Option<crate::budget::Held>, String> {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
        match &self.budget {
            None => Ok(None),
            Some(budget) => budget.hold(bytes).map(Some).map_err(|exceeded| {
                format!(
                    "the sandbox sent more than this host holds for one user ({} MiB): {exceeded}",
                    budget.limit() >> 20
                )
            }),
        }
    }
}

enum Ended {
    /// The desktop is gone: stop.
    Stopped,
    /// The link broke; try again. `Some(reason)` when the daemon refused us.
    Lost(Option<String>),
    /// The share this client used is no longer good: stop, saying why.
    Gone(String),
}

async fn run<F>(locate: F, name: String, mut outgoing: Outgoing, incoming: Incoming)
where
    F: Fn() -> Result<Endpoint, ConnectError>,
{
    let updates = &incoming.updates;
    let mut link = Link::new();
    let mut attempt: u32 = 0;
    // Why the last link was lost, when the daemon said.
    let mut lost_because: Option<String> = None;
    loop {
        let state = if attempt == 0 {
            Connection::Connecting
        } else {
            Connection::Reconnecting {
                attempt,
                reason: lost_because.take(),
            }
        };
        if updates.send(ClientUpdate::Connection(state)).await.is_err() {
            return;
        }
        let outcome = match locate() {
            Ok(endpoint) => session(&endpoint, &name, &mut link, &mut outgoing, &incoming).await,
            // No daemon right now (restarting, or not yet started): keep trying.
            Err(err) => {
                tracing::debug!(%err, "no daemon to connect to yet");
                Ended::Lost(None)
            }
        };
        match outcome {
            Ended::Stopped => return,
            Ended::Gone(reason) => {
                let _ = updates.send(ClientUpdate::Gone(reason)).await;
                return;
            }
            Ended::Lost(reason) => lost_because = reason,
        }
        attempt = attempt.saturating_add(1);
        let backoff =
            Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5))).min(MAX_BACKOFF);
        // While waiting, commands cannot be delivered: say so rather than send them late.
        let wait = tokio::time::sleep(backoff);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                () = &mut wait => break,
                // Queries wait for the next link (the desktop asks again after the welcome).
                _ = outgoing.queries.recv() => {}
                command = outgoing.commands.recv() => match command {
                    Some(_) => {
                        let notice = ClientUpdate::Notice("not connected: the action was not sent".into());
                        if updates.send(notice).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
            }
        }
    }
}

async fn session(
    endpoint: &Endpoint,
    name: &str,
    link: &mut Link,
    outgoing: &mut Outgoing,
    incoming: &Incoming,
) -> Ended {
    let mut ws = match crate::transport::websocket(endpoint, CONNECT_TIMEOUT).await {
        Ok(ws) => ws,
        Err(err) => {
            tracing::debug!(%err, url = %endpoint.url, "cannot connect");
            return match share_refused(endpoint).await {
                Some(reason) => Ended::Gone(reason),
                None => Ended::Lost(None),
            };
        }
    };
    let ended = exchange(&mut ws, endpoint, name, link, outgoing, incoming).await;
    // Queries lost with the link are asked again by the desktop after the next welcome.
    link.lost();
    ended
}

/// Speaks the protocol over one connection until it ends.
async fn exchange(
    ws: &mut WebSocket,
    endpoint: &Endpoint,
    name: &str,
    link: &mut Link,
    outgoing: &mut Outgoing,
    incoming: &Incoming,
) -> Ended {
    let updates = &incoming.updates;
    let hello = link.hello(Some(endpoint.token.clone()), name);
    if send(ws, &hello).await.is_err() {
        return Ended::Lost(None);
    }
    // The welcome (or a refusal).
    let welcome = tokio::time::timeout(WELCOME_TIMEOUT, ws.next()).await;
    let Ok(Some(Ok(Message::Text(text)))) = welcome else {
        return Ended::Lost(None);
    };
    let held = match incoming.count(text.len()) {
        Ok(held) => held,
        Err(reason) => return Ended::Gone(reason),
    };
    let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
        return Ended::Lost(None);
    };
    match link.receive(frame) {
        Received::Frame(frame @ ServerFrame::Welcome { .. }) => {
            // Queries made before this link was up went nowhere: the desktop asks again for
            // all it still needs once it has the welcome. Sent now as well, each would be
            // answered twice (a past moment at 1M events twice over, in a replay).
            while outgoing.queries.try_recv().is_ok() {}
            let snapshot_head = match &frame {
                ServerFrame::Welcome {
                    head,
                    snapshot: Some(_),
                    ..
                } => Some(*head),
                _ => None,
            };
            if updates.send(ClientUpdate::Frame(frame)).await.is_err() {
                return Ended::Stopped;
            }
            drop(held);
            if let Some(head) = snapshot_head {
                let history = recent_history(endpoint, head).await;
                // Counted as received, so that the desktop weighs what it keeps of it.
                let bytes = choir_proto::encoded_len(&history);
                incoming.received.fetch_add(bytes as u64, Ordering::Relaxed);
                if !history.is_empty()
                    && updates.send(ClientUpdate::History(history)).await.is_err()
                {
                    return Ended::Stopped;
                }
            }
        }
        // The daemon's log is not the one we followed: start over from a snapshot.
        Received::LogReplaced => {
            return Ended::Lost(Some("the sandbox's log was replaced; reloading".into()));
        }
        Received::Refused { code, message }
        | Received::Frame(ServerFrame::Error { code, message, .. }) => {
            if code == ErrorCode::Unauthorized && is_share(endpoint) {
                return Ended::Gone(message);
            }
            return Ended::Lost(Some(format!("{}: {message}", code.as_str())));
        }
        _ => return Ended::Lost(None),
    }

    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut silent_ticks = 0;
    loop {
        tokio::select! {
            message = ws.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(Some(frame)))) if u16::from(frame.code) == CLOSE_REVOKED => {
                        return Ended::Gone(frame.reason.to_string());
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return Ended::Lost(None),
                    Some(Ok(_)) => continue,
                };
                silent_ticks = 0;
                let _held = match incoming.count(text.len()) {
                    Ok(held) => held,
                    Err(reason) => return Ended::Gone(reason),
                };
                let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) else {
                    tracing::warn!("skipping a frame this client cannot read");
                    continue;
                };
                let update = match link.receive(frame) {
                    Received::Frame(frame) => ClientUpdate::Frame(frame),
                    Received::EditRefused { doc_id, message } => ClientUpdate::EditRefused { doc_id, message },
                    Received::QueryFailed { query, message } => ClientUpdate::QueryFailed { query, message },
                    Received::LogReplaced | Received::Refused { .. } => return Ended::Lost(None),
                };
                if updates.send(update).await.is_err() {
                    return Ended::Stopped;
                }
            }
            command = outgoing.commands.recv() => {
                let Some(command) = command else { return Ended::Stopped };
                if send(ws, &link.command(command)).await.is_err() {
                    return Ended::Lost(None);
                }
            }
            query = outgoing.queries.recv() => {
                let Some(query) = query else { return Ended::Stopped };
                if send(ws, &link.query(query)).await.is_err() {
                    return Ended::Lost(None);
                }
            }
            _ = ping.tick() => {
                silent_ticks += 1;
                if silent_ticks > 3 {
                    return Ended::Lost(None);
                }
                if send(ws, &link.ping()).await.is_err() {
                    return Ended::Lost(None);
                }
            }
        }
    }
}

/// Sends one frame; an error means the link is gone.
async fn send(ws: &mut WebSocket, frame: &ClientFrame) -> Result<(), ()> {
    let text = serde_json::to_string(frame).map_err(|_| ())?;
    ws.send(Message::text(text)).await.map_err(|_| ())
}

/// The last events up to `head`, for the event log; empty if they cannot be had.
async fn recent_history(endpoint: &Endpoint, head: u64) -> Vec<choir_proto::Event> {
    let from = head.saturating_sub(HISTORY - 1).max(1);
    let Ok(http) = crate::connect::DaemonHttp::new(endpoint.clone()) else {
        return Vec::new();
    };
    match http
        .get(&format!("/api/events?from={from}&limit={HISTORY}"))
        .await
    {
        Ok(mut page) => serde_json::from_value(page["events"].take()).unwrap_or_default(),
        Err(err) => {
            tracing::warn!(%err, "cannot load recent events for the event log");
            Vec::new()
        }
    }
}

/// Whether the endpoint's token is a share's (rather than the sandbox's own).
fn is_share(endpoint: &Endpoint) -> bool {
    endpoint.token.starts_with("chs_")
}

/// Why the daemon refuses a share token now, if it does: a connection that could not be made
/// with one may be a share revoked while the client was away.
async fn share_refused(endpoint: &Endpoint) -> Option<String> {
    if !is_share(endpoint) {
        return None;
    }
    let daemon = DaemonHttp::new(endpoint.clone()).ok()?;
    match daemon.get("/api/whoami").await {
        Err(ConnectError::Unauthorized { .. }) => {
            Some("this share was revoked or expired, or is not for you".into())
        }
        _ => None,
    }
}
