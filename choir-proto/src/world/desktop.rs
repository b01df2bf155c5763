//! The desktop: windows with cell geometry, a z-order and focus.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::app_kind::AppKind;
use crate::event::EventBody;
use crate::grid::Rect;
use crate::ids::{DocId, WindowId};
use crate::world::Layout;

/// One window on the desktop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub id: WindowId,
    pub app: AppKind,
    pub title: String,
    /// Its own geometry, kept while maximized so unmaximizing restores it.
    pub rect: Rect,
    pub minimized: bool,
    pub maximized: bool,
    /// The document a writer window shows; none shows the document list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_id: Option<DocId>,
    /// While maximized: the desktop area of the client that maximized it, if it said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximized_area: Option<Rect>,
}

/// Windows, their stacking order and focus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Desktop {
    #[serde(with = "super::keyed")]
    pub windows: BTreeMap<WindowId, Window>,
    /// Bottom to top; holds every window exactly once.
    pub z_order: Vec<WindowId>,
    /// The focused window: never a minimized one.
    pub focused: Option<WindowId>,
    /// The id the next opened window gets.
    pub next_window_id: u64,
    /// Windows split side by side or stacked; the others float.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

impl Default for Desktop {
    fn default() -> Self {
        Self {
            windows: BTreeMap::new(),
            z_order: Vec::new(),
            focused: None,
            next_window_id: 1,
            layout: None,
        }
    }
}

impl Desktop {
    pub fn window(&self, id: WindowId) -> Option<&Window> {
        self.windows.get(&id)
    }

    /// Windows that are not minimized, bottom to top.
    pub fn visible(&self) -> impl DoubleEndedIterator<Item = &Window> {
        self.z_order
            .iter()
            .filter_map(|id| self.windows.get(id))
            .filter(|window| !window.minimized)
    }

    /// Applies a window event (others change nothing), as the world does.
    pub fn apply(&mut self, body: &EventBody) {
        match body {
            EventBody::WindowOpened {
                window_id,
                app,
                title,
                rect,
            } => self.open(*window_id, app, title, *rect),
            EventBody::WindowMoved { window_id, x, y } => self.edit(*window_id, |window| {
                window.rect.x = *x;
                window.rect.y = *y;
                window.maximized = false;
                window.maximized_area = None;
            }),
            EventBody::WindowResized { window_id, w, h } => self.edit(*window_id, |window| {
                window.rect.w = *w;
                window.rect.h = *h;
                window.maximized = false;
                window.maximized_area = None;
            }),
            EventBody::WindowFocused { window_id } | EventBody::WindowRestored { window_id } => {
                self.raise(*window_id)
            }
            EventBody::WindowMinimized { window_id } => {
                self.edit(*window_id, |window| window.minimized = true);
                if self.focused == Some(*window_id) {
                    self.focus_top_visible();
                }
            }
            EventBody::WindowMaximized { window_id, area } => self.edit(*window_id, |window| {
                window.maximized = true;
                window.maximized_area = *area;
            }),
            EventBody::WindowUnmaximized { window_id } => self.edit(*window_id, |window| {
                window.maximized = false;
                window.maximized_area = None;
            }),
            EventBody::WindowClosed { window_id } => {
                self.close(*window_id);
                self.layout = self
                    .layout
                    .take()
                    .and_then(|layout| layout.without(*window_id));
            }
            EventBody::LayoutChanged { layout } => self.layout = layout.clone(),
            _ => {}
        }
    }

    fn open(&mut self, id: WindowId, app: &AppKind, title: &str, rect: Rect) {
        self.next_window_id = self.next_window_id.max(id.0.saturating_add(1));
        if self.windows.contains_key(&id) {
            return;
        }
        self.windows.insert(
            id,
            Window {
                id,
                app: app.clone(),
                title: title.to_owned(),
                rect,
                minimized: false,
                maximized: false,
                doc_id: None,
                maximized_area: None,
            },
        );
        self.z_order.push(id);
        self.focused = Some(id);
    }

    pub(super) fn show_doc(&mut self, id: WindowId, doc_id: Option<DocId>) {
        self.edit(id, |window| window.doc_id = doc_id);
    }

    /// A deleted document: windows that showed it show the document list.
    pub(super) fn forget_doc(&mut self, doc_id: DocId) {
        for window in self.windows.values_mut() {
            if window.doc_id == Some(doc_id) {
                window.doc_id = None;
            }
        }
    }

    fn edit(&mut self, id: WindowId, change: impl FnOnce(&mut Window)) {
        if let Some(window) = self.windows.get_mut(&id) {
            change(window);
        }
    }

    /// Shows (if minimized), raises and focuses a window.
    fn raise(&mut self, id: WindowId) {
        let Some(window) = self.windows.get_mut(&id) else {
            return;
        };
        window.minimized = false;
        self.z_order.retain(|other| *other != id);
        self.z_order.push(id);
        self.focused = Some(id);
    }

    fn close(&mut self, id: WindowId) {
        if self.windows.remove(&id).is_none() {
            return;
        }
        self.z_order.retain(|other| *other != id);
        if self.focused == Some(id) {
            self.focus_top_visible();
        }
    }

    fn focus_top_visible(&mut self) {
        let top = self.visible().next_back().map(|window| window.id);
        self.focused = top;
    }
}
