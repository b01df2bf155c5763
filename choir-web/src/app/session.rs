//! The page's connection to its sandbox: one WebSocket at a time, re-established with resume
//! after any loss (network, daemon restart, a tab the browser froze), each frame passed
//! through the shared `Link` and `Replica`. A refused token stops the retries for good.

use std::time::Duration;

use choir_desktop::prefs::Prefs;
use choir_desktop::Connection;
use choir_proto::client::{Applied, DocText, Link, Received};
use choir_proto::{AppKind, Command, ErrorCode, ServerFrame};
use yew::platform::time::sleep;
use yew::prelude::*;

use super::{App, FRAME_MS, LOG_HISTORY, MAX_BACKOFF_MS};
use crate::dom;
use crate::msg::Msg;
use crate::net::{NetEvent, Socket};
use crate::redraw::Touch;

/// The page's link to its daemon: the socket, what arrived on it, and how it fares.
pub(super) struct Session {
    pub(super) token: Option<String>,
    pub(super) link: Link,
    pub(super) socket: Option<Socket>,
    /// Tells one socket's events from an older one's.
    pub(super) generation: u64,
    /// Frames read and not yet taken in, and whether taking them in is scheduled.
    pub(super) arrived: Vec<String>,
    pub(super) take_scheduled: bool,
    /// When the page was last drawn (ms since the epoch).
    pub(super) last_render: f64,
    pub(super) connection: Connection,
    pub(super) attempt: u32,
    pub(super) last_heard: f64,
    pub(super) retry_pending: bool,
    pub(super) welcomed_once: bool,
    /// The data of the event frame being taken in, as the daemon wrote it (for the event
    /// log's entry of it).
    pub(super) event_data: String,
}

impl Session {
    /// A page with `token`, or signed in to the hypervisor that serves it, or a share's page
    /// (which has no token: the hypervisor adds the share's) connects; any other cannot.
    pub(super) fn new(token: Option<String>, signed_in: bool) -> Self {
        let can_connect = token.is_some() || signed_in || dom::meta("choir-socket").is_some();
        Self {
            connection: if can_connect {
                Connection::Connecting
            } else {
                Connection::NoToken
            },
            token,
            link: Link::new(),
            socket: None,
            generation: 0,
            arrived: Vec::new(),
            take_scheduled: false,
            last_render: 0.0,
            attempt: 0,
            last_heard: dom::now_ms(),
            retry_pending: false,
            welcomed_once: false,
            event_data: String::new(),
        }
    }
}

impl App {
    pub(super) fn may_connect(&self) -> bool {
        !matches!(
            self.session.connection,
            Connection::Offline(_) | Connection::NoToken
        )
    }

    pub(super) fn connect(&mut self, ctx: &Context<Self>) {
        if !self.may_connect() {
            return;
        }
        let Some(url) = dom::socket_url() else {
            return;
        };
        self.session.generation += 1;
        let generation = self.session.generation;
        let report = ctx
            .link()
            .callback(move |event: NetEvent| Msg::Net(generation, event));
        match Socket::open(&url, report) {
            Ok(socket) => self.session.socket = Some(socket),
            Err(err) => self.lost(ctx, format!("cannot open a connection: {err}")),
        }
    }

    /// Takes in what the socket reports. A frame after a quiet spell is taken in and drawn at
    /// once; while frames keep coming they are queued and taken in together at the next
    /// animation frame (see [`App::take_frames`]): a busy log costs one render per frame, not
    /// one per event. Returns whether to render now.
    pub(super) fn on_net(&mut self, ctx: &Context<Self>, event: NetEvent) -> bool {
        self.session.last_heard = dom::now_ms();
        if let NetEvent::Text(text) = event {
            self.session.arrived.push(text);
            // Quiet until now: show it at once. Busy: with the rest, at the next frame.
            if !self.session.take_scheduled && dom::now_ms() - self.session.last_render > FRAME_MS {
                self.take_frames(ctx);
                return true;
            }
            if !self.session.take_scheduled {
                self.session.take_scheduled = true;
                let link = ctx.link().clone();
                if !dom::on_next_frame(move || link.send_message(Msg::TakeFrames)) {
                    ctx.link().send_message(Msg::TakeFrames);
                }
            }
            return false;
        }
        // Whatever came before a close is taken in first.
        self.take_frames(ctx);
        match event {
            NetEvent::Opened => {
                let hello = self.session.link.hello(self.session.token.clone(), "web");
                if let Some(socket) = &self.session.socket {
                    socket.send(&hello);
                }
            }
            NetEvent::Text(_) => {}
            NetEvent::Closed { code, reason } => {
                if code == choir_proto::CLOSE_REVOKED {
                    self.refused(if reason.is_empty() {
                        "this share was revoked".into()
                    } else {
                        reason
                    });
                    return true;
                }
                if code == choir_proto::CLOSE_UNAUTHORIZED {
                    // The session ended (signed out, expired, passkey removed): sign in again.
                    if let Some(signed_in) = &self.signed_in {
                        dom::go_to(&signed_in.sign_in);
                    }
                    self.refused(if reason.is_empty() {
                        "wrong token".into()
                    } else {
                        reason
                    });
                    return true;
                }
                let why = if !self.session.link.is_welcomed()
                    && self.session.connection != Connection::Live
                {
                    format!("cannot reach the sandbox at {}", dom::host())
                } else if reason.is_empty() {
                    "the connection was lost".to_owned()
                } else {
                    format!("the connection closed: {reason}")
                };
                self.lost(ctx, why);
            }
        }
        true
    }

    /// Takes in the frames that arrived since the last time, in order.
    pub(super) fn take_frames(&mut self, ctx: &Context<Self>) {
        self.session.take_scheduled = false;
        for text in std::mem::take(&mut self.session.arrived) {
            match serde_json::from_str::<ServerFrame>(&text) {
                Ok(frame) => {
                    // An event's data as it came, for the event log (see `log_text`).
                    if let ServerFrame::Event { .. } = frame {
                        let data = crate::log_text::event_data(&text).unwrap_or_default();
                        self.session.event_data = crate::log_text::kept(data).to_owned();
                    }
                    self.on_frame(ctx, frame)
                }
                Err(err) => self.notify(
                    format!("skipped a frame this page cannot read: {err}"),
                    true,
                ),
            }
        }
        self.follow_settings();
        // Each app window has its state here before it is drawn: the time its question was
        // first shown is kept there.
        for id in self.replica.world().app_windows.keys() {
            self.windows.apps.entry(*id).or_default();
        }
        self.windows
            .apps
            .retain(|id, _| self.replica.world().app_windows.contains_key(id));
    }

    /// Takes the user's settings when they change: keys, the theme, notifications.
    fn follow_settings(&mut self) {
        if let Some(settings) = self.settings_seen.new_settings(self.replica.world()) {
            self.revisions.everything();
            self.keymap.set_prefs(Prefs::new(&settings).0);
            dom::set_theme(settings.theme);
        }
        if let Some(problem) = self.settings_seen.new_problem(self.replica.world()) {
            self.notify(problem, true);
        }
    }

    pub(super) fn refused(&mut self, message: String) {
        self.session.connection = Connection::Offline(message);
        self.session.socket = None;
    }

    /// The link is gone: say why and try again after a backoff.
    pub(super) fn lost(&mut self, ctx: &Context<Self>, reason: String) {
        self.session.socket = None;
        for query in self.session.link.lost() {
            self.replica.query_not_sent(query);
        }
        if !self.may_connect() {
            return;
        }
        self.session.attempt = self.session.attempt.saturating_add(1);
        self.session.connection = Connection::Reconnecting {
            attempt: self.session.attempt,
            reason: Some(reason),
        };
        if !self.session.retry_pending {
            self.session.retry_pending = true;
            let backoff = (200u64 << self.session.attempt.min(5)).min(MAX_BACKOFF_MS);
            ctx.link().send_future(async move {
                sleep(Duration::from_millis(backoff)).await;
                Msg::Retry
            });
        }
    }

    pub(super) fn on_frame(&mut self, ctx: &Context<Self>, frame: ServerFrame) {
        let mut touch = Touch::of(&frame);
        match self.session.link.receive(frame) {
            Received::Frame(frame) => match self.replica.on_frame(frame) {
                Applied::Welcome { fresh } => self.on_welcome(ctx, fresh),
                Applied::Event(event) | Applied::Confirmed(event) => self.on_event(event),
                Applied::DocLoaded(doc_id) => self.catch_up_editors(doc_id),
                Applied::Error { code, message } => {
                    self.notify(format!("{}: {message}", code.as_str()), true)
                }
                Applied::Quiet => {}
            },
            Received::EditRefused { doc_id, message } => {
                touch = Touch::Everything;
                self.edit_refused(doc_id, &message)
            }
            Received::QueryFailed { query, message } => {
                touch = Touch::Everything;
                self.replica.query_failed(&query);
                self.notify(format!("could not load: {message}"), true);
            }
            Received::LogReplaced => {
                touch = Touch::Everything;
                self.lost(ctx, "the sandbox's log was replaced; reloading".into())
            }
            Received::Refused { code, message } => {
                touch = Touch::Everything;
                match code {
                    ErrorCode::Unauthorized => self.refused(message),
                    _ => self.refused(format!("{}: {message}", code.as_str())),
                }
            }
        }
        self.open_editors();
        self.flush_queries();
        let event_logs = crate::apps::windows_of(self.replica.world(), &AppKind::EventLog);
        self.revisions.touch(touch, event_logs);
        if touch == Touch::Everything {
            // Windows a new welcome no longer has are let go of too.
            self.drawn.clear();
        }
    }

    pub(super) fn on_welcome(&mut self, ctx: &Context<Self>, fresh: bool) {
        self.session.connection = Connection::Live;
        self.session.attempt = 0;
        if fresh {
            // A new world: texts shown are read again from it, but unconfirmed edits stay
            // (and go out again below).
            self.writers
                .editors
                .retain(|_, editor| !editor.doc.is_saved());
            self.windows.log.clear();
            let head = self.replica.head();
            if self.session.token.is_some()
                || self.signed_in.is_some()
                || dom::meta("choir-api").is_some()
            {
                let token = self.session.token.clone();
                let from = head.saturating_sub(LOG_HISTORY - 1).max(1);
                ctx.link().send_future(async move {
                    let path = format!("/api/events?from={from}&limit={LOG_HISTORY}");
                    let events = match dom::get_json::<EventPage>(&path, token.as_deref()).await {
                        Ok(page) => page
                            .events
                            .iter()
                            .filter_map(|raw| {
                                let event = serde_json::from_str(raw.get()).ok()?;
                                let data =
                                    crate::log_text::event_data(raw.get()).unwrap_or_default();
                                Some((event, crate::log_text::kept(data).to_owned()))
                            })
                            .collect(),
                        Err(_) => Vec::new(),
                    };
                    Msg::LogHistory(events)
                });
            }
        }
        self.session.welcomed_once = true;
        // Edits in flight when the link broke may be lost: send them again (the daemon
        // skips any it already has).
        let resends: Vec<Command> = self
            .writers
            .editors
            .values()
            .map(|editor| &editor.doc)
            .chain(&self.writers.retired)
            .filter_map(DocText::resend)
            .collect();
        for command in resends {
            self.send(command);
        }
    }

    pub(crate) fn flush_queries(&mut self) {
        for query in self.replica.take_queries() {
            let sent = match (&self.session.socket, self.session.link.is_welcomed()) {
                (Some(socket), true) => socket.send(&self.session.link.query(query.clone())),
                _ => false,
            };
            if !sent {
                self.replica.query_not_sent(query);
            }
        }
    }
}

/// What `GET /api/events` answers (the members the log window needs).
#[derive(serde::Deserialize)]
struct EventPage {
    /// Each kept as its text, whose data the event log shows as it is.
    events: Vec<Box<serde_json::value::RawValue>>,
}
