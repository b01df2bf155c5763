//! `choir events`: the log as JSON lines, optionally following it live.

use std::time::Duration;

use choir_proto::{ClientFrame, Endpoint, ErrorCode, Event, ServerFrame, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::print_line;
use super::when::Point;
use choir_client::connect::{ConnectError, DaemonHttp};

/// How long to wait for the daemon's welcome.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between reconnection attempts while following.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Options of `choir events`.
#[derive(Debug, Clone)]
pub struct EventsArgs {
    /// First seq to print (1 = everything).
    pub from: u64,
    /// Keep printing new events as they commit.
    pub follow: bool,
}

/// Why printing events stopped.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("websocket to {url}: {message}")]
    Socket { url: String, message: String },
    #[error("the daemon refused: {code}: {message}", code = code.as_str())]
    Refused { code: ErrorCode, message: String },
}

/// Prints events with `seq >= from` as JSON lines; with `follow`, keeps going (reconnecting
/// with `resume_from` if the daemon restarts, so no event is printed twice or skipped).
pub async fn events(
    locate: impl Fn() -> Result<Endpoint, ConnectError>,
    args: EventsArgs,
) -> Result<(), EventsError> {
    let mut out = std::io::stdout().lock();
    let from = args.from.max(1);
    if !args.follow {
        let daemon = DaemonHttp::new(locate()?)?;
        let mut next = from;
        loop {
            let events = events_page(&daemon, next).await?;
            let Some(last) = events.last() else {
                return Ok(());
            };
            next = last.seq + 1;
            for event in &events {
                if !print_line(&mut out, &event_json(event)) {
                    return Ok(());
                }
            }
        }
    }

    let mut last_printed = from - 1;
    let mut backoff = Duration::from_millis(200);
    let mut connected_once = false;
    loop {
        let endpoint = match locate() {
            Ok(endpoint) => endpoint,
            Err(err) if !connected_once => return Err(err.into()),
            Err(_) => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        match follow_once(&endpoint, &mut last_printed, &mut out).await {
            Ok(FollowEnd::StdoutClosed) => return Ok(()),
            Ok(FollowEnd::Disconnected) => {
                connected_once = true;
                backoff = Duration::from_millis(200);
                eprintln!(
                    "choir: connection to the daemon lost; reconnecting from seq {}",
                    last_printed + 1
                );
            }
            Err(err @ EventsError::Refused { .. }) => return Err(err),
            Err(err) if !connected_once => return Err(err),
            Err(_) => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// One page of events from `from` on.
async fn events_page(daemon: &DaemonHttp, from: u64) -> Result<Vec<Event>, EventsError> {
    let mut page = daemon.get(&format!("/api/events?from={from}")).await?;
    let events =
        serde_json::from_value(page["events"].take()).map_err(|err| ConnectError::Failed {
            url: daemon.endpoint().url.clone(),
            status: 200,
            body: format!("events page is not readable: {err}"),
        })?;
    Ok(events)
}

enum FollowEnd {
    Disconnected,
    StdoutClosed,
}

async fn follow_once(
    endpoint: &Endpoint,
    last_printed: &mut u64,
    out: &mut impl std::io::Write,
) -> Result<FollowEnd, EventsError> {
    let url = endpoint.ws_url();
    let socket_error = |message: String| EventsError::Socket {
        url: url.clone(),
        message,
    };
    let mut ws = choir_client::transport::websocket(endpoint, HANDSHAKE_TIMEOUT)
        .await
        .map_err(socket_error)?;
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(endpoint.token.clone()),
        resume_from: Some(*last_printed),
        client: Some("choir-events".into()),
    };
    let hello = serde_json::to_string(&hello).map_err(|err| socket_error(err.to_string()))?;
    ws.send(Message::text(hello))
        .await
        .map_err(|err| socket_error(err.to_string()))?;
    let mut welcomed = false;
    loop {
        let next = if welcomed {
            ws.next().await
        } else {
            tokio::time::timeout(HANDSHAKE_TIMEOUT, ws.next())
                .await
                .map_err(|_| socket_error("no welcome from the daemon".into()))?
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                return Ok(FollowEnd::Disconnected)
            }
            Some(Ok(_)) => continue,
        };
        let frame: ServerFrame = match serde_json::from_str(&text) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::warn!(%err, "skipping a frame this client cannot read");
                continue;
            }
        };
        match frame {
            ServerFrame::Welcome { .. } => welcomed = true,
            ServerFrame::Event { event } if event.seq > *last_printed => {
                if !print_line(out, &event_json(&event)) {
                    return Ok(FollowEnd::StdoutClosed);
                }
                *last_printed = event.seq;
            }
            ServerFrame::Error { code, message, .. } if !welcomed => {
                return Err(EventsError::Refused { code, message })
            }
            ServerFrame::Error { code, message, .. } => {
                eprintln!("choir: daemon error {}: {message}", code.as_str());
            }
            _ => {}
        }
    }
}

/// One event as a JSON line (the same shape as on the wire and in `/api/events`).
fn event_json(event: &Event) -> String {
    serde_json::to_string(event).unwrap_or_else(|err| format!("{{\"error\":\"{err}\"}}"))
}

/// `choir events --at POINT`: the world as it was right after that point, as one JSON line
/// (`{"seq", "ts", "head", "world"}`).
pub async fn moment(daemon: &DaemonHttp, point: Point) -> Result<(), EventsError> {
    let body = daemon.get(&moment_path(point, true)).await?;
    print_line(&mut std::io::stdout().lock(), &body.to_string());
    Ok(())
}

/// `choir events --between FROM TO`: the events from the first after `from` began to the
/// last at `to`, both ends included (a seq is that event; a time, the events at or after it
/// and at or before it).
pub async fn between(daemon: &DaemonHttp, from: Point, to: Point) -> Result<(), EventsError> {
    let first = match from {
        Point::Seq(seq) => seq.max(1),
        Point::Time(ts) => seq_at(daemon, Point::Time(ts.saturating_sub(1))).await? + 1,
    };
    let last = match to {
        Point::Seq(seq) => seq,
        Point::Time(_) => seq_at(daemon, to).await?,
    };
    let mut out = std::io::stdout().lock();
    let mut next = first;
    while next <= last {
        let events = events_page(daemon, next).await?;
        let Some(end) = events.last().map(|event| event.seq) else {
            return Ok(());
        };
        for event in events.iter().filter(|event| event.seq <= last) {
            if !print_line(&mut out, &event_json(event)) {
                return Ok(());
            }
        }
        next = end + 1;
    }
    Ok(())
}

/// The seq a point lands on.
async fn seq_at(daemon: &DaemonHttp, point: Point) -> Result<u64, EventsError> {
    let body = daemon.get(&moment_path(point, false)).await?;
    Ok(body["seq"].as_u64().unwrap_or(0))
}

fn moment_path(point: Point, world: bool) -> String {
    let at = match point {
        Point::Seq(seq) => format!("seq={seq}"),
        Point::Time(ts) => format!("ts={ts}"),
    };
    if world {
        format!("/api/moment?{at}")
    } else {
        format!("/api/moment?{at}&world=false")
    }
}
