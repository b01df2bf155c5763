//! Validation of commands against the current state: `decide` may refuse, `apply` never does.

use thiserror::Error;

use crate::command::Command;
use crate::event::EventBody;
use crate::frame::ErrorCode;
use crate::ids::WindowId;
use crate::world::{
    Desktop, Rect, World, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W,
};

/// Most windows one desktop may hold.
pub const MAX_WINDOWS: usize = 256;
/// Longest window title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("no window with id {0}")]
    UnknownWindow(WindowId),
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    #[error("title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("the desktop already holds {MAX_WINDOWS} windows")]
    TooManyWindows,
}

impl Rejection {
    /// The stable wire code for this rejection.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::UnknownWindow(_) => ErrorCode::NotFound,
            Rejection::InvalidGeometry(_) | Rejection::TitleTooLong | Rejection::TooManyWindows => {
                ErrorCode::InvalidCommand
            }
        }
    }
}

/// Decides which events `command` produces given `world`. An empty list means the command is
/// valid but changes nothing (focusing the focused window, moving a window where it is).
pub fn decide(world: &World, command: &Command) -> Result<Vec<EventBody>, Rejection> {
    let desktop = &world.desktop;
    match command {
        Command::OpenWindow { app, title, rect } => {
            if desktop.windows.len() >= MAX_WINDOWS {
                return Err(Rejection::TooManyWindows);
            }
            let title = title.clone().unwrap_or_else(|| app.default_title());
            if title.chars().count() > MAX_TITLE_CHARS {
                return Err(Rejection::TitleTooLong);
            }
            let rect = match rect {
                Some(rect) => validate_rect(*rect)?,
                None => cascade(desktop),
            };
            Ok(vec![EventBody::WindowOpened {
                window_id: WindowId(desktop.next_window_id),
                app: app.clone(),
                title,
                rect,
            }])
        }
        Command::MoveWindow { window_id, x, y } => {
            let window = existing(desktop, *window_id)?;
            validate_position(*x, *y)?;
            let unchanged = window.rect.x == *x && window.rect.y == *y && !window.maximized;
            Ok(when(!unchanged, || EventBody::WindowMoved {
                window_id: *window_id,
                x: *x,
                y: *y,
            }))
        }
        Command::ResizeWindow { window_id, w, h } => {
            let window = existing(desktop, *window_id)?;
            validate_size(*w, *h)?;
            let unchanged = window.rect.w == *w && window.rect.h == *h && !window.maximized;
            Ok(when(!unchanged, || EventBody::WindowResized {
                window_id: *window_id,
                w: *w,
                h: *h,
            }))
        }
        Command::FocusWindow { window_id } => {
            let window = existing(desktop, *window_id)?;
            let window_id = *window_id;
            if window.minimized {
                return Ok(vec![EventBody::WindowRestored { window_id }]);
            }
            let on_top = desktop.z_order.last() == Some(&window_id);
            let unchanged = on_top && desktop.focused == Some(window_id);
            Ok(when(!unchanged, || EventBody::WindowFocused { window_id }))
        }
        Command::MinimizeWindow { window_id } => {
            let window = existing(desktop, *window_id)?;
            Ok(when(!window.minimized, || EventBody::WindowMinimized {
                window_id: *window_id,
            }))
        }
        Command::RestoreWindow { window_id } => {
            let window = existing(desktop, *window_id)?;
            let window_id = *window_id;
            Ok(if window.minimized {
                vec![EventBody::WindowRestored { window_id }]
            } else if window.maximized {
                vec![EventBody::WindowUnmaximized { window_id }]
            } else {
                Vec::new()
            })
        }
        Command::ToggleMaximize { window_id } => {
            let window = existing(desktop, *window_id)?;
            let window_id = *window_id;
            Ok(vec![if window.maximized {
                EventBody::WindowUnmaximized { window_id }
            } else {
                EventBody::WindowMaximized { window_id }
            }])
        }
        Command::CloseWindow { window_id } => {
            existing(desktop, *window_id)?;
            Ok(vec![EventBody::WindowClosed {
                window_id: *window_id,
            }])
        }
    }
}

fn when(condition: bool, event: impl FnOnce() -> EventBody) -> Vec<EventBody> {
    if condition {
        vec![event()]
    } else {
        Vec::new()
    }
}

fn existing(desktop: &Desktop, id: WindowId) -> Result<&crate::world::Window, Rejection> {
    desktop.window(id).ok_or(Rejection::UnknownWindow(id))
}

fn validate_rect(rect: Rect) -> Result<Rect, Rejection> {
    validate_position(rect.x, rect.y)?;
    validate_size(rect.w, rect.h)?;
    Ok(rect)
}

fn validate_position(x: u16, y: u16) -> Result<(), Rejection> {
    if x > MAX_WINDOW_COORD || y > MAX_WINDOW_COORD {
        return Err(Rejection::InvalidGeometry(format!(
            "position {x},{y} is beyond {MAX_WINDOW_COORD}"
        )));
    }
    Ok(())
}

fn validate_size(w: u16, h: u16) -> Result<(), Rejection> {
    let fits = (MIN_WINDOW_W..=MAX_WINDOW_SIZE).contains(&w)
        && (MIN_WINDOW_H..=MAX_WINDOW_SIZE).contains(&h);
    if !fits {
        return Err(Rejection::InvalidGeometry(format!(
            "size {w}x{h} is outside {MIN_WINDOW_W}x{MIN_WINDOW_H}..{MAX_WINDOW_SIZE}x{MAX_WINDOW_SIZE}"
        )));
    }
    Ok(())
}

/// Where a new window goes when the client names no place: a cascade from the top left.
fn cascade(desktop: &Desktop) -> Rect {
    let step = (desktop.windows.len() % 8) as u16;
    Rect::new(2 + 4 * step, 1 + 2 * step, 60, 16)
}

#[cfg(test)]
mod tests;
