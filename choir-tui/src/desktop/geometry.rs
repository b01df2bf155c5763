//! Where windows land on one client's screen, and what a cell of that screen belongs to.

use choir_proto::{Desktop as DesktopState, Rect as Cells, WindowId, MIN_WINDOW_H, MIN_WINDOW_W};
use ratatui::layout::Rect;

/// Rows at the bottom of the screen taken by the hint line and the taskbar.
pub const CHROME_ROWS: u16 = 2;

/// The part of the screen windows live in.
pub fn desktop_area(width: u16, height: u16) -> Rect {
    Rect::new(0, 0, width, height.saturating_sub(CHROME_ROWS))
}

/// A window's rectangle on this client's screen: its shared geometry clamped into `area`
/// (a small client never shrinks the layout others see), or all of `area` when maximized.
pub fn placed(rect: Cells, maximized: bool, area: Rect) -> Rect {
    if maximized {
        return area;
    }
    let w = rect.w.min(area.width);
    let h = rect.h.min(area.height);
    let x = rect.x.min(area.width.saturating_sub(w));
    let y = rect.y.min(area.height.saturating_sub(h));
    Rect::new(area.x + x, area.y + y, w, h)
}

/// The part of a window a cell is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Close,
    Maximize,
    Minimize,
    TitleBar,
    /// A border or corner, with which edges it moves.
    Edge(Edges),
    Content,
}

/// Which edges a border drag moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edges {
    pub left: bool,
    pub right: bool,
    pub top: bool,
    pub bottom: bool,
}

/// Columns of the title-bar buttons, counted from the window's right edge.
pub const CLOSE_FROM_RIGHT: u16 = 3;
pub const MAXIMIZE_FROM_RIGHT: u16 = 5;
pub const MINIMIZE_FROM_RIGHT: u16 = 7;

pub fn zone(window: Rect, x: u16, y: u16) -> Zone {
    let right = window.x + window.width.saturating_sub(1);
    let bottom = window.y + window.height.saturating_sub(1);
    let from_right = window.x + window.width - x;
    if y == window.y {
        if x == window.x {
            return Zone::Edge(Edges {
                left: true,
                top: true,
                ..Edges::default()
            });
        }
        if x == right {
            return Zone::Edge(Edges {
                right: true,
                top: true,
                ..Edges::default()
            });
        }
        return match from_right {
            CLOSE_FROM_RIGHT => Zone::Close,
            MAXIMIZE_FROM_RIGHT => Zone::Maximize,
            MINIMIZE_FROM_RIGHT => Zone::Minimize,
            _ => Zone::TitleBar,
        };
    }
    let edges = Edges {
        left: x == window.x,
        right: x == right,
        top: false,
        bottom: y == bottom,
    };
    if edges.left || edges.right || edges.bottom {
        Zone::Edge(edges)
    } else {
        Zone::Content
    }
}

/// The topmost visible window under a cell, with its placed rectangle.
pub fn window_at(state: &DesktopState, area: Rect, x: u16, y: u16) -> Option<(WindowId, Rect)> {
    state.visible().rev().find_map(|window| {
        let rect = placed(window.rect, window.maximized, area);
        let inside =
            x >= rect.x && x < rect.x + rect.width && y >= rect.y && y < rect.y + rect.height;
        inside.then_some((window.id, rect))
    })
}

/// The geometry a border drag asks for: `start` is the window's placed rectangle when the drag
/// began, `(dx, dy)` how far the pointer has moved since.
pub fn resized(start: Rect, edges: Edges, dx: i32, dy: i32) -> Cells {
    let (mut x, mut y) = (i32::from(start.x), i32::from(start.y));
    let (mut w, mut h) = (i32::from(start.width), i32::from(start.height));
    let (min_w, min_h) = (i32::from(MIN_WINDOW_W), i32::from(MIN_WINDOW_H));
    if edges.right {
        w = (w + dx).max(min_w);
    }
    if edges.bottom {
        h = (h + dy).max(min_h);
    }
    if edges.left {
        let right = x + w;
        x = (x + dx).clamp(0, right - min_w);
        w = right - x;
    }
    if edges.top {
        let bottom = y + h;
        y = (y + dy).clamp(0, bottom - min_h);
        h = bottom - y;
    }
    let cell = |v: i32| u16::try_from(v.max(0)).unwrap_or(u16::MAX);
    Cells::new(cell(x), cell(y), cell(w), cell(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_clamped_into_a_small_screen() {
        let area = Rect::new(0, 0, 80, 22);
        assert_eq!(
            placed(Cells::new(100, 30, 60, 16), false, area),
            Rect::new(20, 6, 60, 16)
        );
        assert_eq!(
            placed(Cells::new(5, 5, 200, 50), false, area),
            Rect::new(0, 0, 80, 22)
        );
        assert_eq!(placed(Cells::new(5, 5, 20, 5), true, area), area);
    }

    #[test]
    fn zones_of_a_window() {
        let w = Rect::new(10, 5, 30, 10);
        assert_eq!(
            zone(w, 10, 5),
            Zone::Edge(Edges {
                left: true,
                top: true,
                ..Edges::default()
            })
        );
        assert_eq!(zone(w, 20, 5), Zone::TitleBar);
        assert_eq!(zone(w, 37, 5), Zone::Close);
        assert_eq!(zone(w, 35, 5), Zone::Maximize);
        assert_eq!(zone(w, 33, 5), Zone::Minimize);
        assert_eq!(
            zone(w, 39, 14),
            Zone::Edge(Edges {
                right: true,
                bottom: true,
                ..Edges::default()
            })
        );
        assert_eq!(zone(w, 20, 10), Zone::Content);
    }

    #[test]
    fn border_drags_keep_the_opposite_edge_and_the_minimum_size() {
        let start = Rect::new(10, 5, 30, 10);
        let left = Edges {
            left: true,
            ..Edges::default()
        };
        assert_eq!(resized(start, left, -4, 0), Cells::new(6, 5, 34, 10));
        assert_eq!(
            resized(start, left, 100, 0),
            Cells::new(40 - MIN_WINDOW_W, 5, MIN_WINDOW_W, 10)
        );
        let corner = Edges {
            right: true,
            bottom: true,
            ..Edges::default()
        };
        assert_eq!(
            resized(start, corner, 5, -100),
            Cells::new(10, 5, 35, MIN_WINDOW_H)
        );
    }
}
