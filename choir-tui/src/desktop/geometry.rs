//! Where windows land on one client's screen, and what a cell of that screen belongs to.

use choir_desktop::geometry::Reshape;
use choir_proto::{Desktop as DesktopState, Rect as Cells, WindowId};
use ratatui::layout::Rect;

/// Rows at the bottom of the screen taken by the hint line and the taskbar.
pub const CHROME_ROWS: u16 = 2;

/// The part of the screen windows live in.
pub fn desktop_area(width: u16, height: u16) -> Rect {
    Rect::new(0, 0, width, height.saturating_sub(CHROME_ROWS))
}

/// A window's rectangle on this client's screen (see [`choir_desktop::geometry::placed`]).
pub fn placed(rect: Cells, maximized: bool, area: Rect) -> Rect {
    let area = Cells::new(area.x, area.y, area.width, area.height);
    let at = choir_desktop::geometry::placed(rect, maximized, area);
    Rect::new(at.x, at.y, at.w, at.h)
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

pub use choir_desktop::geometry::Edges;

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

/// The geometry a drag asks for: `start` is the window's placed rectangle when the drag
/// began, `(dx, dy)` how far the pointer has moved since; a title drag moves (`edges` none),
/// a border drag moves those edges. The limits are every client's.
pub fn dragged(start: Rect, edges: Option<Edges>, dx: i32, dy: i32) -> Cells {
    let start = Cells::new(start.x, start.y, start.width, start.height);
    let reshape = edges.map_or(Reshape::Move, Reshape::Resize);
    choir_desktop::geometry::reshaped(start, reshape, dx, dy)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
