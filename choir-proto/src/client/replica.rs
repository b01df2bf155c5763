//! The world as one client holds it, and what that client still has to read. A client
//! passes every frame of its [`Link`](super::Link) to [`Replica::on_frame`], sends the
//! queries [`Replica::take_queries`] gives it, and draws from [`Replica::world`].
//!
//! The welcome is small (see the scale rules): the text of the documents that windows show,
//! the latest messages of chats the welcome did not carry, and older pages of a chat as it
//! is scrolled back are read with queries, each asked for once at a time. A welcome forgets
//! what was asked (the queries went with the old link) and what is still missing is asked
//! for again.
//!
//! A replica made with [`Replica::replay`] travels in time: it shows the moments its
//! [`Timeline`] asks for, reads documents as they were then, and lets live events only move
//! the timeline's head.

use std::collections::{BTreeSet, HashMap};

use super::ahead::Ahead;
use super::Timeline;
use crate::app_kind::AppKind;
use crate::event::{Event, EventBody};
use crate::frame::{EphemeralBody, ErrorCode, Query, Reply, Seek, ServerFrame};
use crate::ids::{DocId, ThreadId, WindowId};
use crate::terminal::Terminal;
use crate::world::{World, WELCOME_MESSAGES};

/// Older chat messages asked for at a time.
pub const PAGE: u32 = 50;

/// What a frame changed, for the client to react to beyond redrawing.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// A welcome; `fresh` when it replaced the world with a snapshot.
    Welcome { fresh: bool },
    /// A new event, folded into the world.
    Event(Event),
    /// A new event, folded into the world, that shows nothing new: shell output drawn ahead
    /// of its commit (a client need not draw again for it).
    Confirmed(Event),
    /// A document's text arrived.
    DocLoaded(DocId),
    /// An error for no request of this client.
    Error { code: ErrorCode, message: String },
    /// Nothing a client needs to know of (streaming text, an older page, an ack, a repeat).
    Quiet,
}

#[derive(Debug, Clone, Default)]
pub struct Replica {
    world: World,
    /// Assistant text streaming in, by thread, until its message is committed.
    streaming: HashMap<ThreadId, String>,
    /// Documents asked for and not here yet.
    loading: BTreeSet<DocId>,
    /// Threads whose older page is on its way.
    paging: BTreeSet<ThreadId>,
    /// Chats shown short of their latest messages whose page was asked for on this link.
    filled: BTreeSet<ThreadId>,
    /// Queries to send.
    queries: Vec<Query>,
    /// Set when the replica shows past moments instead of following the log.
    timeline: Option<Timeline>,
    /// The connection may only watch (a read-only share).
    read_only: bool,
    /// The user's use of the model gateway, as last told.
    model_usage: Option<crate::ModelUsage>,
    /// Shell output drawn ahead of its commit.
    ahead: Ahead,
}

impl Replica {
    pub fn new() -> Self {
        Self::default()
    }

    /// A replica that shows the world as it was at `at`, then wherever its timeline goes.
    pub fn replay(at: Seek) -> Self {
        Self {
            timeline: Some(Timeline::new(at)),
            ..Self::default()
        }
    }

    /// The timeline, when the replica travels in time.
    pub fn timeline(&self) -> Option<&Timeline> {
        self.timeline.as_ref()
    }

    /// Moves through time (nothing happens when the replica follows the log).
    pub fn travel(&mut self, move_to: impl FnOnce(&mut Timeline)) {
        if let Some(timeline) = &mut self.timeline {
            move_to(timeline);
        }
    }

    /// Whether the daemon said this connection may only watch.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The user's use of the model gateway today, if the daemon told it.
    pub fn model_usage(&self) -> Option<crate::ModelUsage> {
        self.model_usage
    }

    /// Roughly the bytes this replica holds: its world and the text streaming in, as JSON.
    pub fn held_bytes(&self) -> usize {
        crate::encoded_len(&self.world) + self.streaming.values().map(String::len).sum::<usize>()
    }

    pub fn world(&self) -> &World {
        &self.world
    }

    /// The seq of the last event applied.
    pub fn head(&self) -> u64 {
        self.world.head
    }

    /// The screen to draw for shell window `id`: its committed screen, with the output not
    /// committed yet on top (see [`ahead`](super::ahead)).
    pub fn shell_screen(&self, id: WindowId) -> Option<&Terminal> {
        self.ahead
            .screen(id)
            .or_else(|| self.world.shells.get(&id).map(|shell| &shell.terminal))
    }

    /// The assistant text streaming into a thread, if a turn is answering.
    pub fn streaming(&self, thread_id: ThreadId) -> Option<&str> {
        self.streaming.get(&thread_id).map(String::as_str)
    }

    /// Applies a frame from the daemon, then asks for whatever the windows now show and is
    /// not here.
    pub fn on_frame(&mut self, frame: ServerFrame) -> Applied {
        let applied = match frame {
            ServerFrame::Welcome {
                head, read_only, ..
            } if self.timeline.is_some() => {
                self.read_only = read_only;
                self.travel(|timeline| {
                    timeline.set_head(head);
                    // A move asked on the old link (or before this one) is asked again.
                    timeline.on_lost();
                });
                // Connected; the world shown is the moment's, when it comes.
                Applied::Welcome { fresh: false }
            }
            ServerFrame::Event { event } if self.timeline.is_some() => {
                self.travel(|timeline| timeline.set_head(event.seq));
                Applied::Quiet
            }
            ServerFrame::Ephemeral { .. } if self.timeline.is_some() => Applied::Quiet,
            ServerFrame::Welcome {
                snapshot,
                read_only,
                ..
            } => {
                self.read_only = read_only;
                self.loading.clear();
                self.paging.clear();
                self.filled.clear();
                let fresh = snapshot.is_some();
                if let Some(world) = snapshot {
                    self.world = *world;
                    self.streaming.clear();
                }
                // A welcome is where the daemon's log picks up: output drawn ahead of it
                // came again in events or was never committed.
                self.ahead.clear();
                Applied::Welcome { fresh }
            }
            ServerFrame::Event { event } => self.on_event(event),
            ServerFrame::Ephemeral { body } => {
                match body {
                    EphemeralBody::ChatDelta { thread_id, text } => {
                        self.streaming.entry(thread_id).or_default().push_str(&text);
                    }
                    EphemeralBody::ModelUsage(usage) => self.model_usage = Some(usage),
                    EphemeralBody::ShellOutput {
                        window_id,
                        chunk,
                        data,
                    } => self.ahead.on_output(&self.world, window_id, chunk, data),
                    EphemeralBody::Typing { .. } | EphemeralBody::Unknown => {}
                }
                Applied::Quiet
            }
            ServerFrame::Reply { reply, .. } => self.on_reply(reply),
            ServerFrame::Error { code, message, .. } => Applied::Error { code, message },
            ServerFrame::Ack { .. } | ServerFrame::Pong { .. } => Applied::Quiet,
        };
        self.request_missing();
        applied
    }

    fn on_event(&mut self, event: Event) -> Applied {
        // A resumed stream never repeats, but a snapshot may already contain an event.
        if event.seq <= self.world.head {
            return Applied::Quiet;
        }
        self.world.apply(&event);
        let drawn_ahead = self.ahead.on_event(&self.world, &event.body);
        match &event.body {
            // The streamed text is in the message now, or the turn ended without one.
            EventBody::ChatAssistantMessage { thread_id, .. }
            | EventBody::ChatTurnCancelled { thread_id }
            | EventBody::ChatTurnFailed { thread_id, .. } => {
                self.streaming.remove(thread_id);
            }
            _ => {}
        }
        if drawn_ahead {
            Applied::Confirmed(event)
        } else {
            Applied::Event(event)
        }
    }

    fn on_reply(&mut self, reply: Reply) -> Applied {
        match reply {
            Reply::Doc { doc } => {
                let doc_id = doc.id;
                // A replay takes only the version of the moment shown (a reply for an earlier
                // move may come late).
                let held = self.world.docs.get(&doc_id).map(|held| held.version);
                if self.timeline.is_some() && held != Some(doc.version) {
                    return Applied::Quiet;
                }
                self.loading.remove(&doc_id);
                if self.world.load_doc(doc) {
                    return Applied::DocLoaded(doc_id);
                }
            }
            Reply::ThreadMessages { page } => {
                self.paging.remove(&page.thread_id);
                self.world.prepend_page(page);
            }
            Reply::Moment { moment } => {
                let Some(timeline) = &mut self.timeline else {
                    return Applied::Quiet;
                };
                if !timeline.on_moment(&moment) {
                    return Applied::Quiet;
                }
                self.world = *moment.world;
                self.streaming.clear();
                self.loading.clear();
                self.paging.clear();
                self.filled.clear();
                return Applied::Welcome { fresh: true };
            }
        }
        Applied::Quiet
    }

    /// A tick of the client's clock (about a second): a move waiting long for its moment
    /// is asked again.
    pub fn tick(&mut self) {
        self.travel(Timeline::tick);
    }

    /// Queries to send now.
    pub fn take_queries(&mut self) -> Vec<Query> {
        if let Some(query) = self.timeline.as_mut().and_then(Timeline::take_query) {
            self.queries.push(query);
        }
        std::mem::take(&mut self.queries)
    }

    /// Asks for a document's text, unless it is here or on its way.
    pub fn request_doc(&mut self, doc_id: DocId) {
        let loaded = self
            .world
            .docs
            .get(&doc_id)
            .is_some_and(|doc| doc.is_loaded());
        if !loaded && self.loading.insert(doc_id) {
            // A past moment shows the text of its own version.
            let version = self.world.docs.get(&doc_id).map(|doc| doc.version);
            self.queries.push(match (&self.timeline, version) {
                (Some(_), Some(version)) => Query::DocAt {
                    doc_id,
                    version,
                    seq: self.world.head,
                },
                _ => Query::Doc { doc_id },
            });
        }
    }

    /// Asks for the page of `thread_id` before the messages held, if there is one and it is
    /// not on its way.
    pub fn request_page(&mut self, thread_id: ThreadId) {
        let Some(thread) = self.world.chats.get(&thread_id) else {
            return;
        };
        if thread.older() == 0 || self.paging.contains(&thread_id) {
            return;
        }
        self.paging.insert(thread_id);
        self.queries.push(Query::ThreadMessages {
            thread_id,
            before: Some(thread.page_before()),
            limit: PAGE,
        });
    }

    /// Whether an older page of `thread_id` is on its way.
    pub fn is_paging(&self, thread_id: ThreadId) -> bool {
        self.paging.contains(&thread_id)
    }

    /// Asks for the text of every document a window shows that is not here, and for the
    /// page before the messages held of every chat window that holds fewer than a welcome
    /// can (its thread was not shown when the welcome came, or its messages are long).
    fn request_missing(&mut self) {
        let short: Vec<ThreadId> = self
            .world
            .desktop
            .windows
            .values()
            .filter(|window| window.app == AppKind::Chat)
            .map(|window| ThreadId(window.id.0))
            .filter(|thread_id| !self.filled.contains(thread_id))
            .filter(|thread_id| {
                self.world.chats.get(thread_id).is_some_and(|thread| {
                    thread.older() > 0 && thread.messages.len() < WELCOME_MESSAGES
                })
            })
            .collect();
        for thread_id in short {
            self.filled.insert(thread_id);
            self.request_page(thread_id);
        }
        let missing: Vec<DocId> = self
            .world
            .desktop
            .windows
            .values()
            .filter_map(|window| window.doc_id)
            .collect();
        for doc_id in missing {
            self.request_doc(doc_id);
        }
    }

    /// A query could not be sent: it is no longer on its way, so what needs it asks again.
    pub fn query_not_sent(&mut self, query: Query) {
        match query {
            Query::Doc { doc_id } | Query::DocAt { doc_id, .. } => {
                self.loading.remove(&doc_id);
            }
            Query::ThreadMessages { thread_id, .. } => {
                self.paging.remove(&thread_id);
                self.filled.remove(&thread_id);
            }
            Query::Moment { .. } => self.travel(Timeline::on_lost),
        }
    }

    /// The daemon could not answer a query. A document stays marked as asked for, so it is
    /// asked again after the next welcome rather than at every frame.
    pub fn query_failed(&mut self, query: &Query) {
        match query {
            Query::ThreadMessages { thread_id, .. } => {
                self.paging.remove(thread_id);
            }
            Query::Moment { .. } => self.travel(Timeline::on_failed),
            Query::Doc { .. } | Query::DocAt { .. } => {}
        }
    }

    /// Lets go of the oldest messages of a thread holding more than `most`, keeping `keep`
    /// (they can be paged back in): a session left open for months stays small.
    pub fn let_go_of_old_messages(&mut self, thread_id: ThreadId, most: usize, keep: usize) {
        if let Some(thread) = self.world.chats.get_mut(&thread_id) {
            if thread.messages.len() > most {
                thread.trim(keep);
            }
        }
    }
}

#[cfg(test)]
mod tests;
