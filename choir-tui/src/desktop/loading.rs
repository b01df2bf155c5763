//! What the desktop reads beyond its welcome: the text of the documents its writer windows
//! show, the latest messages of chats it shows that the welcome did not carry, and older
//! pages of a chat as it is scrolled back. Each is asked for once at a time;
//! a welcome forgets what was asked (the queries went with the old link) and what is still
//! missing is asked for again.

use choir_proto::{AppKind, DocId, Query, Reply, ThreadId, WELCOME_MESSAGES};

use super::{Desktop, PAGE};

impl Desktop {
    /// Queries for the host to send.
    pub fn take_queries(&mut self) -> Vec<Query> {
        std::mem::take(&mut self.queries)
    }

    /// Asks for a document's text, unless it is on its way.
    pub(super) fn request_doc(&mut self, doc_id: DocId) {
        if self.loading.insert(doc_id) {
            self.queries.push(Query::Doc { doc_id });
        }
    }

    /// Asks for the page of `thread_id` before the messages held, if there is one and it is
    /// not on its way.
    pub(super) fn request_page(&mut self, thread_id: ThreadId) {
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

    /// Asks for the text of every document a window shows that is not here, and for the
    /// page before the messages held of every chat window that holds fewer than a welcome
    /// can (its thread was not shown when the welcome came, or its messages are long).
    pub(super) fn request_missing(&mut self) {
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
            .filter(|doc_id| {
                self.world
                    .docs
                    .get(doc_id)
                    .is_some_and(|doc| !doc.is_loaded())
            })
            .collect();
        for doc_id in missing {
            self.request_doc(doc_id);
        }
    }

    pub(super) fn on_reply(&mut self, reply: Reply) {
        match reply {
            Reply::Doc { doc } => {
                let doc_id = doc.id;
                self.loading.remove(&doc_id);
                if self.world.load_doc(doc) {
                    self.catch_up_editors(doc_id);
                }
            }
            Reply::ThreadMessages { page } => {
                self.paging.remove(&page.thread_id);
                self.world.prepend_page(page);
            }
        }
    }

    /// A query could not be sent: it is no longer on its way, so what needs it asks again.
    pub fn on_query_not_sent(&mut self, query: Query) {
        match query {
            Query::Doc { doc_id } => {
                self.loading.remove(&doc_id);
            }
            Query::ThreadMessages { thread_id, .. } => {
                self.paging.remove(&thread_id);
                self.filled.remove(&thread_id);
            }
        }
    }

    /// The daemon could not answer a query. A document stays marked as asked for, so it is
    /// asked again after the next welcome rather than at every frame.
    pub fn on_query_failed(&mut self, query: Query, message: &str) {
        match query {
            Query::Doc { .. } => {}
            Query::ThreadMessages { thread_id, .. } => {
                self.paging.remove(&thread_id);
            }
        }
        self.notify(format!("could not load: {message}"), true);
    }
}
