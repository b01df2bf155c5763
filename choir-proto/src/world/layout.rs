//! Split layouts (tmux's `%` and `"`): windows that share an area side by side or stacked,
//! each split in halves. The layout is desktop state, so every client and every replay shows
//! it; its windows' geometry follows from it and the area it was last fitted to, and is
//! recorded as the usual `window.moved` / `window.resized` events.

use serde::{Deserialize, Serialize};

use crate::grid::{Rect, MIN_WINDOW_H, MIN_WINDOW_W};
use crate::ids::WindowId;

/// Windows tiling an area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The area it fills: the desktop area of the client that last split or fitted it.
    pub area: Rect,
    pub root: Pane,
}

/// A part of a layout: one window, or two parts in halves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pane {
    Window(WindowId),
    Split {
        /// One above the other (`"`), else side by side (`%`).
        stacked: bool,
        first: Box<Pane>,
        second: Box<Pane>,
    },
}

impl Pane {
    /// Whether `id` is in this part.
    pub fn holds(&self, id: WindowId) -> bool {
        match self {
            Pane::Window(window) => *window == id,
            Pane::Split { first, second, .. } => first.holds(id) || second.holds(id),
        }
    }

    /// This part with `id`'s window split: it keeps the first half, `new` gets the second.
    fn split(self, id: WindowId, new: WindowId, stacked: bool) -> Pane {
        match self {
            Pane::Window(window) if window == id => Pane::Split {
                stacked,
                first: Box::new(Pane::Window(window)),
                second: Box::new(Pane::Window(new)),
            },
            Pane::Split {
                stacked: s,
                first,
                second,
            } => Pane::Split {
                stacked: s,
                first: Box::new(first.split(id, new, stacked)),
                second: Box::new(second.split(id, new, stacked)),
            },
            other => other,
        }
    }

    /// This part without `id`'s window (its sibling takes the whole split); `None` when
    /// nothing is left.
    fn without(self, id: WindowId) -> Option<Pane> {
        match self {
            Pane::Window(window) if window == id => None,
            Pane::Split {
                stacked,
                first,
                second,
            } => match (first.without(id), second.without(id)) {
                (Some(first), Some(second)) => Some(Pane::Split {
                    stacked,
                    first: Box::new(first),
                    second: Box::new(second),
                }),
                (Some(one), None) | (None, Some(one)) => Some(one),
                (None, None) => None,
            },
            other => Some(other),
        }
    }

    /// Each window's rectangle when this part fills `rect`.
    fn place(&self, rect: Rect, out: &mut Vec<(WindowId, Rect)>) {
        match self {
            Pane::Window(window) => out.push((*window, rect)),
            Pane::Split {
                stacked,
                first,
                second,
            } => {
                let (a, b) = halves(rect, *stacked);
                first.place(a, out);
                second.place(b, out);
            }
        }
    }
}

/// `rect` cut in two, side by side or stacked (the first half gets the odd cell).
fn halves(rect: Rect, stacked: bool) -> (Rect, Rect) {
    if stacked {
        let top = rect.h - rect.h / 2;
        (
            Rect::new(rect.x, rect.y, rect.w, top),
            Rect::new(rect.x, rect.y + top, rect.w, rect.h - top),
        )
    } else {
        let left = rect.w - rect.w / 2;
        (
            Rect::new(rect.x, rect.y, left, rect.h),
            Rect::new(rect.x + left, rect.y, rect.w - left, rect.h),
        )
    }
}

impl Layout {
    /// A layout of one window filling `area`.
    pub fn single(area: Rect, window: WindowId) -> Self {
        Self {
            area,
            root: Pane::Window(window),
        }
    }

    pub fn holds(&self, id: WindowId) -> bool {
        self.root.holds(id)
    }

    /// Each window's rectangle, in the order the layout has them.
    pub fn rects(&self) -> Vec<(WindowId, Rect)> {
        let mut out = Vec::new();
        self.root.place(self.area, &mut out);
        out
    }

    /// Whether every window gets at least the smallest window size.
    pub fn fits(&self) -> bool {
        self.rects()
            .iter()
            .all(|(_, rect)| rect.w >= MIN_WINDOW_W && rect.h >= MIN_WINDOW_H)
    }

    /// The layout with `id`'s window split, `new` in its second half.
    pub fn split(self, id: WindowId, new: WindowId, stacked: bool) -> Layout {
        Layout {
            area: self.area,
            root: self.root.split(id, new, stacked),
        }
    }

    /// The layout without `id`'s window; `None` when it was the last one.
    pub fn without(self, id: WindowId) -> Option<Layout> {
        let area = self.area;
        let root = self.root.without(id)?;
        // One window left is no longer a layout: it floats where it is.
        matches!(root, Pane::Split { .. }).then_some(Layout { area, root })
    }

    /// The same layout filling `area`.
    pub fn fitted(self, area: Rect) -> Layout {
        Layout { area, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const W: fn(u64) -> WindowId = WindowId;

    #[test]
    fn splits_halve_side_by_side_and_stacked() {
        let area = Rect::new(0, 0, 121, 35);
        let layout = Layout::single(area, W(1))
            .split(W(1), W(2), false)
            .split(W(2), W(3), true);
        assert_eq!(
            layout.rects(),
            [
                (W(1), Rect::new(0, 0, 61, 35)),
                (W(2), Rect::new(61, 0, 60, 18)),
                (W(3), Rect::new(61, 18, 60, 17)),
            ]
        );
        // Without 2, 3 takes the right half; without 3 as well, 1 floats alone.
        let two = layout.clone().without(W(2)).unwrap();
        assert_eq!(two.rects()[1], (W(3), Rect::new(61, 0, 60, 35)));
        assert_eq!(two.without(W(3)), None);
        // Following another screen's size.
        let fitted = layout.fitted(Rect::new(0, 0, 80, 22));
        assert_eq!(fitted.rects()[0], (W(1), Rect::new(0, 0, 40, 22)));
        assert!(fitted.fits());
        let tiny = Layout::single(Rect::new(0, 0, 20, 6), W(1)).split(W(1), W(2), false);
        assert!(!tiny.fits());
    }

    fn layout() -> impl Strategy<Value = Layout> {
        (
            proptest::collection::vec((any::<bool>(), 0usize..8), 0..7),
            20u16..300,
            8u16..100,
        )
            .prop_map(|(splits, w, h)| {
                let mut layout = Layout::single(Rect::new(3, 2, w, h), W(1));
                for (n, (stacked, at)) in splits.into_iter().enumerate() {
                    let ids: Vec<WindowId> = layout.rects().iter().map(|(id, _)| *id).collect();
                    let target = ids[at % ids.len()];
                    layout = layout.split(target, W(n as u64 + 2), stacked);
                }
                layout
            })
    }

    proptest! {
        /// The windows of a layout cover its area exactly: no overlap, no gap.
        #[test]
        fn a_layout_tiles_its_area(layout in layout()) {
            let area = layout.area;
            let rects = layout.rects();
            let cells: u32 = rects.iter().map(|(_, r)| u32::from(r.w) * u32::from(r.h)).sum();
            prop_assert_eq!(cells, u32::from(area.w) * u32::from(area.h));
            for (i, (_, a)) in rects.iter().enumerate() {
                prop_assert!(a.x >= area.x && a.y >= area.y);
                prop_assert!(a.x + a.w <= area.x + area.w && a.y + a.h <= area.y + area.h);
                for (_, b) in &rects[i + 1..] {
                    let apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
                    prop_assert!(apart, "{:?} and {:?} overlap", a, b);
                }
            }
        }
    }
}
