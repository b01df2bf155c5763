//! Time travel in the desktop (`choir replay`): the desktop shows a past moment, read-only;
//! keys move through the log and the timeline bar takes the taskbar's place. The moves and
//! their queries are `choir_proto`'s `Timeline`, which the browser uses too.

use choir_desktop::replay::{replay_key, ReplayKey, REPLAY_KEYS};
use choir_proto::client::{Replica, Timeline};
use choir_proto::thousands;
use choir_proto::Seek;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Action, Desktop};
use crate::input::{Key, Mouse, MouseButton, MouseKind};
use crate::theme::Theme;
use crate::wrap::display_width;

impl Desktop {
    /// A desktop that shows the world as it was at `at`, and moves through time.
    pub fn replay(theme: Theme, utc_offset: i32, at: Seek) -> Self {
        let mut desktop = Self::new(theme, utc_offset);
        desktop.replica = Replica::replay(at);
        desktop
    }

    /// The timeline, when the desktop travels in time.
    pub fn timeline(&self) -> Option<&Timeline> {
        self.replica.timeline()
    }

    /// A second of the clock: a replay's move that waits long is asked again. Whether the
    /// screen changes (a replay says it waits).
    pub fn tick(&mut self) -> bool {
        self.replica.tick();
        self.timeline().is_some_and(Timeline::is_waiting)
    }

    /// A key in a replay: the keys every client shares (`choir_desktop::replay`).
    pub(super) fn on_timeline_key(&mut self, key: Key, actions: &mut Vec<Action>) {
        match replay_key(key) {
            Some(ReplayKey::Travel(to)) => self.replica.travel(|timeline| to.apply(timeline)),
            Some(ReplayKey::Quit) => actions.push(Action::Quit),
            None => self.notify(format!("replay is read-only: {REPLAY_KEYS}"), false),
        }
    }

    /// A click on the timeline bar goes to that point of the log; the wheel steps.
    pub(super) fn on_timeline_mouse(&mut self, mouse: Mouse) {
        let bar_row = self.height.saturating_sub(1);
        match mouse.kind {
            MouseKind::Down(MouseButton::Left) | MouseKind::Drag(MouseButton::Left)
                if mouse.y == bar_row =>
            {
                let (start, width) = self.timeline_track();
                if width > 0 && mouse.x >= start {
                    let head = self.timeline().map_or(0, Timeline::head);
                    let at = u64::from((mouse.x - start).min(width - 1));
                    let seq = (at * head).div_ceil(u64::from(width - 1).max(1));
                    self.replica.travel(|t| t.go(seq));
                }
            }
            MouseKind::ScrollUp if mouse.y == bar_row => self.replica.travel(|t| t.step(-1)),
            MouseKind::ScrollDown if mouse.y == bar_row => self.replica.travel(|t| t.step(1)),
            _ => {}
        }
    }

    /// Where the track of the bar starts and how wide it is.
    fn timeline_track(&self) -> (u16, u16) {
        let label = self.timeline_label();
        let start = display_width(&label) as u16 + 1;
        (start, self.width.saturating_sub(start + 1))
    }

    fn timeline_label(&self) -> String {
        let Some(timeline) = self.timeline() else {
            return String::new();
        };
        let shown = match timeline.shown() {
            Some((seq, ts)) => format!(
                "seq {} of {} · {}",
                thousands(seq),
                thousands(timeline.head()),
                self.time_of(ts)
            ),
            None => "loading".into(),
        };
        let moving = match (timeline.is_moving(), timeline.is_waiting()) {
            (true, true) => format!(" → {} · loading…", thousands(timeline.target())),
            (true, false) => format!(" → {}", thousands(timeline.target())),
            _ => String::new(),
        };
        format!(" ◀◀ replay · {shown}{moving} ")
    }

    fn time_of(&self, ts: i64) -> String {
        if ts == 0 {
            return "the start".into();
        }
        let offset = chrono::FixedOffset::east_opt(self.utc_offset)
            .unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
        chrono::DateTime::from_timestamp_millis(ts)
            .map(|at| {
                at.with_timezone(&offset)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The bar in place of the taskbar: where the moment is, and a track to click.
    pub(super) fn draw_timeline(&self, screen: Rect, buf: &mut Buffer) {
        let Some(timeline) = self.timeline() else {
            return;
        };
        let theme = &self.theme;
        let y = screen.height.saturating_sub(1);
        buf.set_style(Rect::new(0, y, screen.width, 1), theme.taskbar());
        let label = self.timeline_label();
        buf.set_stringn(
            0,
            y,
            &label,
            usize::from(screen.width),
            theme.taskbar_active(),
        );
        let (start, width) = self.timeline_track();
        if width < 2 {
            return;
        }
        let head = timeline.head().max(1);
        let at = |seq: u64| start + ((seq.min(head) * u64::from(width - 1)) / head) as u16;
        let shown = timeline.shown().map_or(0, |(seq, _)| seq);
        let track: String = (0..width)
            .map(|i| if start + i <= at(shown) { '━' } else { '─' })
            .collect();
        buf.set_string(start, y, track, theme.taskbar());
        buf.set_string(at(shown), y, "●", theme.taskbar().patch(theme.ok()));
        if timeline.is_moving() {
            buf.set_string(
                at(timeline.target()),
                y,
                "◆",
                theme.taskbar().patch(theme.warn()),
            );
        }
    }

    /// The hint line in a replay.
    pub(super) fn timeline_hint(&self) -> String {
        format!("read-only · {REPLAY_KEYS}")
    }
}
