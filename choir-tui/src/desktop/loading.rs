//! What the desktop reads beyond its welcome goes through its [`Replica`]: the text of the
//! documents its writer windows show, the latest messages of chats it shows, and older pages
//! of a chat as it is scrolled back.
//!
//! [`Replica`]: choir_proto::client::Replica

use choir_proto::Query;

use super::Desktop;

impl Desktop {
    /// Queries for the host to send.
    pub fn take_queries(&mut self) -> Vec<Query> {
        self.replica.take_queries()
    }

    /// A query could not be sent: it is no longer on its way, so what needs it asks again.
    pub fn on_query_not_sent(&mut self, query: Query) {
        self.replica.query_not_sent(query);
    }

    /// The daemon could not answer a query. A document stays marked as asked for, so it is
    /// asked again after the next welcome rather than at every frame.
    pub fn on_query_failed(&mut self, query: Query, message: &str) {
        self.replica.query_failed(&query);
        self.notify(format!("could not load: {message}"), true);
    }
}
