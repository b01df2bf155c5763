//! The terminal stream (`GET /term` on a daemon): a desktop drawn by the daemon for a
//! terminal at the far end. Binary messages carry the terminal's bytes, both ways; text
//! messages are [`TermControl`]s.

use serde::{Deserialize, Serialize};

/// Largest terminal accepted; bigger sizes are clamped.
pub const MAX_COLS: u16 = 1000;
pub const MAX_ROWS: u16 = 500;

/// Largest binary message of screen bytes a daemon sends: a big frame goes in pieces, so a
/// client holds little of it at a time (and may refuse anything larger).
pub const MAX_SCREEN_MESSAGE: usize = 64 << 10;

/// What the terminal at the far end did, as whoever carries the stream hands it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermInput {
    /// Bytes it sent: keys, mouse reports, pastes.
    Bytes(Vec<u8>),
    /// It is now this many columns and rows.
    Resize(u16, u16),
}

/// A text message on the terminal stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TermControl {
    /// From the client: its terminal is now this many columns and rows (`{"resize":[c,r]}`).
    Resize(u32, u32),
    /// From the daemon, last before it closes the stream: the desktop ended, and this is the
    /// exit status to report (`{"exit":n}`). A stream closed without it was cut.
    Exit(u32),
}

/// A terminal size as a client asked for it, clamped: zero becomes the 80x24 default, an
/// absurd size the largest.
pub fn clamp_size(cols: u32, rows: u32) -> (u16, u16) {
    let clamp = |value: u32, default: u16, max: u16| {
        if value == 0 {
            default
        } else {
            u16::try_from(value).unwrap_or(max).min(max)
        }
    };
    (clamp(cols, 80, MAX_COLS), clamp(rows, 24, MAX_ROWS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_on_the_wire() {
        let resize = serde_json::to_string(&TermControl::Resize(120, 40)).unwrap();
        assert_eq!(resize, r#"{"resize":[120,40]}"#);
        assert_eq!(
            serde_json::from_str::<TermControl>(r#"{"exit":1}"#).unwrap(),
            TermControl::Exit(1)
        );
        assert!(serde_json::from_str::<TermControl>(r#"{"resize":[1]}"#).is_err());
    }

    #[test]
    fn sizes_are_clamped_and_zero_is_the_default() {
        assert_eq!(clamp_size(0, 0), (80, 24));
        assert_eq!(clamp_size(120, 40), (120, 40));
        assert_eq!(clamp_size(100_000, u32::MAX), (MAX_COLS, MAX_ROWS));
    }
}
