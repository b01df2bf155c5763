//! Commands: what a client may ask the daemon to do. Each is validated by
//! [`crate::decide`] and, if accepted, becomes one or more events.

use serde::{Deserialize, Serialize};

use crate::app_kind::AppKind;
use crate::grid::Rect;
use crate::ids::{CallId, DocId, ThreadId, WindowId};
use crate::text_op::TextOp;

/// A client's intent. Commands are imperative; the events they produce are past tense.
/// The reply to every command is an `ack` frame with the seqs it appended (possibly none, when
/// the command changes nothing) or an `error` frame with a stable code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Command {
    /// Open a window of `app`; without `rect` the daemon cascades it. → `window.opened`, and
    /// for a chat window `chat.thread_created` (its thread has the window's id as its own)
    #[serde(rename = "window.open")]
    OpenWindow {
        app: AppKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rect: Option<Rect>,
    },
    /// Move a window's top-left corner. → `window.moved`
    #[serde(rename = "window.move")]
    MoveWindow { window_id: WindowId, x: u16, y: u16 },
    /// Resize a window. → `window.resized`
    #[serde(rename = "window.resize")]
    ResizeWindow { window_id: WindowId, w: u16, h: u16 },
    /// Raise and focus a window, restoring it if minimized. → `window.focused` or
    /// `window.restored`
    #[serde(rename = "window.focus")]
    FocusWindow { window_id: WindowId },
    /// Minimize a window. → `window.minimized`
    #[serde(rename = "window.minimize")]
    MinimizeWindow { window_id: WindowId },
    /// Undo a minimize, or else a maximize. → `window.restored` or `window.unmaximized`
    #[serde(rename = "window.restore")]
    RestoreWindow { window_id: WindowId },
    /// Maximize a window, or unmaximize a maximized one; `area` is the asking client's
    /// desktop area (a shell window's terminal takes its size). → `window.maximized` or
    /// `window.unmaximized`
    #[serde(rename = "window.toggle_maximize")]
    ToggleMaximize {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<Rect>,
    },
    /// Close a window. → `window.closed`
    #[serde(rename = "window.close")]
    CloseWindow { window_id: WindowId },
    /// Arrange every visible window in a grid filling `area` (the asking client's desktop
    /// area). → `window.moved` / `window.resized` per window that changes
    #[serde(rename = "window.tile")]
    TileWindows { area: Rect },
    /// Split a window in halves, side by side (tmux's `%`) or `stacked` (tmux's `"`), a new
    /// shell window in the second half; the split layout fills `area` (the asking client's
    /// desktop area). → `window.moved` / `window.resized`, `window.opened`, `desktop.layout`
    #[serde(rename = "window.split")]
    SplitWindow {
        window_id: WindowId,
        #[serde(default)]
        stacked: bool,
        area: Rect,
    },
    /// Fit the split layout to `area` (a client's screen changed size). → `window.moved` /
    /// `window.resized` per window that changes, `desktop.layout`
    #[serde(rename = "layout.fit")]
    FitLayout { area: Rect },
    /// Post a message to a chat thread. → `chat.user_message` (the agent then answers)
    #[serde(rename = "chat.post")]
    PostChat { thread_id: ThreadId, text: String },
    /// Stop the agent's running turn in a thread. → `chat.cancel_requested`, then the agent's
    /// `chat.turn_cancelled`
    #[serde(rename = "chat.cancel")]
    CancelTurn { thread_id: ThreadId },
    /// Let a tool call that waits for approval run. → `tool.approved`
    #[serde(rename = "tool.approve")]
    ApproveTool { call_id: CallId },
    /// Refuse a tool call that waits for approval; the model is told. → `tool.denied`
    #[serde(rename = "tool.deny")]
    DenyTool {
        call_id: CallId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Create a document; with `open`, also open a writer window showing it, or with
    /// `window_id` show it in that writer window. → `doc.created` (then `window.opened` and
    /// `writer.doc_shown`)
    #[serde(rename = "doc.create")]
    CreateDoc {
        title: String,
        #[serde(default)]
        content: String,
        #[serde(default)]
        open: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_id: Option<WindowId>,
    },
    /// Edit a document: `op` is made against version `base_version`; the daemon rebases it
    /// over whatever was committed since. `edit_id` (the client's own tag) comes back in the
    /// event, and an edit whose tag is already among the recent edits is not applied twice.
    /// → `doc.edited`
    #[serde(rename = "doc.edit")]
    EditDoc {
        doc_id: DocId,
        base_version: u64,
        op: TextOp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edit_id: Option<String>,
    },
    /// Rename a document. → `doc.renamed`
    #[serde(rename = "doc.rename")]
    RenameDoc { doc_id: DocId, title: String },
    /// Delete a document; writer windows showing it go back to the document list. →
    /// `doc.deleted`
    #[serde(rename = "doc.delete")]
    DeleteDoc { doc_id: DocId },
    /// Show a document in a writer window, or its document list without `doc_id`. →
    /// `writer.doc_shown`
    #[serde(rename = "writer.show_doc")]
    ShowDoc {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc_id: Option<DocId>,
    },
    /// Type into a shell window: `data` goes to its program as it is (clients encode keys,
    /// mouse and pastes with `choir_proto::terminal`). Not recorded. → no event
    #[serde(rename = "shell.input")]
    ShellInput { window_id: WindowId, data: String },
    /// Start a new shell in a shell window whose shell ended. → `shell.started`
    #[serde(rename = "shell.restart")]
    RestartShell { window_id: WindowId },
    /// Show a folder in a mail window, `offset` messages back from the newest (of those a
    /// `query` finds, if one is given); `account` (its address) switches accounts. → `mail.folder_opened` (the daemon then fetches
    /// the page: `mail.page_shown` or `mail.failed`)
    #[serde(rename = "mail.open_folder")]
    OpenMailFolder {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        folder: String,
        #[serde(default)]
        offset: u32,
        /// Only the messages whose headers or text hold every word of it (empty: all).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        query: String,
    },
    /// Open a message of the page a mail window shows, or close the open one (`uid`
    /// absent). → `mail.message_opened` (then `mail.message_shown` or `mail.failed`)
    #[serde(rename = "mail.open_message")]
    OpenMailMessage {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
    },
    /// Write a new message, or an answer to (`reply`) or a forward of (`forward`) the message
    /// open in a mail window, in a new document shown in a new writer window: headers, a
    /// blank line, the text. → `doc.created`, `window.opened`, `writer.doc_shown`
    #[serde(rename = "mail.compose")]
    ComposeMail {
        window_id: WindowId,
        #[serde(default)]
        reply: bool,
        #[serde(default)]
        forward: bool,
    },
    /// Answer the invitation in the message open in a mail window: the organizer is told by
    /// mail, and an accepted (or tentative) event goes into the calendar.
    /// → `mail.invitation_answered` (then `mail.done` or `mail.failed`)
    #[serde(rename = "mail.answer_invitation")]
    AnswerInvitation {
        window_id: WindowId,
        answer: crate::mail::InvitationAnswer,
    },
    /// Save the attachments of the message open in a mail window to the workspace
    /// (`attachments/NAME` each, replacing a file there). → `mail.attachments_saving` (then
    /// `mail.done` or `mail.failed`)
    #[serde(rename = "mail.save_attachments")]
    SaveAttachments { window_id: WindowId },
    /// Add a mail account from a mail window's form: the daemon checks it against its
    /// servers and keeps it in the sandbox, never in the log (nor its password anywhere
    /// else), then shows its inbox in the window. Only the owner may. → `mail.folder_opened`
    #[serde(rename = "mail.add_account")]
    AddMailAccount {
        window_id: WindowId,
        settings: crate::mail::AccountSettings,
    },
    /// Show a range of days in a calendar window, as a week of columns or an agenda.
    /// → `calendar.range_opened` (the daemon then reads it: `calendar.range_shown` or
    /// `calendar.failed`)
    #[serde(rename = "calendar.open_range")]
    OpenCalendarRange {
        window_id: WindowId,
        /// The first day, `YYYY-MM-DD`.
        from: String,
        days: u32,
        #[serde(default)]
        week: bool,
    },
    /// Add an event to the calendar a calendar window shows (RFC 3339 start and end).
    /// → `calendar.add_requested` (then the range again, or `calendar.failed`)
    #[serde(rename = "calendar.add")]
    AddCalendarEvent {
        window_id: WindowId,
        title: String,
        start: String,
        end: String,
    },
    /// Move an event the window shows. → `calendar.move_requested`
    #[serde(rename = "calendar.move")]
    MoveCalendarEvent {
        window_id: WindowId,
        uid: String,
        start: String,
        end: String,
    },
    /// Delete an event the window shows. → `calendar.delete_requested`
    #[serde(rename = "calendar.delete")]
    DeleteCalendarEvent { window_id: WindowId, uid: String },
    /// Send the message written in a document (as `mail.compose` lays it out).
    /// → `mail.send_requested` (then `mail.sent` or `mail.send_failed`)
    #[serde(rename = "mail.send")]
    SendMail { doc_id: DocId },
    /// Give an app window an input (a click, a text sent, a key). → `app.input` (the daemon
    /// runs the app: `app.view_shown` or `app.failed`)
    #[serde(rename = "app.input")]
    SendAppInput {
        window_id: WindowId,
        input: crate::apps::AppInput,
    },
    /// Grant an app a capability, or refuse it. → `app.capability_answered`
    #[serde(rename = "app.answer_capability")]
    AnswerAppCapability {
        name: String,
        capability: crate::apps::Capability,
        granted: bool,
    },
    /// Remove an installed app and its data, closing its windows. → `window.closed` per
    /// window, `app.removed`
    #[serde(rename = "app.remove")]
    RemoveApp { name: String },
}

/// Every command type this build accepts.
pub const KNOWN_COMMAND_TYPES: &[&str] = &[
    "window.open",
    "window.move",
    "window.resize",
    "window.focus",
    "window.minimize",
    "window.restore",
    "window.toggle_maximize",
    "window.close",
    "window.tile",
    "window.split",
    "layout.fit",
    "chat.post",
    "chat.cancel",
    "tool.approve",
    "tool.deny",
    "doc.create",
    "doc.edit",
    "doc.rename",
    "doc.delete",
    "writer.show_doc",
    "shell.input",
    "shell.restart",
    "mail.open_folder",
    "mail.open_message",
    "mail.compose",
    "mail.add_account",
    "mail.answer_invitation",
    "mail.save_attachments",
    "calendar.open_range",
    "calendar.add",
    "calendar.move",
    "calendar.delete",
    "mail.send",
    "app.input",
    "app.answer_capability",
    "app.remove",
];

impl Command {
    /// The stable wire name of this command.
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::OpenWindow { .. } => "window.open",
            Command::MoveWindow { .. } => "window.move",
            Command::ResizeWindow { .. } => "window.resize",
            Command::FocusWindow { .. } => "window.focus",
            Command::MinimizeWindow { .. } => "window.minimize",
            Command::RestoreWindow { .. } => "window.restore",
            Command::ToggleMaximize { .. } => "window.toggle_maximize",
            Command::CloseWindow { .. } => "window.close",
            Command::TileWindows { .. } => "window.tile",
            Command::SplitWindow { .. } => "window.split",
            Command::FitLayout { .. } => "layout.fit",
            Command::PostChat { .. } => "chat.post",
            Command::CancelTurn { .. } => "chat.cancel",
            Command::ApproveTool { .. } => "tool.approve",
            Command::DenyTool { .. } => "tool.deny",
            Command::CreateDoc { .. } => "doc.create",
            Command::EditDoc { .. } => "doc.edit",
            Command::RenameDoc { .. } => "doc.rename",
            Command::DeleteDoc { .. } => "doc.delete",
            Command::ShowDoc { .. } => "writer.show_doc",
            Command::ShellInput { .. } => "shell.input",
            Command::RestartShell { .. } => "shell.restart",
            Command::OpenMailFolder { .. } => "mail.open_folder",
            Command::OpenMailMessage { .. } => "mail.open_message",
            Command::ComposeMail { .. } => "mail.compose",
            Command::AddMailAccount { .. } => "mail.add_account",
            Command::AnswerInvitation { .. } => "mail.answer_invitation",
            Command::SaveAttachments { .. } => "mail.save_attachments",
            Command::OpenCalendarRange { .. } => "calendar.open_range",
            Command::AddCalendarEvent { .. } => "calendar.add",
            Command::MoveCalendarEvent { .. } => "calendar.move",
            Command::DeleteCalendarEvent { .. } => "calendar.delete",
            Command::SendMail { .. } => "mail.send",
            Command::SendAppInput { .. } => "app.input",
            Command::AnswerAppCapability { .. } => "app.answer_capability",
            Command::RemoveApp { .. } => "app.remove",
        }
    }
}
