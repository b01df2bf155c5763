//! The mail app: a header line (account, folder, where the page stands), the folders on the
//! left when the window is wide enough, the page's messages in threads, and the open message
//! below them. What a key does is `choir_desktop::mail`'s, the same as in the browser; this
//! only draws, and scrolls the open message.

use choir_desktop::mail::{self, MailCursor};
use choir_proto::{MailView, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::form::{Field, Form, FormKey};
use super::{note, App, Context, TextInput, View, WHEEL_LINES};
use crate::input::{Key, KeyCode, Mouse, MouseButton, MouseKind};
use crate::theme::Theme;
use crate::wrap::{display_width, truncate, wrap};

/// Windows at least this wide show the folders beside the list.
const FOLDERS_FROM_WIDTH: u16 = 60;
const FOLDERS_WIDTH: u16 = 16;

pub struct MailApp {
    window_id: WindowId,
    cursor: MailCursor,
    /// Lines of the open message scrolled past.
    scroll: usize,
    /// The message the scroll belongs to.
    scrolled: Option<u32>,
    /// The account form (`mail::ACCOUNT_FIELDS`), while it is open.
    form: Option<Form>,
    /// The words typed into the search field (`/`).
    search: TextInput,
}

impl MailApp {
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            cursor: MailCursor::default(),
            scroll: 0,
            scrolled: None,
            form: None,
            search: TextInput::default(),
        }
    }

    /// A key while the search field is open: it takes every key.
    fn search_key(&mut self, key: Key, view: &MailView, cx: &mut Context<'_>) {
        match key.code {
            KeyCode::Esc => {
                self.cursor.searching = false;
                self.search.take();
            }
            KeyCode::Enter => {
                self.cursor.searching = false;
                self.cursor.selected = None;
                let words = self.search.take();
                cx.send(mail::search(self.window_id, view, &words));
            }
            _ => {
                self.search.edit(key);
            }
        }
    }

    /// A key while the account form is open: it takes every key.
    fn form_key(&mut self, key: Key, cx: &mut Context<'_>) {
        let form = self
            .form
            .get_or_insert_with(|| Form::new(mail::ACCOUNT_FIELDS.len()));
        match form.key(key) {
            FormKey::Cancel => self.close_form(),
            FormKey::Submit => {
                cx.send(mail::add_account(self.window_id, &form.values()));
                cx.notify("checking the account with its servers…", false);
                self.close_form();
            }
            FormKey::Stay => {}
        }
    }

    /// Closes the form, letting go of what was typed (the password with it).
    fn close_form(&mut self) {
        self.cursor.form = false;
        self.form = None;
    }

    fn scroll_by(&mut self, view: &MailView, lines: isize) {
        let uid = view.message.as_ref().map(|message| message.header.uid);
        if uid != self.scrolled {
            self.scrolled = uid;
            self.scroll = 0;
        }
        self.scroll = self.scroll.saturating_add_signed(lines);
    }
}

/// Where the parts of the window go.
struct Parts {
    header: Rect,
    folders: Option<Rect>,
    list: Rect,
    message: Option<Rect>,
}

fn parts(area: Rect, view: &MailView) -> Parts {
    let header = Rect::new(area.x, area.y, area.width, area.height.min(1));
    let body = Rect::new(
        area.x,
        area.y + header.height,
        area.width,
        area.height - header.height,
    );
    let (folders, rest) = if area.width >= FOLDERS_FROM_WIDTH && !view.folders.is_empty() {
        let folders = Rect::new(body.x, body.y, FOLDERS_WIDTH, body.height);
        let rest = Rect::new(
            body.x + FOLDERS_WIDTH + 1,
            body.y,
            body.width - FOLDERS_WIDTH - 1,
            body.height,
        );
        (Some(folders), rest)
    } else {
        (None, body)
    };
    if view.message.is_none() && view.opening.is_none() {
        return Parts {
            header,
            folders,
            list: rest,
            message: None,
        };
    }
    // An open message takes the lower two thirds, the list keeps at least three rows.
    let list_rows = (rest.height / 3).max(3).min(rest.height);
    let list = Rect::new(rest.x, rest.y, rest.width, list_rows);
    let message = Rect::new(
        rest.x,
        rest.y + list_rows,
        rest.width,
        rest.height - list_rows,
    );
    Parts {
        header,
        folders,
        list,
        message: Some(message),
    }
}

impl App for MailApp {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        if self.cursor.form {
            self.form_key(key, cx);
            return true;
        }
        let Some(view) = cx.world().mail.get(&self.window_id).cloned() else {
            return false;
        };
        if self.cursor.searching {
            self.search_key(key, &view, cx);
            return true;
        }
        if view.message.is_some() && !key.mods.ctrl && !key.mods.alt {
            let page = (cx.area.height / 2).max(1) as isize;
            match key.code {
                KeyCode::Char(' ') => {
                    self.scroll_by(&view, page);
                    return true;
                }
                KeyCode::Char('b') => {
                    self.scroll_by(&view, -page);
                    return true;
                }
                _ => {}
            }
        }
        cx.carry_out(self.cursor.key(key, self.window_id, &view))
    }

    fn on_paste(&mut self, text: &str, _cx: &mut Context<'_>) {
        if let Some(form) = self.form.as_mut() {
            form.paste(text);
        }
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let Some(view) = cx.world().mail.get(&self.window_id).cloned() else {
            return;
        };
        let area = Rect::new(0, 0, cx.area.width, cx.area.height);
        let parts = parts(area, &view);
        let inside = |rect: Rect| {
            mouse.x >= rect.x
                && mouse.x < rect.x + rect.width
                && mouse.y >= rect.y
                && mouse.y < rect.y + rect.height
        };
        match mouse.kind {
            MouseKind::ScrollUp | MouseKind::ScrollDown => {
                let lines = if mouse.kind == MouseKind::ScrollUp {
                    -WHEEL_LINES
                } else {
                    WHEEL_LINES
                };
                if parts.message.is_some_and(inside) {
                    self.scroll_by(&view, lines);
                } else {
                    let code = if lines < 0 {
                        KeyCode::Up
                    } else {
                        KeyCode::Down
                    };
                    for _ in 0..WHEEL_LINES {
                        self.on_key(Key::plain(code), cx);
                    }
                }
            }
            MouseKind::Down(MouseButton::Left) => {
                if let Some(folders) = parts.folders.filter(|rect| inside(*rect)) {
                    let index = usize::from(mouse.y - folders.y);
                    if let Some(folder) = view.folders.get(index) {
                        self.cursor.selected = None;
                        cx.send(choir_proto::Command::OpenMailFolder {
                            window_id: self.window_id,
                            account: None,
                            folder: folder.clone(),
                            offset: 0,
                            query: Default::default(),
                        });
                    }
                } else if inside(parts.list) {
                    let rows = mail::rows(&view);
                    let first = first_row(&self.cursor, &rows, parts.list.height);
                    let index = first + usize::from(mouse.y - parts.list.y);
                    if let Some(row) = rows.get(index) {
                        let uid = row.header.uid;
                        self.cursor.selected = Some(uid);
                        cx.send(choir_proto::Command::OpenMailMessage {
                            window_id: self.window_id,
                            uid: Some(uid),
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let theme = view.theme;
        let Some(mail) = view.world().mail.get(&self.window_id) else {
            note(buf, area, "this mail window is not known here", theme);
            return None;
        };
        if area.height == 0 || area.width == 0 {
            return None;
        }
        let parts = parts(area, mail);
        draw_header(buf, parts.header, mail, theme);
        let mut cursor = None;
        if self.cursor.searching && parts.header.height > 0 {
            let label = "search: ";
            let width = usize::from(area.width);
            buf.set_stringn(area.x, area.y, " ".repeat(width), width, Style::default());
            buf.set_stringn(area.x, area.y, label, width, theme.selected());
            let text = self.search.text();
            let x = area.x + label.len() as u16;
            buf.set_stringn(
                x,
                area.y,
                text,
                width.saturating_sub(label.len()),
                Style::default(),
            );
            let typed = display_width(text) as u16;
            cursor = Some(((x + typed).min(area.x + area.width - 1), area.y));
        }
        if self.cursor.form {
            let body = Rect::new(
                area.x,
                area.y + parts.header.height,
                area.width,
                area.height - parts.header.height,
            );
            return self.draw_form(buf, body, theme);
        }
        if let Some(rect) = parts.folders {
            for (row, folder) in mail.folders.iter().enumerate().take(rect.height.into()) {
                let style = if *folder == mail.folder {
                    theme.selected()
                } else {
                    Style::default()
                };
                let y = rect.y + row as u16;
                buf.set_stringn(rect.x, y, folder, rect.width.into(), style);
            }
        }
        draw_list(buf, parts.list, mail, &self.cursor, view.utc_offset, theme);
        if let Some(rect) = parts.message {
            let scroll = if mail.message.as_ref().map(|m| m.header.uid) == self.scrolled {
                self.scroll
            } else {
                0
            };
            draw_message(buf, rect, mail, scroll, theme);
        }
        cursor
    }

    fn hint(&self, view: &View<'_>) -> String {
        if self.cursor.form {
            return mail::FORM_HINT.into();
        }
        if self.cursor.searching {
            return mail::SEARCH_HINT.into();
        }
        let open = view
            .world()
            .mail
            .get(&self.window_id)
            .is_some_and(|mail| mail.message.is_some());
        if open {
            format!("Space/b scroll · {}", mail::HINT)
        } else {
            mail::HINT.into()
        }
    }

    fn status(&self, view: &View<'_>) -> Option<String> {
        let mail = view.world().mail.get(&self.window_id)?;
        let unseen = mail.headers.iter().filter(|header| !header.seen).count();
        (unseen > 0).then(|| format!("{unseen} unread"))
    }

    fn copy_text(&self, view: &View<'_>) -> Option<String> {
        let mail = view.world().mail.get(&self.window_id)?;
        mail.message.as_ref().map(|message| message.text.clone())
    }
}

impl MailApp {
    /// The account form in `rect`; where the cursor is, in the field typed into.
    fn draw_form(&self, buf: &mut Buffer, rect: Rect, theme: &Theme) -> Option<(u16, u16)> {
        let fields: Vec<Field<'_>> = mail::ACCOUNT_FIELDS
            .iter()
            .map(|field| Field {
                label: field.label,
                example: field.example,
                secret: field.secret,
            })
            .collect();
        let empty = Form::new(fields.len());
        self.form.as_ref().unwrap_or(&empty).draw(
            buf,
            rect,
            "Add a mail account: it is checked with its servers, and kept in the sandbox, never in the log",
            &fields,
            theme,
        )
    }
}

fn draw_header(buf: &mut Buffer, rect: Rect, mail: &MailView, theme: &Theme) {
    if rect.height == 0 {
        return;
    }
    let mut text = if mail.account.is_empty() {
        "Mail".to_owned()
    } else {
        format!(
            "{} · {} · {}",
            mail.account,
            mail.folder,
            mail::found_position(mail)
        )
    };
    if mail.loading {
        text.push_str(" · loading…");
    }
    buf.set_stringn(
        rect.x,
        rect.y,
        &text,
        rect.width.into(),
        theme.muted().add_modifier(Modifier::BOLD),
    );
}

/// The first row drawn, so that the selected one is in view.
fn first_row(cursor: &MailCursor, rows: &[mail::Row<'_>], height: u16) -> usize {
    let height = usize::from(height.max(1));
    cursor.index(rows).saturating_sub(height - 1)
}

fn draw_list(
    buf: &mut Buffer,
    rect: Rect,
    mail: &MailView,
    cursor: &MailCursor,
    utc_offset: i32,
    theme: &Theme,
) {
    if rect.height == 0 {
        return;
    }
    if let Some(problem) = &mail.problem {
        let mut problem = problem.clone();
        if mail.account.is_empty() {
            problem.push_str(" — or press A to add one here");
        }
        super::problem(buf, rect, &problem, theme);
        return;
    }
    let rows = mail::rows(mail);
    if rows.is_empty() {
        let text = if mail.loading {
            "loading…"
        } else {
            "no messages"
        };
        note(buf, rect, text, theme);
        return;
    }
    let selected = cursor.index(&rows);
    let first = first_row(cursor, &rows, rect.height);
    let width = usize::from(rect.width);
    for (at, row) in rows.iter().enumerate().skip(first).take(rect.height.into()) {
        let y = rect.y + (at - first) as u16;
        let header = row.header;
        let date = mail::short_date(&header.date, utc_offset);
        let mark = if header.seen { ' ' } else { '●' };
        let lead = if row.in_thread() { "↳ " } else { "" };
        let count = if row.thread > 1 {
            format!(" ({})", row.thread)
        } else {
            String::new()
        };
        let from: String = header.from.chars().take(22).collect();
        let left = format!("{mark} {from:<22} {lead}{}{count}", header.subject);
        let room = width.saturating_sub(display_width(&date) + 1);
        let line = format!("{:<room$} {date}", truncate(&left, room));
        let mut style = if header.seen {
            Style::default()
        } else {
            Style::default().add_modifier(Modifier::BOLD)
        };
        if at == selected {
            style = theme.selected();
        }
        buf.set_stringn(rect.x, y, &line, width, style);
    }
}

fn draw_message(buf: &mut Buffer, rect: Rect, mail: &MailView, scroll: usize, theme: &Theme) {
    if rect.height == 0 {
        return;
    }
    let width = usize::from(rect.width);
    buf.set_stringn(rect.x, rect.y, "─".repeat(width), width, theme.border());
    let body = Rect::new(rect.x, rect.y + 1, rect.width, rect.height - 1);
    let Some(message) = &mail.message else {
        note(buf, body, "opening…", theme);
        return;
    };
    let header = &message.header;
    let mut lines: Vec<(String, Style)> = Vec::new();
    let field = |name: &str, value: &str, lines: &mut Vec<(String, Style)>| {
        if !value.is_empty() {
            for line in wrap(&format!("{name}: {value}"), width) {
                lines.push((line, theme.muted()));
            }
        }
    };
    field("From", &header.from, &mut lines);
    field("To", &header.to, &mut lines);
    field("Cc", &message.cc, &mut lines);
    field("Date", &header.date, &mut lines);
    field("Subject", &header.subject, &mut lines);
    for attachment in &message.attachments {
        let text = format!(
            "attachment: {} ({}, {})",
            attachment.name,
            attachment.content_type,
            size(attachment.size)
        );
        lines.push((text, theme.warn()));
    }
    if !message.attachments.is_empty() {
        lines.push((format!("  {}", mail::ATTACHMENTS_HINT), theme.muted()));
    }
    for invitation in &message.invitations {
        lines.push((format!("invitation: {invitation}"), theme.warn()));
    }
    if !message.invitations.is_empty() {
        lines.push((format!("  {}", mail::INVITATION_HINT), theme.muted()));
    }
    lines.push((String::new(), Style::default()));
    for line in wrap(&message.text, width) {
        lines.push((line, Style::default()));
    }
    if message.cut {
        lines.push((
            format!(
                "[the rest of this message is on the server: only the first {} KiB are shown]",
                choir_proto::mail::MAIL_TEXT_BYTES / 1024
            ),
            theme.muted(),
        ));
    }
    let scroll = scroll.min(lines.len().saturating_sub(1));
    for (row, (line, style)) in lines
        .iter()
        .skip(scroll)
        .take(body.height.into())
        .enumerate()
    {
        buf.set_stringn(body.x, body.y + row as u16, line, width, *style);
    }
}

/// A size in bytes as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        0..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.0} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size(10), "10 B");
        assert_eq!(size(52_428_800), "50.0 MiB");
        assert_eq!(size(2048), "2 KiB");
    }
}
