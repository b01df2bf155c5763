//! Where a window lands on one client's screen, and where a move or a resize may take it:
//! one set of limits for the keyboard and the mouse, in the terminal and the browser.

use choir_proto::{Rect, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W};

/// A window's rectangle on this client's screen: its shared geometry clamped into `area`
/// (a small client never shrinks the layout others see), or all of `area` when maximized.
pub fn placed(rect: Rect, maximized: bool, area: Rect) -> Rect {
    if maximized {
        return area;
    }
    let w = rect.w.min(area.w);
    let h = rect.h.min(area.h);
    let x = rect.x.min(area.w.saturating_sub(w));
    let y = rect.y.min(area.h.saturating_sub(h));
    Rect::new(area.x + x, area.y + y, w, h)
}

/// Which edges of a window a drag or a resize moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edges {
    pub left: bool,
    pub right: bool,
    pub top: bool,
    pub bottom: bool,
}

impl Edges {
    /// The right and the bottom edge: what the resize keys and a corner handle move.
    pub const BOTTOM_RIGHT: Edges = Edges {
        left: false,
        right: true,
        top: false,
        bottom: true,
    };
}

/// What a move or a resize changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reshape {
    /// The whole window: a title-bar drag, the move keys.
    Move,
    /// These edges, the opposite ones staying put: a border drag, the resize keys.
    Resize(Edges),
}

/// The geometry a move or a resize by `(dx, dy)` cells asks for, from `start` (the window
/// where it began, as placed on this screen). Every client clamps alike: a window's corner
/// stays in `0..=MAX_WINDOW_COORD`, its size in `MIN_WINDOW_*..=MAX_WINDOW_SIZE`, and a
/// resize keeps the opposite edges where they were.
pub fn reshaped(start: Rect, reshape: Reshape, dx: i32, dy: i32) -> Rect {
    let (x, y) = (i32::from(start.x), i32::from(start.y));
    let (w, h) = (i32::from(start.w), i32::from(start.h));
    let coord = |v: i32| v.clamp(0, i32::from(MAX_WINDOW_COORD));
    let (x, y, w, h) = match reshape {
        Reshape::Move => (coord(x + dx), coord(y + dy), w, h),
        Reshape::Resize(edges) => {
            let (x, w) = span(x, w, dx, edges.left, edges.right, MIN_WINDOW_W);
            let (y, h) = span(y, h, dy, edges.top, edges.bottom, MIN_WINDOW_H);
            (x, y, w, h)
        }
    };
    let cell = |v: i32| u16::try_from(v.max(0)).unwrap_or(u16::MAX);
    Rect::new(cell(x), cell(y), cell(w), cell(h))
}

/// One axis of a resize: the start and length of a span whose low and/or high end moves by
/// `d`, kept between `min` and `MAX_WINDOW_SIZE` long and its start on the grid.
fn span(start: i32, len: i32, d: i32, low: bool, high: bool, min: u16) -> (i32, i32) {
    let (min, max) = (i32::from(min), i32::from(MAX_WINDOW_SIZE));
    let mut end = start + len;
    let mut start = start;
    if high {
        end = (end + d).clamp(start + min, start + max);
    }
    if low {
        start = (start + d)
            .clamp(end - max, end - min)
            .clamp(0, i32::from(MAX_WINDOW_COORD));
    }
    (start, (end - start).clamp(min, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn windows_are_clamped_into_a_small_screen() {
        let area = Rect::new(0, 0, 80, 22);
        assert_eq!(
            placed(Rect::new(100, 30, 60, 16), false, area),
            Rect::new(20, 6, 60, 16)
        );
        assert_eq!(
            placed(Rect::new(5, 5, 200, 50), false, area),
            Rect::new(0, 0, 80, 22)
        );
        assert_eq!(placed(Rect::new(5, 5, 20, 5), true, area), area);
        let below_a_bar = Rect::new(0, 1, 80, 22);
        assert_eq!(
            placed(Rect::new(0, 0, 10, 5), false, below_a_bar),
            Rect::new(0, 1, 10, 5)
        );
    }

    #[test]
    fn border_drags_keep_the_opposite_edge_and_the_minimum_size() {
        let start = Rect::new(10, 5, 30, 10);
        let left = Reshape::Resize(Edges {
            left: true,
            ..Edges::default()
        });
        assert_eq!(reshaped(start, left, -4, 0), Rect::new(6, 5, 34, 10));
        assert_eq!(
            reshaped(start, left, 100, 0),
            Rect::new(40 - MIN_WINDOW_W, 5, MIN_WINDOW_W, 10)
        );
        assert_eq!(reshaped(start, left, -100, 0), Rect::new(0, 5, 40, 10));
        let corner = Reshape::Resize(Edges::BOTTOM_RIGHT);
        assert_eq!(
            reshaped(start, corner, 5, -100),
            Rect::new(10, 5, 35, MIN_WINDOW_H)
        );
    }

    #[test]
    fn moves_stop_at_the_grids_edges() {
        let start = Rect::new(3, 2, 30, 10);
        assert_eq!(
            reshaped(start, Reshape::Move, -10, -10),
            Rect::new(0, 0, 30, 10)
        );
        assert_eq!(
            reshaped(start, Reshape::Move, 100_000, 1),
            Rect::new(MAX_WINDOW_COORD, 3, 30, 10)
        );
    }

    proptest! {
        /// Whatever the start and however far the pointer or the keys went, the geometry
        /// asked for is one the daemon accepts, and a resize leaves its fixed edges alone.
        #[test]
        fn every_reshape_stays_within_the_limits(
            x in 0..=MAX_WINDOW_COORD, y in 0..=MAX_WINDOW_COORD,
            w in MIN_WINDOW_W..=MAX_WINDOW_SIZE, h in MIN_WINDOW_H..=MAX_WINDOW_SIZE,
            dx in -20_000i32..20_000, dy in -20_000i32..20_000,
            left: bool, right: bool, top: bool, bottom: bool, moving: bool,
        ) {
            let start = Rect::new(x, y, w, h);
            let edges = Edges { left, right, top, bottom };
            let reshape = if moving { Reshape::Move } else { Reshape::Resize(edges) };
            let got = reshaped(start, reshape, dx, dy);
            prop_assert!(got.x <= MAX_WINDOW_COORD && got.y <= MAX_WINDOW_COORD, "{got:?}");
            prop_assert!((MIN_WINDOW_W..=MAX_WINDOW_SIZE).contains(&got.w), "{got:?}");
            prop_assert!((MIN_WINDOW_H..=MAX_WINDOW_SIZE).contains(&got.h), "{got:?}");
            if moving {
                prop_assert_eq!((got.w, got.h), (w, h));
            } else {
                if !left { prop_assert_eq!(got.x, x); }
                if !top { prop_assert_eq!(got.y, y); }
                if !right && !left { prop_assert_eq!(got.w, w); }
                if !bottom && !top { prop_assert_eq!(got.h, h); }
                if left && !right {
                    prop_assert_eq!(u32::from(got.x) + u32::from(got.w), u32::from(x) + u32::from(w));
                }
            }
        }
    }
}
