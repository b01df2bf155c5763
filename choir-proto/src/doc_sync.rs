//! One client's side of editing a document together. The client applies its own edits at
//! once and keeps at most one edit in flight; edits typed meanwhile wait, composed into one.
//! Committed edits of others are transformed over the client's unconfirmed ones before they
//! are applied locally, so the client's text always equals the committed text plus its own
//! pending edits, and converges with everyone else's once nothing is pending.

use crate::command::Command;
use crate::ids::DocId;
use crate::text_op::{OpError, TextOp};

/// Edit-level state of one open document.
#[derive(Debug, Clone)]
pub struct DocSync {
    doc_id: DocId,
    /// The last committed version seen.
    version: u64,
    /// Sent, not yet seen committed: the edit (against `version`) and its tag.
    in_flight: Option<(TextOp, String)>,
    /// Typed while an edit was in flight; applies after `in_flight`.
    waiting: Option<TextOp>,
    /// Prefix of this client's edit tags, unique per client.
    tag_prefix: String,
    next_tag: u64,
}

/// What to do after a committed edit arrived.
#[derive(Debug, Default, PartialEq)]
pub struct Synced {
    /// Apply this to the local text (someone else's edit, transformed over ours).
    pub apply: Option<TextOp>,
    /// Send this next (the edits that waited for the one just confirmed).
    pub send: Option<Command>,
}

impl DocSync {
    /// Starts from the committed `version` of a document. `tag_prefix` must be unique to this
    /// client (a random session id, say).
    pub fn new(doc_id: DocId, version: u64, tag_prefix: impl Into<String>) -> Self {
        Self {
            doc_id,
            version,
            in_flight: None,
            waiting: None,
            tag_prefix: tag_prefix.into(),
            next_tag: 0,
        }
    }

    pub fn doc_id(&self) -> DocId {
        self.doc_id
    }

    /// The last committed version this client has seen.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// True when every local edit is committed.
    pub fn is_saved(&self) -> bool {
        self.in_flight.is_none() && self.waiting.is_none()
    }

    /// The client changed its text by `op`. Returns the command to send now, if no other
    /// edit is in flight.
    pub fn local(&mut self, op: TextOp) -> Result<Option<Command>, OpError> {
        if op.is_noop() {
            return Ok(None);
        }
        if self.in_flight.is_some() {
            self.waiting = Some(match self.waiting.take() {
                Some(waiting) => waiting.compose(&op)?,
                None => op,
            });
            return Ok(None);
        }
        Ok(Some(self.send(op)))
    }

    /// A committed `doc.edited` of this document arrived from the log.
    pub fn committed(
        &mut self,
        version: u64,
        op: &TextOp,
        edit_id: Option<&str>,
    ) -> Result<Synced, OpError> {
        if version <= self.version {
            // Already seen (a resumed stream can repeat).
            return Ok(Synced::default());
        }
        self.version = version;
        let ours = matches!((&self.in_flight, edit_id), (Some((_, tag)), Some(id)) if tag == id);
        if ours {
            self.in_flight = None;
            let send = self.waiting.take().map(|op| self.send(op));
            return Ok(Synced { apply: None, send });
        }
        // Someone else's edit: it was made without ours, so ours come first in its base.
        let mut theirs = op.clone();
        if let Some((in_flight, tag)) = self.in_flight.take() {
            let (ours, next) = TextOp::transform(&in_flight, &theirs)?;
            self.in_flight = Some((ours, tag));
            theirs = next;
        }
        if let Some(waiting) = self.waiting.take() {
            let (ours, next) = TextOp::transform(&waiting, &theirs)?;
            self.waiting = Some(ours);
            theirs = next;
        }
        Ok(Synced {
            apply: Some(theirs),
            send: None,
        })
    }

    /// The edit in flight again, after a reconnect: against the latest version seen, with its
    /// old tag, so the daemon skips it if it was committed after all.
    pub fn resend(&self) -> Option<Command> {
        let (op, tag) = self.in_flight.as_ref()?;
        Some(Command::EditDoc {
            doc_id: self.doc_id,
            base_version: self.version,
            op: op.clone(),
            edit_id: Some(tag.clone()),
        })
    }

    /// Starts over from the committed `version`, dropping every unconfirmed edit: for when
    /// the daemon refused the edit in flight. The caller reloads the committed text.
    pub fn reset(&mut self, version: u64) {
        self.version = version;
        self.in_flight = None;
        self.waiting = None;
    }

    fn send(&mut self, op: TextOp) -> Command {
        let tag = format!("{}-{}", self.tag_prefix, self.next_tag);
        self.next_tag += 1;
        let command = Command::EditDoc {
            doc_id: self.doc_id,
            base_version: self.version,
            op: op.clone(),
            edit_id: Some(tag.clone()),
        };
        self.in_flight = Some((op, tag));
        command
    }
}

#[cfg(test)]
mod tests;
