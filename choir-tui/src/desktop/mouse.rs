//! Mouse handling: the taskbar, window chrome, drags, and wheel scrolling.

use choir_desktop::copy_mode::Click;
use choir_proto::terminal::vt100::MouseProtocolMode;
use choir_proto::{Command, WindowId};

use super::geometry::{self, Zone};
use super::render::{launcher_first, launcher_rect, taskbar_hits, TaskbarHit};
use super::{desktop_area, Action, Desktop, Drag, Mode};
use crate::input::{Mouse, MouseButton, MouseKind};

impl Desktop {
    pub(super) fn on_mouse(&mut self, mouse: Mouse, actions: &mut Vec<Action>) {
        match mouse.kind {
            MouseKind::Down(MouseButton::Left) => self.on_press(mouse, actions),
            MouseKind::Drag(MouseButton::Left) if self.drag.is_some() => {
                self.on_drag(mouse.x, mouse.y, actions)
            }
            MouseKind::Up(_) if self.drag.is_some() => self.drag = None,
            MouseKind::ScrollUp | MouseKind::ScrollDown => {
                let area = desktop_area(self.width, self.height);
                if let Some((id, _)) =
                    geometry::window_at(&self.replica.world().desktop, area, mouse.x, mouse.y)
                {
                    if !self.wheel_scrolls_back(id, mouse.kind, actions) {
                        self.hand_to_app(id, mouse, actions);
                    }
                }
            }
            MouseKind::Down(_) => {
                if let Some(id) = self.content_at(mouse.x, mouse.y) {
                    self.pressed = Some(id);
                    self.hand_to_app(id, mouse, actions);
                }
            }
            // Drags and releases go to the window the press was in; motion to the focused one.
            MouseKind::Drag(_) | MouseKind::Up(_) => {
                if let Some(id) = self.pressed {
                    self.hand_to_app(id, mouse, actions);
                }
                if matches!(mouse.kind, MouseKind::Up(_)) {
                    self.pressed = None;
                }
            }
            MouseKind::Moved => {
                if let Some(id) = self.replica.world().desktop.focused {
                    if self.content_at(mouse.x, mouse.y) == Some(id) {
                        self.hand_to_app(id, mouse, actions);
                    }
                }
            }
        }
    }

    /// The window whose content is under (`x`, `y`), if any.
    fn content_at(&self, x: u16, y: u16) -> Option<WindowId> {
        let area = desktop_area(self.width, self.height);
        let (id, rect) = geometry::window_at(&self.replica.world().desktop, area, x, y)?;
        (geometry::zone(rect, x, y) == Zone::Content).then_some(id)
    }

    /// The wheel over shell window `id` whose program did not ask for the mouse scrolls
    /// its scrollback (copy mode); true when it did.
    fn wheel_scrolls_back(
        &mut self,
        id: WindowId,
        kind: MouseKind,
        actions: &mut Vec<Action>,
    ) -> bool {
        let Some(shell) = self.replica.world().shells.get(&id) else {
            return false;
        };
        let in_copy_mode = self.keymap.copy_mode(id).is_some();
        if !in_copy_mode && shell.terminal.screen().mouse_protocol_mode() != MouseProtocolMode::None
        {
            return false;
        }
        let up = kind == MouseKind::ScrollUp;
        let intents = self.keymap.wheel(id, &shell.terminal, up);
        if self.keymap.copy_mode(id).is_some() && self.replica.world().desktop.focused != Some(id) {
            actions.push(Action::Send(Command::FocusWindow { window_id: id }));
        }
        self.carry_out(intents, actions);
        true
    }

    /// Hands a mouse event to window `id`'s app, at a cell counted from its content's top
    /// left (clamped to it); in copy mode, presses, drags and releases select instead.
    fn hand_to_app(&mut self, id: WindowId, mouse: Mouse, actions: &mut Vec<Action>) {
        let Some(inner) = self.inner_area(id) else {
            return;
        };
        let click = match mouse.kind {
            MouseKind::Down(MouseButton::Left) => Some(Click::Down),
            MouseKind::Drag(MouseButton::Left) => Some(Click::Drag),
            MouseKind::Up(MouseButton::Left) => Some(Click::Up),
            _ => None,
        };
        if let (Some(click), Some(shell)) = (click, self.replica.world().shells.get(&id)) {
            let cell = (
                mouse.y.saturating_sub(inner.y),
                mouse.x.saturating_sub(inner.x),
            );
            if let Some(intents) = self.keymap.copy_click(id, &shell.terminal, cell, click) {
                self.carry_out(intents, actions);
                return;
            }
        }
        let relative = Mouse {
            x: mouse
                .x
                .saturating_sub(inner.x)
                .min(inner.width.saturating_sub(1)),
            y: mouse
                .y
                .saturating_sub(inner.y)
                .min(inner.height.saturating_sub(1)),
            ..mouse
        };
        self.with_app(id, actions, |app, cx| app.on_mouse(relative, cx));
    }

    fn on_press(&mut self, mouse: Mouse, actions: &mut Vec<Action>) {
        let (x, y) = (mouse.x, mouse.y);
        match self.keymap.mode() {
            Mode::Help { .. } => {
                self.keymap.set_mode(Mode::Normal);
                return;
            }
            Mode::Launcher { selected } => {
                let entries = choir_desktop::launcher(&self.replica.world().apps);
                let menu = launcher_rect(self.width, self.height, &entries);
                self.keymap.set_mode(Mode::Normal);
                let inside = x > menu.x
                    && x < menu.x + menu.width - 1
                    && y > menu.y
                    && y < menu.y + menu.height - 1;
                if inside {
                    let rows = usize::from(menu.height.saturating_sub(2));
                    let index = launcher_first(selected, rows) + usize::from(y - menu.y - 1);
                    if let Some((_, launch)) = entries.get(index) {
                        self.on_launch(launch, actions);
                    }
                }
                return;
            }
            Mode::Move(_) | Mode::Resize(_) | Mode::Prefix => self.keymap.set_mode(Mode::Normal),
            Mode::Normal | Mode::Copy(_) | Mode::Find(_) => {}
        }
        if y + 1 == self.height {
            self.on_taskbar_click(x, actions);
            return;
        }
        let area = desktop_area(self.width, self.height);
        let Some((id, rect)) = geometry::window_at(&self.replica.world().desktop, area, x, y)
        else {
            return;
        };
        if self.replica.world().desktop.focused != Some(id)
            || self.replica.world().desktop.z_order.last() != Some(&id)
        {
            actions.push(Action::Send(Command::FocusWindow { window_id: id }));
        }
        let drag = |edges| Drag {
            window: id,
            start: rect,
            from: (x, y),
            edges,
            sent: choir_proto::Rect::new(rect.x, rect.y, rect.width, rect.height),
        };
        match geometry::zone(rect, x, y) {
            Zone::Close => actions.push(Action::Send(Command::CloseWindow { window_id: id })),
            Zone::Maximize => actions.push(Action::Send(Command::ToggleMaximize {
                window_id: id,
                area: Some(self.area_cells()),
            })),
            Zone::Minimize => actions.push(Action::Send(Command::MinimizeWindow { window_id: id })),
            Zone::TitleBar => self.drag = Some(drag(None)),
            Zone::Edge(edges) => self.drag = Some(drag(Some(edges))),
            Zone::Content => {
                self.pressed = Some(id);
                self.hand_to_app(id, mouse, actions);
            }
        }
    }

    fn on_taskbar_click(&mut self, x: u16, actions: &mut Vec<Action>) {
        let hits = taskbar_hits(self.replica.world(), &self.attention, self.width);
        let Some((_, hit)) = hits.iter().find(|(range, _)| range.contains(&x)) else {
            return;
        };
        match hit {
            TaskbarHit::Menu => self.keymap.set_mode(Mode::Launcher { selected: 0 }),
            TaskbarHit::Window(window_id) => {
                let window_id = *window_id;
                let on_top = self.replica.world().desktop.focused == Some(window_id);
                // Clicking the focused window's entry minimizes it, as taskbars do.
                let command = if on_top {
                    Command::MinimizeWindow { window_id }
                } else {
                    Command::FocusWindow { window_id }
                };
                actions.push(Action::Send(command));
            }
        }
    }

    fn on_drag(&mut self, x: u16, y: u16, actions: &mut Vec<Action>) {
        let Some(mut drag) = self.drag else {
            return;
        };
        let dx = i32::from(x) - i32::from(drag.from.0);
        let dy = i32::from(y) - i32::from(drag.from.1);
        let wanted = geometry::dragged(drag.start, drag.edges, dx, dy);
        let window_id = drag.window;
        if (wanted.x, wanted.y) != (drag.sent.x, drag.sent.y) {
            actions.push(Action::Send(Command::MoveWindow {
                window_id,
                x: wanted.x,
                y: wanted.y,
            }));
        }
        if (wanted.w, wanted.h) != (drag.sent.w, drag.sent.h) {
            actions.push(Action::Send(Command::ResizeWindow {
                window_id,
                w: wanted.w,
                h: wanted.h,
            }));
        }
        drag.sent = wanted;
        self.drag = Some(drag);
    }
}
