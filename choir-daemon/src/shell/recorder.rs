//! Turns a shell's output into `shell.*` events: coalesced into at most one `shell.output`
//! per frame, and, beyond what the log should take (a `yes`, a `cat` of a large file),
//! replaced by a few images of the screen a second that say how much they skipped. It keeps
//! its own emulator, fed with every byte, so each image is the screen as it really is.

use std::time::{Duration, Instant};

use choir_proto::terminal::{TermSize, Terminal};
use choir_proto::{EventBody, WindowId};

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
    /// Output not recorded yet.
    pending: Vec<u8>,
    /// The start of a UTF-8 character cut off at the end of the last event.
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
    /// The output from its last ESC on: an image is taken only outside escape sequences,
    /// since a terminal made from one starts outside any.
    escape_tail: Vec<u8>,
}

impl Recorder {
    pub fn new(window_id: WindowId, size: TermSize, limits: Limits, now: Instant) -> Self {
        Self {
            window_id,
            limits,
            terminal: Terminal::new(size),
            pending: Vec::new(),
            carry: Vec::new(),
            allowance: limits.burst as f64,
            refilled: now,
            skipping: false,
            skipped: 0,
            last_image: None,
            image_due: false,
            escape_tail: Vec::new(),
        }
    }

    pub fn window_id(&self) -> WindowId {
        self.window_id
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Takes in output as the shell wrote it.
    pub fn output(&mut self, bytes: &[u8]) {
        let was_alternate = self.terminal.screen().alternate_screen();
        self.terminal.feed(bytes);
        match bytes.iter().rposition(|byte| *byte == ESC) {
            Some(at) => {
                self.escape_tail.clear();
                self.escape_tail.extend_from_slice(&bytes[at..]);
            }
            None if !self.escape_tail.is_empty() => self.escape_tail.extend_from_slice(bytes),
            None => {}
        }
        if self.escape_tail.len() > MAX_SEQUENCE || sequence_complete(&self.escape_tail) {
            self.escape_tail.clear();
        }
        if was_alternate && !self.terminal.screen().alternate_screen() {
            self.image_due = true;
        }
        if self.skipping {
            self.skipped += bytes.len() as u64;
        } else {
            self.pending.extend_from_slice(bytes);
        }
    }

    /// Whether [`flush`](Self::flush) has anything to do (when not, the recorder can sleep
    /// until the next output).
    pub fn busy(&self) -> bool {
        !self.pending.is_empty() || self.skipping || self.image_due
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
        let mut events = Vec::new();
        if !self.skipping && !self.pending.is_empty() {
            if (self.pending.len() as f64) <= self.allowance {
                self.allowance -= self.pending.len() as f64;
                let data = self.decode();
                if !data.is_empty() {
                    events.push(EventBody::ShellOutput {
                        window_id: self.window_id,
                        data,
                    });
                }
            } else {
                self.skipping = true;
                self.skipped += self.pending.len() as u64;
                self.pending.clear();
                self.carry.clear();
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

    /// The pending output as text: whole characters only (a character cut at the end waits
    /// for the next event); bytes that are not UTF-8 become U+FFFD, as the emulator shows
    /// them.
    fn decode(&mut self) -> String {
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.append(&mut self.pending);
        let complete = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(err) if err.error_len().is_none() => err.valid_up_to(),
            Err(_) => {
                // Invalid bytes somewhere: keep a cut character at the very end for later.
                let tail = incomplete_tail(&bytes);
                bytes.len() - tail
            }
        };
        self.carry = bytes.split_off(complete);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The screen, as the emulator holds it.
    #[cfg(test)]
    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }
}

const ESC: u8 = 0x1b;
/// Longest escape sequence followed; past this the output is taken to be outside one.
const MAX_SEQUENCE: usize = 4096;

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
