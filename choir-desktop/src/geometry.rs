//! Where a window lands on one client's screen, and where a move or a resize may take it:
//! one set of limits for the keyboard and the mouse, in the terminal and the browser.

use choir_proto::{
    Command, Desktop, Rect, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W,
};

/// The smallest free space a new window is given; with less, it is cascaded over the others.
const MIN_FREE: (u16, u16) = (24, 8);

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

/// What a client whose desktop area became `area` asks: the split layout fitted to it, if
/// there is one fitted to another.
pub fn fit_layout(desktop: &Desktop, area: Rect) -> Option<Command> {
    let layout = desktop.layout.as_ref()?;
    (layout.area != area).then_some(Command::FitLayout { area })
}

/// Where a new window goes on this client's screen: the largest rectangle of `area` no
/// visible window covers, as shared geometry (relative to the area); `None` when no free
/// space is big enough (the daemon then cascades it).
pub fn free_space(desktop: &Desktop, area: Rect) -> Option<Rect> {
    let (w, h) = (usize::from(area.w), usize::from(area.h));
    if w == 0 || h == 0 {
        return None;
    }
    let mut taken = vec![false; w * h];
    for window in desktop.visible() {
        let at = placed(
            window.rect,
            window.maximized,
            Rect::new(0, 0, area.w, area.h),
        );
        for y in at.y..at.y + at.h {
            let row = usize::from(y) * w;
            taken[row + usize::from(at.x)..row + usize::from(at.x + at.w)].fill(true);
        }
    }
    // The largest rectangle of free cells: for each row, the free cells above each column
    // make a histogram whose largest rectangle a stack finds.
    let mut heights = vec![0usize; w];
    let mut best = (0usize, Rect::new(0, 0, 0, 0));
    for y in 0..h {
        for x in 0..w {
            heights[x] = if taken[y * w + x] { 0 } else { heights[x] + 1 };
        }
        let mut stack: Vec<usize> = Vec::new();
        for x in 0..=w {
            let height = if x < w { heights[x] } else { 0 };
            while let Some(&top) = stack.last() {
                if heights[top] < height {
                    break;
                }
                stack.pop();
                let left = stack.last().map_or(0, |&l| l + 1);
                let (rw, rh) = (x - left, heights[top]);
                if rw * rh > best.0 {
                    let rect = Rect::new(left as u16, (y + 1 - rh) as u16, rw as u16, rh as u16);
                    best = (rw * rh, rect);
                }
            }
            stack.push(x);
        }
    }
    let rect = best.1;
    (rect.w >= MIN_FREE.0 && rect.h >= MIN_FREE.1).then_some(rect)
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::{AppKind, EventBody, WindowId};
    use proptest::prelude::*;

    fn desktop_with(rects: &[Rect]) -> Desktop {
        let mut desktop = Desktop::default();
        for (i, rect) in rects.iter().enumerate() {
            desktop.apply(&EventBody::WindowOpened {
                window_id: WindowId(i as u64 + 1),
                app: AppKind::Shell,
                title: "w".into(),
                rect: *rect,
            });
        }
        desktop
    }

    #[test]
    fn a_new_window_takes_the_largest_free_space() {
        let area = Rect::new(0, 0, 120, 33);
        assert_eq!(free_space(&desktop_with(&[]), area), Some(area));
        let left = desktop_with(&[Rect::new(0, 0, 60, 33)]);
        assert_eq!(free_space(&left, area), Some(Rect::new(60, 0, 60, 33)));
        let corner = desktop_with(&[Rect::new(0, 0, 60, 16)]);
        assert_eq!(free_space(&corner, area), Some(Rect::new(0, 16, 120, 17)));
        // No room worth the name: the daemon cascades it.
        let full = desktop_with(&[Rect::new(0, 0, 110, 33)]);
        assert_eq!(free_space(&full, area), None);
    }

    proptest! {
        /// The free space is inside the area and overlaps no visible window.
        #[test]
        fn free_space_is_free(
            rects in proptest::collection::vec((0u16..100, 0u16..30, 12u16..60, 4u16..20), 0..6),
        ) {
            let area = Rect::new(0, 0, 100, 30);
            let rects: Vec<Rect> = rects.into_iter().map(|(x, y, w, h)| Rect::new(x, y, w, h)).collect();
            let desktop = desktop_with(&rects);
            if let Some(free) = free_space(&desktop, area) {
                prop_assert!(free.x + free.w <= area.w && free.y + free.h <= area.h);
                for window in desktop.visible() {
                    let at = placed(window.rect, false, area);
                    let apart = at.x + at.w <= free.x || free.x + free.w <= at.x
                        || at.y + at.h <= free.y || free.y + free.h <= at.y;
                    prop_assert!(apart, "{:?} overlaps {:?}", free, at);
                }
            }
        }
    }

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
