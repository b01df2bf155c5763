//! Operational transformation of plain text: the basis for editing one document from several
//! clients at once. An operation walks the whole text: it retains, inserts or deletes, counted
//! in characters (Unicode scalar values). Two operations made against the same text transform
//! into a pair that leads both sides to the same result; operations that follow each other
//! compose into one.

use ropey::Rope;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One step of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpPart {
    /// Keep this many characters.
    Retain(usize),
    /// Insert this text.
    Insert(String),
    /// Remove this many characters.
    Delete(usize),
}

/// A whole-text operation, kept normalized: no empty parts, no two neighbours of one kind,
/// and an insert never directly after a delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TextOp(Vec<OpPart>);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpError {
    #[error("the operation expects a text of {expected} characters, not {actual}")]
    LengthMismatch { expected: usize, actual: usize },
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

impl TextOp {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn parts(&self) -> &[OpPart] {
        &self.0
    }

    pub fn retain(mut self, n: usize) -> Self {
        self.push_retain(n);
        self
    }

    pub fn insert(mut self, text: &str) -> Self {
        self.push_insert(text);
        self
    }

    pub fn delete(mut self, n: usize) -> Self {
        self.push_delete(n);
        self
    }

    fn push_retain(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.0.last_mut() {
            Some(OpPart::Retain(last)) => *last += n,
            _ => self.0.push(OpPart::Retain(n)),
        }
    }

    fn push_insert(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let len = self.0.len();
        match self.0.as_mut_slice() {
            [.., OpPart::Insert(last)] => last.push_str(text),
            // Insert before a trailing delete, merging with an insert before it.
            [.., OpPart::Insert(before), OpPart::Delete(_)] => before.push_str(text),
            [.., OpPart::Delete(_)] => self.0.insert(len - 1, OpPart::Insert(text.to_owned())),
            _ => self.0.push(OpPart::Insert(text.to_owned())),
        }
    }

    fn push_delete(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        match self.0.last_mut() {
            Some(OpPart::Delete(last)) => *last += n,
            _ => self.0.push(OpPart::Delete(n)),
        }
    }

    /// Characters of the text the operation applies to. (Saturating: an operation from a
    /// client claiming absurd lengths simply fits no text.)
    pub fn base_len(&self) -> usize {
        self.0
            .iter()
            .map(|part| match part {
                OpPart::Retain(n) | OpPart::Delete(n) => *n,
                OpPart::Insert(_) => 0,
            })
            .fold(0, usize::saturating_add)
    }

    /// Characters of the text it produces.
    pub fn target_len(&self) -> usize {
        self.0
            .iter()
            .map(|part| match part {
                OpPart::Retain(n) => *n,
                OpPart::Insert(text) => chars(text),
                OpPart::Delete(_) => 0,
            })
            .fold(0, usize::saturating_add)
    }

    /// The same operation in normal form (as the builder makes it): a client may send parts
    /// that are empty or out of order.
    pub fn normalized(&self) -> TextOp {
        let mut out = TextOp::new();
        for part in &self.0 {
            match part {
                OpPart::Retain(n) => out.push_retain(*n),
                OpPart::Insert(text) => out.push_insert(text),
                OpPart::Delete(n) => out.push_delete(*n),
            }
        }
        out
    }

    /// Whether it changes nothing.
    pub fn is_noop(&self) -> bool {
        self.0.iter().all(|part| matches!(part, OpPart::Retain(_)))
    }

    /// Applies the operation to `text`.
    pub fn apply(&self, text: &str) -> Result<String, OpError> {
        let actual = chars(text);
        if actual != self.base_len() {
            return Err(OpError::LengthMismatch {
                expected: self.base_len(),
                actual,
            });
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text.chars();
        for part in &self.0 {
            match part {
                OpPart::Retain(n) => out.extend(rest.by_ref().take(*n)),
                OpPart::Insert(inserted) => out.push_str(inserted),
                OpPart::Delete(n) => {
                    rest.by_ref().take(*n).for_each(drop);
                }
            }
        }
        Ok(out)
    }

    /// Applies the operation to `rope` in place: each part costs a tree walk, not a copy of
    /// the text, so an edit of a large document stays cheap.
    pub fn apply_rope(&self, rope: &mut Rope) -> Result<(), OpError> {
        let actual = rope.len_chars();
        if actual != self.base_len() {
            return Err(OpError::LengthMismatch {
                expected: self.base_len(),
                actual,
            });
        }
        let mut at = 0;
        for part in &self.0 {
            match part {
                OpPart::Retain(n) => at += n,
                OpPart::Insert(text) => {
                    rope.insert(at, text);
                    at += chars(text);
                }
                OpPart::Delete(n) => rope.remove(at..at + n),
            }
        }
        Ok(())
    }

    /// The operation that undoes this one: it applies to the text this one produced from
    /// `base` and gives `base` back.
    pub fn invert(&self, base: &Rope) -> Result<TextOp, OpError> {
        if base.len_chars() != self.base_len() {
            return Err(OpError::LengthMismatch {
                expected: self.base_len(),
                actual: base.len_chars(),
            });
        }
        let mut out = TextOp::new();
        let mut at = 0;
        for part in &self.0 {
            match part {
                OpPart::Retain(n) => {
                    out.push_retain(*n);
                    at += n;
                }
                OpPart::Insert(text) => out.push_delete(chars(text)),
                OpPart::Delete(n) => {
                    out.push_insert(&base.slice(at..at + n).to_string());
                    at += n;
                }
            }
        }
        Ok(out)
    }

    /// Replaces the characters `start..end` of a text of `len` characters with `text`.
    pub fn splice(len: usize, start: usize, end: usize, text: &str) -> TextOp {
        let end = end.clamp(start, len.max(start));
        TextOp::new()
            .retain(start)
            .delete(end - start)
            .insert(text)
            .retain(len.saturating_sub(end))
    }

    /// Where the character position `pos` of the base text ends up in the result. Text
    /// inserted exactly at `pos` lands after it: a cursor stays at the end of its own text
    /// rather than jumping over someone else's.
    pub fn transform_position(&self, pos: usize) -> usize {
        let (mut base, mut target) = (0, 0);
        for part in &self.0 {
            match part {
                OpPart::Retain(n) => {
                    if pos < base + n {
                        return target + (pos - base);
                    }
                    base += n;
                    target += n;
                }
                OpPart::Insert(text) => {
                    if pos <= base {
                        return target;
                    }
                    target += chars(text);
                }
                OpPart::Delete(n) => {
                    if pos < base + n {
                        return target;
                    }
                    base += n;
                }
            }
        }
        target + pos.saturating_sub(base)
    }

    /// `(a', b')` for `a` and `b` made against the same text: `b'` applies after `a` and `a'`
    /// after `b`, and both orders give the same text. Where both insert at one place, `a`'s
    /// text comes first.
    pub fn transform(a: &TextOp, b: &TextOp) -> Result<(TextOp, TextOp), OpError> {
        if a.base_len() != b.base_len() {
            return Err(OpError::LengthMismatch {
                expected: a.base_len(),
                actual: b.base_len(),
            });
        }
        let (mut a_out, mut b_out) = (TextOp::new(), TextOp::new());
        let mut xs = Parts::new(&a.0);
        let mut ys = Parts::new(&b.0);
        loop {
            match (xs.peek(), ys.peek()) {
                (None, None) => break,
                (Some(Part::Insert(text)), _) => {
                    b_out.push_retain(chars(text));
                    a_out.push_insert(text);
                    xs.take_insert();
                }
                (_, Some(Part::Insert(text))) => {
                    a_out.push_retain(chars(text));
                    b_out.push_insert(text);
                    ys.take_insert();
                }
                (Some(x), Some(y)) => {
                    let n = x.len().min(y.len());
                    match (x, y) {
                        (Part::Retain(_), Part::Retain(_)) => {
                            a_out.push_retain(n);
                            b_out.push_retain(n);
                        }
                        (Part::Delete(_), Part::Retain(_)) => a_out.push_delete(n),
                        (Part::Retain(_), Part::Delete(_)) => b_out.push_delete(n),
                        // Both deleted it: nothing left to do on either side.
                        (Part::Delete(_), Part::Delete(_)) => {}
                        // Inserts were taken before this match.
                        (Part::Insert(_), _) | (_, Part::Insert(_)) => {}
                    }
                    xs.advance(n);
                    ys.advance(n);
                }
                // Equal base lengths make this impossible; stop rather than loop.
                (None, Some(_)) | (Some(_), None) => break,
            }
        }
        Ok((a_out, b_out))
    }

    /// One operation with the effect of `self` followed by `next`.
    pub fn compose(&self, next: &TextOp) -> Result<TextOp, OpError> {
        if self.target_len() != next.base_len() {
            return Err(OpError::LengthMismatch {
                expected: next.base_len(),
                actual: self.target_len(),
            });
        }
        let mut out = TextOp::new();
        let mut xs = Parts::new(&self.0);
        let mut ys = Parts::new(&next.0);
        loop {
            match (xs.peek(), ys.peek()) {
                (None, None) => break,
                (Some(Part::Delete(n)), _) => {
                    out.push_delete(n);
                    xs.advance(n);
                }
                (_, Some(Part::Insert(text))) => {
                    out.push_insert(text);
                    ys.take_insert();
                }
                (Some(x), Some(y)) => {
                    let n = x.len().min(y.len());
                    match (x, y) {
                        (Part::Retain(_), Part::Retain(_)) => out.push_retain(n),
                        (Part::Retain(_), Part::Delete(_)) => out.push_delete(n),
                        (Part::Insert(text), Part::Retain(_)) => {
                            let kept: String = text.chars().take(n).collect();
                            out.push_insert(&kept);
                        }
                        // Inserted, then deleted: nothing.
                        (Part::Insert(_), Part::Delete(_)) => {}
                        // Deletes of `self` and inserts of `next` were taken before this match.
                        (Part::Delete(_), _) | (_, Part::Insert(_)) => {}
                    }
                    xs.advance(n);
                    ys.advance(n);
                }
                (None, Some(_)) | (Some(_), None) => break,
            }
        }
        Ok(out)
    }
}

/// The remaining part at the head of an operation being walked.
#[derive(Clone, Copy)]
enum Part<'a> {
    Retain(usize),
    Insert(&'a str),
    Delete(usize),
}

impl Part<'_> {
    fn len(&self) -> usize {
        match self {
            Part::Retain(n) | Part::Delete(n) => *n,
            Part::Insert(text) => chars(text),
        }
    }
}

/// Walks an operation's parts, letting the caller consume them partially.
struct Parts<'a> {
    parts: &'a [OpPart],
    index: usize,
    /// How much of the current part is used up (chars).
    used: usize,
}

impl<'a> Parts<'a> {
    fn new(parts: &'a [OpPart]) -> Self {
        Self {
            parts,
            index: 0,
            used: 0,
        }
    }

    fn peek(&self) -> Option<Part<'a>> {
        let part = self.parts.get(self.index)?;
        Some(match part {
            OpPart::Retain(n) => Part::Retain(n - self.used),
            OpPart::Delete(n) => Part::Delete(n - self.used),
            OpPart::Insert(text) => {
                let skip: usize = text.chars().take(self.used).map(char::len_utf8).sum();
                Part::Insert(&text[skip..])
            }
        })
    }

    fn advance(&mut self, n: usize) {
        self.used += n;
        if let Some(part) = self.peek() {
            if part.len() == 0 {
                self.index += 1;
                self.used = 0;
            }
        }
    }

    fn take_insert(&mut self) {
        self.index += 1;
        self.used = 0;
    }
}

#[cfg(test)]
mod tests;
