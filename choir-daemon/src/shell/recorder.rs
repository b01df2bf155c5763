//! Turns a shell's output into `shell.*` events: coalesced into at most one `shell.output`
//! per frame, and, beyond what the log should take (a `yes`, a `cat` of a large file),
//! replaced by a few images of the screen a second that say how much they skipped. It keeps
//! its own emulator, fed with every byte, so each image is the screen as it really is.

use std::time::{Duration, Instant};

use choir_proto::terminal::{TermSize, Terminal};
use choir_proto::{EventBody, WindowId};

use crate::store::unfinished_share_token;

/// How much of a shell's output goes to the log.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Output recorded as it came, in bytes per second on average...
    pub rate: usize,
    /// ...and at most this much at once after a quiet spell.
    pub burst: usize,
    /// Output is gathered this long before it is recorded.
    pub frame: Duration,
    /// While output is skipped, an image of the screen at most this often.
    pub image_every: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate: 64 * 1024,
            burst: 256 * 1024,
            frame: Duration::from_millis(25),
            image_every: Duration::from_millis(250),
        }
    }
}

pub struct Recorder {
    window_id: WindowId,
    limits: Limits,
    terminal: Terminal,
    /// Output not recorded yet, as text (what the emulator was fed).
    pending: String,
    /// The start of a UTF-8 character cut off at the end of the last read.
    carry: Vec<u8>,
    /// Bytes that may still be recorded as they came (refilled at `limits.rate`).
    allowance: f64,
    refilled: Instant,
    /// Output is being skipped: only images go to the log.
    skipping: bool,
    /// Bytes skipped since the last image.
    skipped: u64,
    last_image: Option<Instant>,
    /// The screen must be sent whole (a program left the alternate screen: clients that
    /// started from an image do not hold the screen under it).
    image_due: bool,
    /// The output from its last ESC on while that sequence is not complete: an event ends
    /// and an image is taken only outside escape sequences, since a terminal made from an
    /// image (a client that connects later) starts outside any.
    escape_tail: String,
    /// When the recorder first saw the escape tail at a flush: a sequence left unfinished
    /// for a few frames is taken as ended, so that it cannot hold the screen back for good.
    tail_seen: Option<Instant>,
    /// The number of the last `shell.output` made (see `EventBody::ShellOutput::chunk`).
    chunks: u64,
}

impl Recorder {
    pub fn new(window_id: WindowId, size: TermSize, limits: Limits, now: Instant) -> Self {
        Self {
            window_id,
            limits,
            terminal: Terminal::new(size),
            pending: String::new(),
            carry: Vec::new(),
            allowance: limits.burst as f64,
            refilled: now,
            skipping: false,
            skipped: 0,
            last_image: None,
            image_due: false,
            escape_tail: String::new(),
            tail_seen: None,
            chunks: 0,
        }
    }

    /// A `shell.output` event of `data`, numbered.
    fn output_event(&mut self, data: String) -> EventBody {
        self.chunks += 1;
        EventBody::ShellOutput {
            window_id: self.window_id,
            data,
            chunk: self.chunks,
        }
    }

    pub fn window_id(&self) -> WindowId {
        self.window_id
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes in output as the shell wrote it. It is decoded as UTF-8 here (a character cut
    /// between reads waits for the next; bytes that are not UTF-8 become U+FFFD), so the
    /// emulator is fed exactly the text the clients will be.
    pub fn output(&mut self, bytes: &[u8]) {
        let text = self.decode(bytes);
        if text.is_empty() {
            return;
        }
        let was_alternate = self.terminal.screen().alternate_screen();
        self.terminal.feed(text.as_bytes());
        match text.rfind('\x1b') {
            Some(at) => {
                self.escape_tail.clear();
                self.escape_tail.push_str(&text[at..]);
                self.tail_seen = None;
            }
            None if !self.escape_tail.is_empty() => self.escape_tail.push_str(&text),
            None => {}
        }
        if self.escape_tail.len() > MAX_SEQUENCE || sequence_complete(self.escape_tail.as_bytes()) {
            self.escape_tail.clear();
        }
        if was_alternate && !self.terminal.screen().alternate_screen() {
            self.image_due = true;
        }
        if self.skipping {
            self.skipped += bytes.len() as u64;
        } else {
            self.pending.push_str(&text);
        }
    }

    /// Whether [`flush`](Self::flush) has anything to do (when not, the recorder can sleep
    /// until the next output).
    pub fn busy(&self) -> bool {
        !self.pending.is_empty() || self.skipping || self.image_due
    }

    /// What is left to record when the shell has ended: the output held back, and the
    /// screen if output was skipped or an image was due, whatever sequence was cut.
    pub fn finish(&mut self) -> Vec<EventBody> {
        self.escape_tail.clear();
        let mut events = Vec::new();
        if !self.skipping && !self.pending.is_empty() {
            let data = std::mem::take(&mut self.pending);
            events.push(self.output_event(data));
        }
        if self.skipping || self.image_due {
            events.push(self.screen());
        }
        self.pending.clear();
        self.skipping = false;
        self.image_due = false;
        events
    }

    /// The terminal was resized: what came before is recorded at the old size first, then
    /// the resize and the screen as it is after it (emulators that started from an image
    /// may cut a resized screen differently from one that saw all the output).
    pub fn resize(&mut self, size: TermSize, now: Instant) -> Vec<EventBody> {
        let mut events = self.flush(now);
        if size != self.terminal.size() {
            self.terminal.resize(size);
            events.push(EventBody::ShellResized {
                window_id: self.window_id,
                rows: size.rows,
                cols: size.cols,
            });
            if self.escape_tail.is_empty() {
                events.push(self.screen());
            } else {
                self.image_due = true;
            }
        }
        events
    }

    /// The screen, whole, with the bytes skipped since the last one.
    fn screen(&mut self) -> EventBody {
        let image = self.terminal.image();
        self.allowance -= image.len() as f64;
        let size = self.terminal.size();
        EventBody::ShellScreen {
            window_id: self.window_id,
            rows: size.rows,
            cols: size.cols,
            image,
            skipped: std::mem::take(&mut self.skipped),
        }
    }

    /// What to record now (called once a frame while [`busy`](Self::busy)).
    pub fn flush(&mut self, now: Instant) -> Vec<EventBody> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.allowance =
            (self.allowance + elapsed * self.limits.rate as f64).min(self.limits.burst as f64);
        // A sequence left unfinished for a few frames is taken as ended (a program that
        // wrote half of one and stopped must not hold the screen back).
        if !self.escape_tail.is_empty() {
            let seen = *self.tail_seen.get_or_insert(now);
            if now.saturating_duration_since(seen) >= self.limits.frame * STALE_FRAMES {
                self.escape_tail.clear();
                self.tail_seen = None;
            }
        }
        let mut events = Vec::new();
        if !self.skipping && !self.pending.is_empty() {
            if (self.pending.len() as f64) <= self.allowance {
                // An escape sequence not complete yet stays for the next event, and so does
                // a share token cut short (see `unfinished_share_token`).
                let escape = if self.pending.ends_with(self.escape_tail.as_str()) {
                    self.escape_tail.len()
                } else {
                    0
                };
                let held = escape.max(unfinished_share_token(&self.pending));
                let data: String = self.pending.drain(..self.pending.len() - held).collect();
                self.allowance -= data.len() as f64;
                if !data.is_empty() {
                    events.push(self.output_event(data));
                }
            } else {
                self.skipping = true;
                self.skipped += self.pending.len() as u64;
                self.pending.clear();
            }
        }
        let image_allowed = self
            .last_image
            .is_none_or(|last| now.saturating_duration_since(last) >= self.limits.image_every);
        if (self.skipping || self.image_due) && image_allowed && self.escape_tail.is_empty() {
            let screen = self.screen();
            events.push(screen);
            self.last_image = Some(now);
            self.image_due = false;
            // Back to recording output once the flood is over and the allowance is back.
            if self.skipping && self.allowance >= self.limits.burst as f64 / 2.0 {
                self.skipping = false;
            }
        }
        events
    }

    /// `bytes` as text, after the start of a character cut at the end of the last read;
    /// the start of one cut at the end of these waits for the next.
    fn decode(&mut self, bytes: &[u8]) -> String {
        let mut all = std::mem::take(&mut self.carry);
        all.extend_from_slice(bytes);
        let tail = incomplete_tail(&all);
        self.carry = all.split_off(all.len() - tail);
        match String::from_utf8(all) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        }
    }

    /// The screen, as the emulator holds it.
    #[cfg(test)]
    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }
}

/// Longest escape sequence followed; past this the output is taken to be outside one.
const MAX_SEQUENCE: usize = 4096;
/// Frames an unfinished escape sequence may hold back the screen.
const STALE_FRAMES: u32 = 4;

/// Whether `tail` (output from an ESC on) holds a whole escape sequence.
fn sequence_complete(tail: &[u8]) -> bool {
    match tail {
        [] => true,
        [_] => false,
        // CSI: parameters and intermediates, then a final byte.
        [_, b'[', rest @ ..] => rest.iter().any(|byte| (0x40..=0x7e).contains(byte)),
        // Strings (OSC, DCS, APC, PM) end with BEL or ST (ESC \, which starts a tail of
        // its own).
        [_, b']' | b'P' | b'_' | b'^', rest @ ..] => rest.contains(&0x07),
        // Character set designations take one more byte.
        [_, b'(' | b')' | b'*' | b'+' | b'#' | b'%', rest @ ..] => !rest.is_empty(),
        _ => true,
    }
}

/// How many bytes at the end of `bytes` start a UTF-8 character that is not complete.
fn incomplete_tail(bytes: &[u8]) -> usize {
    for back in 1..=3.min(bytes.len()) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 != 0b1000_0000 {
            let needs = match byte {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 1,
            };
            return if needs > back { back } else { 0 };
        }
    }
    0
}

#[cfg(test)]
mod tests;
