//! A document's text as one client holds it: the committed text plus this client's edits
//! not yet confirmed, kept in step by [`DocSync`]. The editor around it (cursor, selection,
//! undo; a terminal widget or a browser text area) moves its positions over
//! [`Merged::remote`] when others' edits arrive.

use crate::command::Command;
use crate::doc_sync::DocSync;
use crate::ids::DocId;
use crate::text_op::{OpError, TextOp};
use crate::world::Doc;
use crate::Rope;

/// What came of a committed edit arriving.
#[derive(Debug, Default, PartialEq)]
pub struct Merged {
    /// Someone else's edit, transformed over ours and already applied to the text: move
    /// positions into the text over it.
    pub remote: Option<TextOp>,
    /// Send this next (edits that waited for the one just confirmed).
    pub send: Option<Command>,
}

#[derive(Debug, Clone)]
pub struct DocText {
    text: Rope,
    sync: DocSync,
}

impl DocText {
    /// The committed text of `doc`, if it is loaded; `tag` names this client's edits (unique
    /// per client and editor).
    pub fn open(doc: &Doc, tag: impl Into<String>) -> Option<Self> {
        Some(Self {
            text: doc.content.clone()?,
            sync: DocSync::new(doc.id, doc.version, tag),
        })
    }

    pub fn doc_id(&self) -> DocId {
        self.sync.doc_id()
    }

    /// The last committed version seen.
    pub fn version(&self) -> u64 {
        self.sync.version()
    }

    /// The text with this client's unconfirmed edits.
    pub fn text(&self) -> &Rope {
        &self.text
    }

    /// Every local edit is committed.
    pub fn is_saved(&self) -> bool {
        self.sync.is_saved()
    }

    /// This client changes the text by `op` (made against [`DocText::text`]). Returns the
    /// command to send now, if no other edit is in flight.
    pub fn edit(&mut self, op: TextOp) -> Result<Option<Command>, OpError> {
        let mut text = self.text.clone();
        op.apply_rope(&mut text)?;
        let send = self.sync.local(op)?;
        self.text = text;
        Ok(send)
    }

    /// Replaces the chars `start..end` with `inserted`, as one edit.
    pub fn splice(
        &mut self,
        start: usize,
        end: usize,
        inserted: &str,
    ) -> Result<Option<Command>, OpError> {
        self.edit(TextOp::splice(self.text.len_chars(), start, end, inserted))
    }

    /// A committed `doc.edited` of this document arrived from the log.
    pub fn committed(
        &mut self,
        version: u64,
        op: &TextOp,
        edit_id: Option<&str>,
    ) -> Result<Merged, OpError> {
        let synced = self.sync.committed(version, op, edit_id)?;
        let remote = match synced.apply {
            Some(theirs) => {
                theirs.apply_rope(&mut self.text)?;
                Some(theirs)
            }
            None => None,
        };
        Ok(Merged {
            remote,
            send: synced.send,
        })
    }

    /// The edit in flight again, for a new connection (the daemon skips it if it was
    /// committed after all).
    pub fn resend(&self) -> Option<Command> {
        self.sync.resend()
    }

    /// The daemon refused this client's edit: starts over from the committed `doc` (whose text
    /// must be loaded). Returns the text as it was here, so the caller can keep it.
    pub fn refused(&mut self, doc: &Doc) -> String {
        let lost = self.text.to_string();
        self.sync.reset(doc.version);
        self.text = doc.content.clone().unwrap_or_default();
        lost
    }
}

#[cfg(test)]
mod tests;
