//! Validation of commands against the current state: `decide` may refuse, `apply` never does.

use thiserror::Error;

use crate::app_kind::AppKind;
use crate::command::Command;
use crate::event::EventBody;
use crate::frame::ErrorCode;
use crate::grid::{Rect, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W};
use crate::ids::{CallId, DocId, ThreadId, WindowId};
use crate::text_op::TextOp;
use crate::world::{Desktop, ToolCallStatus, World};

/// Most windows one desktop may hold.
pub const MAX_WINDOWS: usize = 256;
/// Longest window title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 65_536;
/// Largest document, in characters.
pub const MAX_DOC_CHARS: usize = 16 * 1024 * 1024;
/// Most bytes one `shell.input` command may carry (a larger paste is sent in parts).
pub const MAX_SHELL_INPUT: usize = 64 * 1024;
/// Longest tag a client may put on an edit.
pub const MAX_EDIT_ID_CHARS: usize = 64;

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
    #[error("no chat thread with id {0}")]
    UnknownThread(ThreadId),
    #[error("a chat message cannot be empty")]
    EmptyMessage,
    #[error("a chat message is longer than {MAX_CHAT_CHARS} characters")]
    MessageTooLong,
    #[error("nothing runs in chat thread {0}")]
    NothingToCancel(ThreadId),
    #[error("no pending tool call {0}")]
    UnknownCall(CallId),
    #[error("tool call {0} is not waiting for approval")]
    NotAwaitingApproval(CallId),
    #[error("no document with id {0}")]
    UnknownDoc(DocId),
    #[error("a document title cannot be empty")]
    EmptyTitle,
    #[error("a document cannot hold more than {MAX_DOC_CHARS} characters")]
    DocTooLarge,
    #[error(
        "document {doc_id} is at version {version} and keeps edits back to version {oldest}; \
         an edit against version {base} cannot be rebased: reload the document"
    )]
    StaleBase {
        doc_id: DocId,
        base: u64,
        oldest: u64,
        version: u64,
    },
    #[error(
        "the edit expects a text of {expected} characters, but document {doc_id} had \
         {actual} at version {base}"
    )]
    EditDoesNotFit {
        doc_id: DocId,
        base: u64,
        expected: usize,
        actual: usize,
    },
    #[error("an edit id is longer than {MAX_EDIT_ID_CHARS} characters")]
    EditIdTooLong,
    #[error("window {0} is not a writer window")]
    NotAWriter(WindowId),
    #[error("window {0} is not a shell window")]
    NotAShell(WindowId),
    #[error("the shell of window {0} is not running (restart it with shell.restart)")]
    ShellNotRunning(WindowId),
    #[error("the shell of window {0} is running")]
    ShellRunning(WindowId),
    #[error("shell input is longer than {MAX_SHELL_INPUT} bytes")]
    ShellInputTooLong,
    #[error("window {0} is not a mail window")]
    NotAMailWindow(WindowId),
    #[error("a folder or account name must be 1 to 1000 characters")]
    BadFolder,
    #[error("message {0} is not on the page the window shows")]
    UnknownMessage(u32),
    #[error("no message is open in the window to answer or forward")]
    NoMessageOpen,
    #[error("the message open in window {0} holds no invitation")]
    NoInvitation(WindowId),
    #[error("the message open in window {0} has no attachments")]
    NoAttachments(WindowId),
    #[error("window {0} is not a calendar window")]
    NotACalendarWindow(WindowId),
    #[error("{0}")]
    BadEvent(String),
    #[error("no app is named `{0}` (build it first: choir app build {0})")]
    UnknownApp(String),
    #[error("window {0} is not an app window")]
    NotAnAppWindow(WindowId),
    #[error("the window shows no event {0}")]
    UnknownEvent(String),
}

impl Rejection {
    /// The stable wire code for this rejection.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::UnknownWindow(_)
            | Rejection::UnknownThread(_)
            | Rejection::UnknownCall(_)
            | Rejection::UnknownDoc(_)
            | Rejection::UnknownMessage(_)
            | Rejection::UnknownEvent(_)
            | Rejection::UnknownApp(_) => ErrorCode::NotFound,
            Rejection::InvalidGeometry(_)
            | Rejection::TitleTooLong
            | Rejection::TooManyWindows
            | Rejection::EmptyMessage
            | Rejection::MessageTooLong
            | Rejection::NothingToCancel(_)
            | Rejection::NotAwaitingApproval(_)
            | Rejection::EmptyTitle
            | Rejection::DocTooLarge
            | Rejection::StaleBase { .. }
            | Rejection::EditDoesNotFit { .. }
            | Rejection::EditIdTooLong
            | Rejection::NotAWriter(_)
            | Rejection::NotAShell(_)
            | Rejection::ShellNotRunning(_)
            | Rejection::ShellRunning(_)
            | Rejection::ShellInputTooLong
            | Rejection::NotAMailWindow(_)
            | Rejection::BadFolder
            | Rejection::NoMessageOpen
            | Rejection::NoInvitation(_)
            | Rejection::NoAttachments(_)
            | Rejection::NotACalendarWindow(_)
            | Rejection::NotAnAppWindow(_)
            | Rejection::BadEvent(_) => ErrorCode::InvalidCommand,
        }
    }
}

/// Decides which events `command` produces given `world`. An empty list means the command is
/// valid but changes nothing (focusing the focused window, moving a window where it is).
pub fn decide(world: &World, command: &Command) -> Result<Vec<EventBody>, Rejection> {
    let desktop = &world.desktop;
    match command {
        Command::OpenWindow { app, title, rect } => {
            if let AppKind::App(name) = app {
                apps::installed(world, name)?;
            }
            open_window(desktop, app, title.clone(), *rect)
        }
        Command::MoveWindow { window_id, x, y } => {
            let window = existing(desktop, *window_id)?;
            validate_position(*x, *y)?;
            let unchanged = window.rect.x == *x && window.rect.y == *y && !window.maximized;
            let mut events = when(!unchanged, || EventBody::WindowMoved {
                window_id: *window_id,
                x: *x,
                y: *y,
            });
            // Moved by hand, a window leaves its split layout.
            if !unchanged {
                events.extend(layout::leave(desktop, *window_id, false));
            }
            Ok(events)
        }
        Command::ResizeWindow { window_id, w, h } => {
            let window = existing(desktop, *window_id)?;
            validate_size(*w, *h)?;
            let unchanged = window.rect.w == *w && window.rect.h == *h && !window.maximized;
            let mut events = when(!unchanged, || EventBody::WindowResized {
                window_id: *window_id,
                w: *w,
                h: *h,
            });
            if !unchanged {
                events.extend(layout::leave(desktop, *window_id, false));
            }
            Ok(events)
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
            let mut events = when(!window.minimized, || EventBody::WindowMinimized {
                window_id: *window_id,
            });
            if !window.minimized {
                events.extend(layout::leave(desktop, *window_id, false));
            }
            Ok(events)
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
        Command::ToggleMaximize { window_id, area } => {
            let window = existing(desktop, *window_id)?;
            let window_id = *window_id;
            if let Some(area) = area {
                validate_rect(*area)?;
            }
            Ok(vec![if window.maximized {
                EventBody::WindowUnmaximized { window_id }
            } else {
                EventBody::WindowMaximized {
                    window_id,
                    area: *area,
                }
            }])
        }
        Command::CloseWindow { window_id } => {
            existing(desktop, *window_id)?;
            let closed = EventBody::WindowClosed {
                window_id: *window_id,
            };
            Ok(std::iter::once(closed)
                .chain(layout::leave(desktop, *window_id, true))
                .collect())
        }
        Command::TileWindows { area } => {
            let mut events = tile(desktop, *area);
            events.extend(layout::dissolve(desktop));
            Ok(events)
        }
        Command::SplitWindow {
            window_id,
            stacked,
            area,
        } => layout::split(desktop, *window_id, *stacked, *area),
        Command::FitLayout { area } => layout::fit(desktop, *area),
        Command::PostChat { thread_id, text } => {
            if !world.chats.contains_key(thread_id) {
                return Err(Rejection::UnknownThread(*thread_id));
            }
            if text.trim().is_empty() {
                return Err(Rejection::EmptyMessage);
            }
            if text.chars().count() > MAX_CHAT_CHARS {
                return Err(Rejection::MessageTooLong);
            }
            Ok(vec![EventBody::ChatUserMessage {
                thread_id: *thread_id,
                text: text.clone(),
            }])
        }
        Command::CancelTurn { thread_id } => {
            let thread = world
                .chats
                .get(thread_id)
                .ok_or(Rejection::UnknownThread(*thread_id))?;
            if !thread.busy {
                return Err(Rejection::NothingToCancel(*thread_id));
            }
            Ok(vec![EventBody::ChatCancelRequested {
                thread_id: *thread_id,
            }])
        }
        Command::ApproveTool { call_id } => {
            awaiting_approval(world, call_id)?;
            Ok(vec![EventBody::ToolApproved {
                call_id: call_id.clone(),
            }])
        }
        Command::DenyTool { call_id, reason } => {
            awaiting_approval(world, call_id)?;
            Ok(vec![EventBody::ToolDenied {
                call_id: call_id.clone(),
                reason: reason
                    .clone()
                    .unwrap_or_else(|| "denied by the user".into()),
            }])
        }
        Command::CreateDoc {
            title,
            content,
            open,
            window_id,
        } => {
            let title = doc_title(title)?;
            if content.chars().count() > MAX_DOC_CHARS {
                return Err(Rejection::DocTooLarge);
            }
            if let Some(window_id) = window_id {
                if existing(desktop, *window_id)?.app != AppKind::Writer {
                    return Err(Rejection::NotAWriter(*window_id));
                }
            }
            let doc_id = DocId(world.next_doc_id.max(1));
            let mut events = vec![EventBody::DocCreated {
                doc_id,
                title: title.clone(),
                content: content.clone(),
            }];
            if *open {
                let window_id = WindowId(desktop.next_window_id);
                events.extend(open_window(desktop, &AppKind::Writer, Some(title), None)?);
                events.push(EventBody::WriterDocShown {
                    window_id,
                    doc_id: Some(doc_id),
                });
            } else if let Some(window_id) = window_id {
                events.push(EventBody::WriterDocShown {
                    window_id: *window_id,
                    doc_id: Some(doc_id),
                });
            }
            Ok(events)
        }
        Command::EditDoc {
            doc_id,
            base_version,
            op,
            edit_id,
        } => edit_doc(world, *doc_id, *base_version, op, edit_id.as_deref()),
        Command::RenameDoc { doc_id, title } => {
            let doc = world
                .docs
                .get(doc_id)
                .ok_or(Rejection::UnknownDoc(*doc_id))?;
            let title = doc_title(title)?;
            Ok(when(doc.title != title, || EventBody::DocRenamed {
                doc_id: *doc_id,
                title,
            }))
        }
        Command::DeleteDoc { doc_id } => {
            world
                .docs
                .get(doc_id)
                .ok_or(Rejection::UnknownDoc(*doc_id))?;
            Ok(vec![EventBody::DocDeleted { doc_id: *doc_id }])
        }
        Command::ShowDoc { window_id, doc_id } => {
            let window = existing(desktop, *window_id)?;
            if window.app != AppKind::Writer {
                return Err(Rejection::NotAWriter(*window_id));
            }
            if let Some(doc_id) = doc_id {
                world
                    .docs
                    .get(doc_id)
                    .ok_or(Rejection::UnknownDoc(*doc_id))?;
            }
            Ok(when(window.doc_id != *doc_id, || {
                EventBody::WriterDocShown {
                    window_id: *window_id,
                    doc_id: *doc_id,
                }
            }))
        }
        // The daemon acts on these itself: they are checked here, and record nothing.
        Command::ShellInput { window_id, data } => {
            if data.len() > MAX_SHELL_INPUT {
                return Err(Rejection::ShellInputTooLong);
            }
            let shell = shell_window(world, *window_id)?;
            if !shell.is_some_and(|shell| shell.is_running()) {
                return Err(Rejection::ShellNotRunning(*window_id));
            }
            Ok(Vec::new())
        }
        Command::RestartShell { window_id } => {
            if shell_window(world, *window_id)?.is_some_and(|shell| shell.is_running()) {
                return Err(Rejection::ShellRunning(*window_id));
            }
            Ok(Vec::new())
        }
        Command::OpenMailFolder {
            window_id,
            account,
            folder,
            offset,
            query,
        } => mail::open_folder(
            world,
            *window_id,
            account.as_deref(),
            folder,
            *offset,
            query,
        ),
        Command::OpenMailMessage { window_id, uid } => mail::open_message(world, *window_id, *uid),
        Command::ComposeMail {
            window_id,
            reply,
            forward,
        } => mail::compose(world, *window_id, *reply, *forward),
        Command::SendMail { doc_id } => mail::send(world, *doc_id),
        Command::SendAppInput { window_id, input } => apps::input(world, *window_id, input),
        Command::AnswerAppCapability {
            name,
            capability,
            granted,
        } => apps::answer(world, name, capability, *granted),
        Command::RemoveApp { name } => apps::remove(world, name),
        // The daemon keeps an account itself (its password must not reach the log): checked
        // here, it records nothing.
        Command::AddMailAccount { window_id, .. } => mail::add_account(world, *window_id),
        Command::SaveAttachments { window_id } => mail::save_attachments(world, *window_id),
        Command::AnswerInvitation { window_id, answer } => {
            mail::answer_invitation(world, *window_id, *answer)
        }
        Command::OpenCalendarRange {
            window_id,
            from,
            days,
            week,
        } => calendar::open_range(world, *window_id, from, *days, *week),
        Command::AddCalendarEvent {
            window_id,
            title,
            start,
            end,
        } => calendar::add(world, *window_id, title, start, end),
        Command::MoveCalendarEvent {
            window_id,
            uid,
            start,
            end,
        } => calendar::move_event(world, *window_id, uid, start, end),
        Command::DeleteCalendarEvent { window_id, uid } => calendar::delete(world, *window_id, uid),
    }
}

/// The shell of shell window `id` (none before its first one started).
fn shell_window(world: &World, id: WindowId) -> Result<Option<&crate::world::Shell>, Rejection> {
    if existing(&world.desktop, id)?.app != AppKind::Shell {
        return Err(Rejection::NotAShell(id));
    }
    Ok(world.shells.get(&id))
}

fn open_window(
    desktop: &Desktop,
    app: &AppKind,
    title: Option<String>,
    rect: Option<Rect>,
) -> Result<Vec<EventBody>, Rejection> {
    if desktop.windows.len() >= MAX_WINDOWS {
        return Err(Rejection::TooManyWindows);
    }
    let title = title.unwrap_or_else(|| app.default_title());
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Rejection::TitleTooLong);
    }
    let rect = match rect {
        Some(rect) => validate_rect(rect)?,
        None => cascade(desktop),
    };
    let window_id = WindowId(desktop.next_window_id);
    let thread = (*app == AppKind::Chat).then(|| EventBody::ChatThreadCreated {
        thread_id: ThreadId(window_id.0),
        title: title.clone(),
    });
    let opened = EventBody::WindowOpened {
        window_id,
        app: app.clone(),
        title,
        rect,
    };
    Ok(std::iter::once(opened).chain(thread).collect())
}

fn doc_title(title: &str) -> Result<String, Rejection> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Rejection::EmptyTitle);
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Rejection::TitleTooLong);
    }
    Ok(title.to_owned())
}

/// Rebases `op`, made against version `base`, over the edits committed since.
fn edit_doc(
    world: &World,
    doc_id: DocId,
    base: u64,
    op: &TextOp,
    edit_id: Option<&str>,
) -> Result<Vec<EventBody>, Rejection> {
    let doc = world
        .docs
        .get(&doc_id)
        .ok_or(Rejection::UnknownDoc(doc_id))?;
    if let Some(edit_id) = edit_id {
        if edit_id.chars().count() > MAX_EDIT_ID_CHARS {
            return Err(Rejection::EditIdTooLong);
        }
        let seen = doc
            .recent
            .iter()
            .any(|edit| edit.edit_id.as_deref() == Some(edit_id));
        if seen {
            // A client resending an edit it could not see acknowledged.
            return Ok(Vec::new());
        }
    }
    let stale = || Rejection::StaleBase {
        doc_id,
        base,
        oldest: doc.oldest_base(),
        version: doc.version,
    };
    let edits: Vec<&TextOp> = doc
        .edits_since(base)
        .ok_or_else(stale)?
        .map(|edit| &edit.op)
        .collect();
    // The length of the text at `base`: the first later edit's base, or today's text.
    let actual = edits
        .first()
        .map_or(doc.len_chars(), |first| first.base_len());
    if op.base_len() != actual {
        return Err(Rejection::EditDoesNotFit {
            doc_id,
            base,
            expected: op.base_len(),
            actual,
        });
    }
    let mut rebased = op.normalized();
    for committed in edits {
        // Lengths were checked above and every committed edit follows the previous one.
        rebased = match TextOp::transform(&rebased, committed) {
            Ok((rebased, _)) => rebased,
            Err(_) => return Err(stale()),
        };
    }
    let new_len = doc.len_chars() - rebased.base_len() + rebased.target_len();
    if new_len > MAX_DOC_CHARS {
        return Err(Rejection::DocTooLarge);
    }
    if rebased.is_noop() && edit_id.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![EventBody::DocEdited {
        doc_id,
        version: doc.version + 1,
        op: rebased,
        edit_id: edit_id.map(str::to_owned),
    }])
}

fn awaiting_approval(world: &World, call_id: &CallId) -> Result<(), Rejection> {
    match world.pending_tools.get(call_id) {
        Some(call) if call.status == ToolCallStatus::AwaitingApproval => Ok(()),
        Some(_) => Err(Rejection::NotAwaitingApproval(call_id.clone())),
        None => Err(Rejection::UnknownCall(call_id.clone())),
    }
}

/// A grid of visible windows over `area`, in window-id order (the taskbar's): as many columns as the
/// square root rounds up to, rows filled left to right. Windows never get smaller than the
/// minimum size, so a tiny area yields overlapping tiles rather than an error.
fn tile(desktop: &Desktop, area: Rect) -> Vec<EventBody> {
    let windows: Vec<&crate::world::Window> = desktop
        .windows
        .values()
        .filter(|window| !window.minimized)
        .collect();
    let count = windows.len();
    if count == 0 {
        return Vec::new();
    }
    let columns = (1..=count).find(|c| c * c >= count).unwrap_or(count);
    let rows = count.div_ceil(columns);
    let mut events = Vec::new();
    for (index, window) in windows.into_iter().enumerate() {
        let (row, column) = (index / columns, index % columns);
        // The last row spreads its windows over the full width.
        let in_row = if row + 1 == rows {
            count - row * columns
        } else {
            columns
        };
        let cell = |start: u16, total: u16, parts: usize, i: usize| {
            let parts = parts.max(1) as u32;
            let from = start as u32 + total as u32 * i as u32 / parts;
            let to = start as u32 + total as u32 * (i as u32 + 1) / parts;
            (
                from.min(u16::MAX as u32) as u16,
                (to - from).min(u16::MAX as u32) as u16,
            )
        };
        let (x, w) = cell(area.x, area.w, in_row, column);
        let (y, h) = cell(area.y, area.h, rows, row);
        let (x, y) = (x.min(MAX_WINDOW_COORD), y.min(MAX_WINDOW_COORD));
        let w = w.clamp(MIN_WINDOW_W, MAX_WINDOW_SIZE);
        let h = h.clamp(MIN_WINDOW_H, MAX_WINDOW_SIZE);
        // Moving also takes a maximized window back to normal.
        events.extend(layout::reshape(window, Rect::new(x, y, w, h)));
    }
    events
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

mod apps;
mod calendar;
mod layout;
mod mail;

#[cfg(test)]
mod tests;
