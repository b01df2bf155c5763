//! A window of an app this client does not know (from a newer daemon): it says so.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{note, App, Context, View};
use crate::input::Key;

pub struct Unknown;

impl App for Unknown {
    fn on_key(&mut self, _key: Key, _cx: &mut Context<'_>) -> bool {
        false
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let text = format!("“{}” is not known to this client", view.window.app);
        note(buf, area, &text, view.theme);
        None
    }

    fn hint(&self, _view: &View<'_>) -> String {
        "this app is not known to this client".into()
    }
}
