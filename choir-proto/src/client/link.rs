//! One connection's bookkeeping. A client makes a [`Link`] per connection from the last seq
//! it applied, sends [`Link::hello`] first, wraps its commands and queries with
//! [`Link::command`] and [`Link::query`], and passes every frame it reads through
//! [`Link::receive`], which tells it what the frame answers.

use std::collections::HashMap;

use crate::command::Command;
use crate::frame::{ClientFrame, ErrorCode, Query, ServerFrame, PROTOCOL_VERSION};
use crate::ids::DocId;

/// What a frame read from the daemon means to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// Apply it (welcome, event, ephemeral, ack, reply, or an error for no request of ours).
    Frame(ServerFrame),
    /// The daemon refused this client's edit of a document; `message` says why.
    EditRefused { doc_id: DocId, message: String },
    /// The daemon could not answer a query.
    QueryFailed { query: Query, message: String },
    /// The daemon does not know the seq resumed from: its log was replaced. Start over
    /// without resuming (the link already forgot the seq).
    LogReplaced,
    /// The daemon refused the connection (`unauthorized`, `protocol_version`).
    Refused { code: ErrorCode, message: String },
}

/// Request ids and resume bookkeeping for one connection and the next.
#[derive(Debug, Clone, Default)]
pub struct Link {
    /// The seq of the last event the client received: the next hello resumes after it.
    last_seq: Option<u64>,
    welcomed: bool,
    next_id: u64,
    /// Edits sent and not yet answered, by request id.
    edits: HashMap<u64, DocId>,
    /// Queries sent and not yet answered, by request id.
    queries: HashMap<u64, Query>,
}

impl Link {
    /// A link that has received nothing yet: its hello asks for a snapshot.
    pub fn new() -> Self {
        Self::default()
    }

    /// The seq a reconnect resumes after, if any event or snapshot arrived.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Whether the current connection got its welcome.
    pub fn is_welcomed(&self) -> bool {
        self.welcomed
    }

    /// The first frame of a new connection. Forgets the requests of the previous one: their
    /// answers went with it.
    pub fn hello(&mut self, token: Option<String>, client: &str) -> ClientFrame {
        self.welcomed = false;
        self.edits.clear();
        self.queries.clear();
        ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token,
            resume_from: self.last_seq,
            client: Some(client.to_owned()),
        }
    }

    /// The connection broke: what was asked on it is answered never.
    pub fn lost(&mut self) -> Vec<Query> {
        self.welcomed = false;
        self.edits.clear();
        self.queries.drain().map(|(_, query)| query).collect()
    }

    /// Wraps a command in a frame with a fresh id.
    pub fn command(&mut self, command: Command) -> ClientFrame {
        self.next_id += 1;
        if let Command::EditDoc { doc_id, .. } = &command {
            self.edits.insert(self.next_id, *doc_id);
        }
        ClientFrame::Command {
            id: self.next_id,
            command,
        }
    }

    /// Wraps a query in a frame with a fresh id.
    pub fn query(&mut self, query: Query) -> ClientFrame {
        self.next_id += 1;
        self.queries.insert(self.next_id, query.clone());
        ClientFrame::Query {
            id: self.next_id,
            query,
        }
    }

    /// A ping with a fresh nonce.
    pub fn ping(&mut self) -> ClientFrame {
        self.next_id += 1;
        ClientFrame::Ping {
            nonce: self.next_id,
        }
    }

    /// Takes in one frame from the daemon.
    pub fn receive(&mut self, frame: ServerFrame) -> Received {
        match frame {
            ServerFrame::Welcome {
                protocol,
                head,
                snapshot,
                read_only,
            } => {
                self.welcomed = true;
                if snapshot.is_some() {
                    self.last_seq = Some(head);
                }
                Received::Frame(ServerFrame::Welcome {
                    protocol,
                    head,
                    snapshot,
                    read_only,
                })
            }
            ServerFrame::Event { event } => {
                self.last_seq = Some(self.last_seq.map_or(event.seq, |seq| seq.max(event.seq)));
                Received::Frame(ServerFrame::Event { event })
            }
            ServerFrame::Ack { id, seqs } => {
                self.edits.remove(&id);
                Received::Frame(ServerFrame::Ack { id, seqs })
            }
            ServerFrame::Reply { id, reply } => {
                self.queries.remove(&id);
                Received::Frame(ServerFrame::Reply { id, reply })
            }
            ServerFrame::Error {
                id: Some(id),
                code,
                message,
            } => match (self.edits.remove(&id), self.queries.remove(&id)) {
                (Some(doc_id), _) => Received::EditRefused { doc_id, message },
                (None, Some(query)) => Received::QueryFailed { query, message },
                (None, None) => Received::Frame(ServerFrame::Error {
                    id: Some(id),
                    code,
                    message,
                }),
            },
            ServerFrame::Error {
                id: None,
                code: ErrorCode::ResumeBeyondHead,
                ..
            } => {
                self.last_seq = None;
                Received::LogReplaced
            }
            ServerFrame::Error {
                id: None,
                code: code @ (ErrorCode::Unauthorized | ErrorCode::ProtocolVersion),
                message,
            } if !self.welcomed => Received::Refused { code, message },
            other => Received::Frame(other),
        }
    }
}

#[cfg(test)]
mod tests;
