//! Deciding split layouts: a split, a fit to another area, and a window leaving the layout
//! (closed, moved, resized or minimized), each as the geometry events of the windows that
//! change and the layout after.

use super::{existing, validate_rect, Rejection, MAX_WINDOWS};
use crate::app_kind::AppKind;
use crate::event::EventBody;
use crate::grid::Rect;
use crate::ids::WindowId;
use crate::world::{Desktop, Layout, Window};

/// `window_id` split in halves, a new shell window in the second.
pub(super) fn split(
    desktop: &Desktop,
    window_id: WindowId,
    stacked: bool,
    area: Rect,
) -> Result<Vec<EventBody>, Rejection> {
    existing(desktop, window_id)?;
    validate_rect(area)?;
    if desktop.windows.len() >= MAX_WINDOWS {
        return Err(Rejection::TooManyWindows);
    }
    let base = match desktop.layout.clone() {
        Some(layout) if layout.holds(window_id) => layout.fitted(area),
        // A window outside the layout starts a new one (the old one's windows float).
        _ => Layout::single(area, window_id),
    };
    let new = WindowId(desktop.next_window_id);
    let layout = base.split(window_id, new, stacked);
    if !layout.fits() {
        return Err(Rejection::InvalidGeometry(format!(
            "{}×{} is too small to split {}",
            area.w,
            area.h,
            if stacked {
                "again stacked"
            } else {
                "again side by side"
            }
        )));
    }
    let mut events = Vec::new();
    let mut opened = None;
    for (id, rect) in layout.rects() {
        match desktop.window(id) {
            Some(window) => events.extend(reshape(window, rect)),
            None => {
                opened = Some(EventBody::WindowOpened {
                    window_id: new,
                    app: AppKind::Shell,
                    title: AppKind::Shell.default_title(),
                    rect,
                })
            }
        }
    }
    // The new window last: it gets the focus.
    events.extend(opened);
    events.push(EventBody::LayoutChanged {
        layout: Some(layout),
    });
    Ok(events)
}

/// The layout fitted to `area`.
pub(super) fn fit(desktop: &Desktop, area: Rect) -> Result<Vec<EventBody>, Rejection> {
    validate_rect(area)?;
    let Some(layout) = desktop.layout.clone() else {
        return Ok(Vec::new());
    };
    if layout.area == area {
        return Ok(Vec::new());
    }
    let layout = layout.fitted(area);
    if !layout.fits() {
        return Err(Rejection::InvalidGeometry(format!(
            "{}×{} is too small for the split layout",
            area.w, area.h
        )));
    }
    let mut events = placed(desktop, &layout.rects());
    events.push(EventBody::LayoutChanged {
        layout: Some(layout),
    });
    Ok(events)
}

/// What follows `window_id` leaving the layout: the others take its room (one left alone
/// takes the whole area and floats), and the layout after (not when it `closed`: closing a
/// window takes it out of the layout already). Nothing when it is not in one.
pub(super) fn leave(desktop: &Desktop, window_id: WindowId, closed: bool) -> Vec<EventBody> {
    let Some(layout) = desktop.layout.clone().filter(|l| l.holds(window_id)) else {
        return Vec::new();
    };
    let area = layout.area;
    let others: Vec<WindowId> = layout
        .rects()
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| *id != window_id)
        .collect();
    let after = layout.without(window_id);
    let rects = match &after {
        Some(after) => after.rects(),
        None => others.into_iter().map(|id| (id, area)).collect(),
    };
    let mut events = placed(desktop, &rects);
    if !closed {
        events.push(EventBody::LayoutChanged { layout: after });
    }
    events
}

/// The layout is given up (the windows were tiled): they stay where they are, floating.
pub(super) fn dissolve(desktop: &Desktop) -> Option<EventBody> {
    desktop
        .layout
        .is_some()
        .then_some(EventBody::LayoutChanged { layout: None })
}

/// The events that put each window at its rectangle.
fn placed(desktop: &Desktop, rects: &[(WindowId, Rect)]) -> Vec<EventBody> {
    rects
        .iter()
        .filter_map(|(id, rect)| Some(reshape(desktop.window(*id)?, *rect)))
        .flatten()
        .collect()
}

/// The events that bring `window` to `rect` (a maximized one back to normal too).
pub(super) fn reshape(window: &Window, rect: Rect) -> Vec<EventBody> {
    let window_id = window.id;
    let mut events = Vec::new();
    if (window.rect.x, window.rect.y) != (rect.x, rect.y) || window.maximized {
        events.push(EventBody::WindowMoved {
            window_id,
            x: rect.x,
            y: rect.y,
        });
    }
    if (window.rect.w, window.rect.h) != (rect.w, rect.h) {
        events.push(EventBody::WindowResized {
            window_id,
            w: rect.w,
            h: rect.h,
        });
    }
    events
}
