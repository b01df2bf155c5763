//! The writer app. Editing lands with the writer issue; until then the window lists the
//! documents in the sandbox.

use choir_proto::World;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use crate::theme::Theme;

pub const HINT: &str = "documents are read-only in this build · C-a ? help";

#[derive(Debug, Clone, Default)]
pub struct WriterView;

pub fn render(world: &World, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let width = usize::from(area.width);
    if area.height == 0 {
        return;
    }
    if world.docs.is_empty() {
        buf.set_stringn(area.x, area.y, "No documents yet.", width, theme.muted());
        return;
    }
    for (row, doc) in world
        .docs
        .values()
        .take(usize::from(area.height))
        .enumerate()
    {
        let line = format!("{:>3}  {}", doc.id, doc.title);
        buf.set_stringn(area.x, area.y + row as u16, line, width, Style::new());
    }
}
