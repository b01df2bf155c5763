//! Moving and resizing a window with the pointer: whole cells from where the drag began,
//! within the limits every client keeps (`choir_desktop::geometry`), and the one command that
//! makes it stick.

use choir_desktop::geometry::{self, Edges, Reshape};
use choir_proto::{Command, Rect, WindowId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DragKind {
    Move,
    Resize,
}

/// A pointer drag of a window's title bar or resize handle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drag {
    pub window: WindowId,
    pub kind: DragKind,
    /// The pointer (CSS px) and the window's geometry when the drag began.
    pub from: (f64, f64),
    pub start: Rect,
    /// The geometry shown now.
    pub now: Rect,
}

impl Drag {
    /// The geometry with the pointer at `(x, y)`: whole cells from where it began, within
    /// the limits every client keeps (`choir_desktop::geometry`).
    pub fn moved_to(&self, x: f64, y: f64, cell_w: f64, cell_h: f64) -> Rect {
        let dx = ((x - self.from.0) / cell_w).round() as i32;
        let dy = ((y - self.from.1) / cell_h).round() as i32;
        let reshape = match self.kind {
            DragKind::Move => Reshape::Move,
            DragKind::Resize => Reshape::Resize(Edges::BOTTOM_RIGHT),
        };
        geometry::reshaped(self.start, reshape, dx, dy)
    }

    /// The command that makes the drag stick, if it changed anything.
    pub fn command(&self) -> Option<Command> {
        match self.kind {
            DragKind::Move if (self.now.x, self.now.y) != (self.start.x, self.start.y) => {
                Some(Command::MoveWindow {
                    window_id: self.window,
                    x: self.now.x,
                    y: self.now.y,
                })
            }
            DragKind::Resize if (self.now.w, self.now.h) != (self.start.w, self.start.h) => {
                Some(Command::ResizeWindow {
                    window_id: self.window,
                    w: self.now.w,
                    h: self.now.h,
                })
            }
            _ => None,
        }
    }
}
