//! The character-cell grid every client draws windows on, and the limits of a window on it.

use serde::{Deserialize, Serialize};

/// Smallest window width in cells (borders included).
pub const MIN_WINDOW_W: u16 = 12;
/// Smallest window height in cells (borders included).
pub const MIN_WINDOW_H: u16 = 4;
/// Largest window width or height in cells.
pub const MAX_WINDOW_SIZE: u16 = 1000;
/// Largest x or y of a window's top-left corner.
pub const MAX_WINDOW_COORD: u16 = 2000;

/// A rectangle in terminal cells. Every client draws the same grid; a client whose screen is
/// smaller clamps windows while drawing, never in the shared state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

impl Rect {
    pub const fn new(x: u16, y: u16, w: u16, h: u16) -> Self {
        Self { x, y, w, h }
    }
}
