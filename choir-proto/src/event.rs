//! Durable events: the facts in the sandbox's append-only log.

use serde::de::{DeserializeSeed as _, Error as _};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::app_kind::AppKind;
use crate::calendar::CalendarItem;
use crate::grid::Rect;
use crate::ids::{CallId, DocId, ThreadId, WindowId};
use crate::mail::{MailHeader, MailMessage};
use crate::settings::Settings;
use crate::text_op::TextOp;
use crate::world::Layout;

/// The schema version written with every new event. Bump it when a payload changes shape and
/// teach [`upcast`] to lift the old shape.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// One committed event. `seq` starts at 1 and has no holes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Position in the log, from 1, without holes.
    pub seq: u64,
    /// Commit time, Unix milliseconds.
    pub ts: i64,
    /// Who caused it: `user`, `agent`, `system`, `client:<name>`, ...
    pub actor: String,
    /// Links the events of one request (a command, an agent turn, a tool call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<String>,
    /// Schema version of `body` as stored.
    pub v: u32,
    /// What happened; serialized inline as `type` and `data`.
    #[serde(flatten)]
    pub body: EventBody,
}

/// An event before the store gave it a seq and a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub actor: String,
    pub correlation: Option<String>,
    pub body: EventBody,
}

impl NewEvent {
    pub fn new(actor: impl Into<String>, body: EventBody) -> Self {
        Self {
            actor: actor.into(),
            correlation: None,
            body,
        }
    }

    pub fn with_correlation(mut self, correlation: impl Into<String>) -> Self {
        self.correlation = Some(correlation.into());
        self
    }
}

/// Who wrote a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatRole {
    User,
    Assistant,
    System,
}

/// A tool call an assistant step asked for, as sent back to the model in later requests.
/// `call_id` is the daemon's own id (unique in the log), whatever id the model used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedCall {
    pub call_id: CallId,
    pub tool: String,
    pub args: Value,
}

/// Why an assistant message ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageEnding {
    /// The model reached its answer limit (`max_tokens`): the text is cut off.
    CutOff,
    /// The turn failed or was cancelled while this text streamed.
    Interrupted,
}

impl MessageEnding {
    /// How a client marks such a message.
    pub fn label(self) -> &'static str {
        match self {
            MessageEnding::CutOff => "cut off: the answer reached its length limit",
            MessageEnding::Interrupted => "interrupted",
        }
    }
}

/// The payload of an [`Event`]. Wire names are dotted and stable; an event type this build
/// does not know decodes to [`EventBody::Unknown`] so older clients keep working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", tag = "type", content = "data")]
pub enum EventBody {
    /// A window was opened; it is on top and focused.
    #[serde(rename = "window.opened")]
    WindowOpened {
        window_id: WindowId,
        app: AppKind,
        title: String,
        rect: Rect,
    },
    /// A window's top-left corner moved (a maximized window becomes normal).
    #[serde(rename = "window.moved")]
    WindowMoved { window_id: WindowId, x: u16, y: u16 },
    /// A window's size changed (a maximized window becomes normal).
    #[serde(rename = "window.resized")]
    WindowResized { window_id: WindowId, w: u16, h: u16 },
    /// A window was raised to the top and given focus.
    #[serde(rename = "window.focused")]
    WindowFocused { window_id: WindowId },
    /// A window was minimized; focus passes to the next visible window.
    #[serde(rename = "window.minimized")]
    WindowMinimized { window_id: WindowId },
    /// A minimized window was shown again.
    #[serde(rename = "window.restored")]
    WindowRestored { window_id: WindowId },
    /// A window was maximized to fill each client's screen. `area` is the desktop area of
    /// the client that asked: a shell window's terminal takes its size.
    #[serde(rename = "window.maximized")]
    WindowMaximized {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        area: Option<Rect>,
    },
    /// A maximized window went back to its own geometry.
    #[serde(rename = "window.unmaximized")]
    WindowUnmaximized { window_id: WindowId },
    /// A window was closed.
    #[serde(rename = "window.closed")]
    WindowClosed { window_id: WindowId },

    /// A chat thread was created.
    #[serde(rename = "chat.thread_created")]
    ChatThreadCreated { thread_id: ThreadId, title: String },
    /// The agent delegated a task to a sub-agent, which works in chat thread `thread_id` (a
    /// thread of its own, created just before) on behalf of the turn in `parent`.
    #[serde(rename = "chat.subagent_started")]
    ChatSubagentStarted {
        thread_id: ThreadId,
        parent: ThreadId,
        call_id: CallId,
        /// 1 for a sub-agent of a top-level turn, 2 for its own sub-agents...
        depth: u32,
        /// The tools it may use (empty: the same as its parent's).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tools: Vec<String>,
    },
    /// A user posted a chat message.
    #[serde(rename = "chat.user_message")]
    ChatUserMessage { thread_id: ThreadId, text: String },
    /// One finished step of the assistant (deltas travel as ephemerals): its text, the tools
    /// it called (their results follow as `tool.*` events), and how it ended when it did not
    /// end normally. A step with no text is not a chat message: it only carries tool calls.
    #[serde(rename = "chat.assistant_message")]
    ChatAssistantMessage {
        thread_id: ThreadId,
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<PlannedCall>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ending: Option<MessageEnding>,
    },
    /// The agent began answering a thread.
    #[serde(rename = "chat.turn_started")]
    ChatTurnStarted { thread_id: ThreadId },
    /// The agent finished its turn normally.
    #[serde(rename = "chat.turn_completed")]
    ChatTurnCompleted { thread_id: ThreadId },
    /// A client asked to cancel the running turn.
    #[serde(rename = "chat.cancel_requested")]
    ChatCancelRequested { thread_id: ThreadId },
    /// The turn was cancelled: streaming stopped and any running tool was killed.
    #[serde(rename = "chat.turn_cancelled")]
    ChatTurnCancelled { thread_id: ThreadId },
    /// The turn failed (the provider is down or misbehaved); `error` says why.
    #[serde(rename = "chat.turn_failed")]
    ChatTurnFailed { thread_id: ThreadId, error: String },

    /// A document was created.
    #[serde(rename = "doc.created")]
    DocCreated {
        doc_id: DocId,
        title: String,
        content: String,
    },
    /// A document was edited: `op` (already rebased onto the previous version) made version
    /// `version`. `edit_id` is the tag the editing client chose, so it can recognise its own
    /// edit in the stream.
    #[serde(rename = "doc.edited")]
    DocEdited {
        doc_id: DocId,
        version: u64,
        op: TextOp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        edit_id: Option<String>,
    },
    /// A document was renamed.
    #[serde(rename = "doc.renamed")]
    DocRenamed { doc_id: DocId, title: String },
    /// A document was deleted.
    #[serde(rename = "doc.deleted")]
    DocDeleted { doc_id: DocId },
    /// A writer window now shows a document, or its document list when `doc_id` is absent.
    #[serde(rename = "writer.doc_shown")]
    WriterDocShown {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        doc_id: Option<DocId>,
    },

    /// A tool call was asked for (by the agent or a client).
    #[serde(rename = "tool.requested")]
    ToolRequested {
        call_id: CallId,
        tool: String,
        args: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
        needs_approval: bool,
        /// What the call would change, for the approval prompt (a unified diff for edits).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
    },
    /// A pending tool call was approved.
    #[serde(rename = "tool.approved")]
    ToolApproved { call_id: CallId },
    /// A pending tool call was denied.
    #[serde(rename = "tool.denied")]
    ToolDenied { call_id: CallId, reason: String },
    /// A tool call began running (for calls that were never requested, such as
    /// `choir --exec`, this is the first event of the call).
    #[serde(rename = "tool.started")]
    ToolStarted {
        call_id: CallId,
        tool: String,
        args: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
    },
    /// A tool call ended.
    #[serde(rename = "tool.finished")]
    ToolFinished {
        call_id: CallId,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        output: String,
        duration_ms: u64,
    },

    /// A shell started in shell window `window_id`, on a terminal of `rows` by `cols`
    /// cells (its screen starts blank).
    #[serde(rename = "shell.started")]
    ShellStarted {
        window_id: WindowId,
        /// The program and its working directory, as shown to the user.
        program: String,
        rows: u16,
        cols: u16,
        /// Lines of scrollback its window keeps (older events: the default).
        #[serde(default = "default_scrollback")]
        scrollback: u32,
    },
    /// What a shell wrote to its terminal, in order (escape sequences may be cut between
    /// two events).
    #[serde(rename = "shell.output")]
    ShellOutput {
        window_id: WindowId,
        data: String,
        /// Its number among the shell's outputs (from 1; 0 in logs from before numbering):
        /// the same piece sent ahead uncommitted (`EphemeralBody::ShellOutput`) has it too.
        #[serde(default, skip_serializing_if = "is_zero")]
        chunk: u64,
    },
    /// A shell's terminal was resized (in step with its output).
    #[serde(rename = "shell.resized")]
    ShellResized {
        window_id: WindowId,
        rows: u16,
        cols: u16,
    },
    /// A shell's screen as it now is, replacing it: sent instead of output that came faster
    /// than the log takes it (`skipped` bytes of it), and when a full-screen program leaves.
    #[serde(rename = "shell.screen")]
    ShellScreen {
        window_id: WindowId,
        rows: u16,
        cols: u16,
        /// Escape sequences that draw the screen on a blank terminal.
        image: String,
        #[serde(default)]
        skipped: u64,
    },
    /// A shell ended: it exited, or the daemon that ran it stopped.
    #[serde(rename = "shell.ended")]
    ShellEnded {
        window_id: WindowId,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
    },

    /// Windows were split, fitted to another area, or left a split layout: the layout now
    /// (`None`: every window floats).
    #[serde(rename = "desktop.layout")]
    LayoutChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        layout: Option<Layout>,
    },
    /// The user's settings as the daemon read them (at start, and when asked to read them
    /// again); `problem` says what was wrong with the file, whose defaults are then used.
    #[serde(rename = "settings.changed")]
    SettingsChanged {
        settings: Settings,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
    },

    /// The user opened a folder of an account (the default account when `account` is empty)
    /// in a mail window, `offset` messages back from the newest; the daemon fetches the page.
    #[serde(rename = "mail.folder_opened")]
    MailFolderOpened {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        account: String,
        folder: String,
        #[serde(default)]
        offset: u32,
        /// What the user searched for (empty: every message).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        query: String,
    },
    /// A page of a folder's headers, as the server had them, shown in a mail window.
    #[serde(rename = "mail.page_shown")]
    MailPageShown {
        window_id: WindowId,
        account: String,
        accounts: Vec<String>,
        folders: Vec<String>,
        folder: String,
        validity: u32,
        total: u32,
        offset: u32,
        headers: Vec<MailHeader>,
        /// What the user searched for (empty: every message).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        query: String,
    },
    /// The user opened a message of the page in a mail window (`None`: closed the one open).
    #[serde(rename = "mail.message_opened")]
    MailMessageOpened {
        window_id: WindowId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
    },
    /// A message's text, fetched from the server, shown in a mail window.
    #[serde(rename = "mail.message_shown")]
    MailMessageShown {
        window_id: WindowId,
        message: Box<MailMessage>,
    },
    /// New messages came into a folder some mail window shows (IMAP IDLE); `total` is the
    /// folder's count after them.
    #[serde(rename = "mail.arrived")]
    MailArrived {
        account: String,
        folder: String,
        total: u32,
        headers: Vec<MailHeader>,
    },
    /// What a mail window asked for could not be done; `error` says why.
    #[serde(rename = "mail.failed")]
    MailFailed { window_id: WindowId, error: String },
    /// The user answered the invitation in the message open in a mail window.
    #[serde(rename = "mail.invitation_answered")]
    MailInvitationAnswered {
        window_id: WindowId,
        uid: u32,
        answer: crate::mail::InvitationAnswer,
    },
    /// The user saved the attachments of the message open in a mail window to the workspace
    /// (`attachments/NAME` each).
    #[serde(rename = "mail.attachments_saving")]
    MailAttachmentsSaving {
        window_id: WindowId,
        uid: u32,
        names: Vec<String>,
    },
    /// What a mail window asked for was done (an invitation answered, attachments saved):
    /// `said` says what.
    #[serde(rename = "mail.done")]
    MailDone { window_id: WindowId, said: String },
    /// The user asked to send the message written in document `doc_id` (headers, a blank
    /// line, the text); the daemon sends it through the account's SMTP server.
    #[serde(rename = "mail.send_requested")]
    MailSendRequested { doc_id: DocId },
    /// The message written in document `doc_id` could not be sent; `error` says why. The
    /// document is kept as it is.
    #[serde(rename = "mail.send_failed")]
    MailSendFailed { doc_id: DocId, error: String },
    /// The message written in document `doc_id` was sent (its headers only).
    #[serde(rename = "mail.sent")]
    MailSent {
        doc_id: DocId,
        account: String,
        to: String,
        subject: String,
    },

    /// The user showed a range of days in a calendar window (`week`: as a week of columns,
    /// else as an agenda); the daemon reads its events.
    #[serde(rename = "calendar.range_opened")]
    CalendarRangeOpened {
        window_id: WindowId,
        /// The first day, `YYYY-MM-DD`.
        from: String,
        days: u32,
        #[serde(default)]
        week: bool,
    },
    /// A range of days of the account's calendar, with its events as the server had them,
    /// shown in a calendar window.
    #[serde(rename = "calendar.range_shown")]
    CalendarRangeShown {
        window_id: WindowId,
        account: String,
        from: String,
        days: u32,
        events: Vec<CalendarItem>,
    },
    /// The user added an event from a calendar window (RFC 3339 start and end).
    #[serde(rename = "calendar.add_requested")]
    CalendarAddRequested {
        window_id: WindowId,
        title: String,
        start: String,
        end: String,
    },
    /// The user moved an event in a calendar window.
    #[serde(rename = "calendar.move_requested")]
    CalendarMoveRequested {
        window_id: WindowId,
        uid: String,
        start: String,
        end: String,
    },
    /// The user deleted an event in a calendar window.
    #[serde(rename = "calendar.delete_requested")]
    CalendarDeleteRequested { window_id: WindowId, uid: String },
    /// What a calendar window asked for could not be done; `error` says why.
    #[serde(rename = "calendar.failed")]
    CalendarFailed { window_id: WindowId, error: String },

    /// An app was built and installed (again, if it was): `version` names its component
    /// (a digest of its bytes). Its open windows run the new version from now on.
    #[serde(rename = "app.built")]
    AppBuilt {
        name: String,
        version: String,
        bytes: u64,
    },
    /// An app was removed, with its data; its windows closed before.
    #[serde(rename = "app.removed")]
    AppRemoved { name: String },
    /// What an app window received: a click, a text sent, a key, a tick.
    #[serde(rename = "app.input")]
    AppReceived {
        window_id: WindowId,
        input: crate::apps::AppInput,
    },
    /// What an app window shows, drawn by version `version` of its app.
    #[serde(rename = "app.view_shown")]
    AppViewShown {
        window_id: WindowId,
        version: String,
        view: crate::apps::ViewTree,
    },
    /// An app kept `value` under `key` in its store (`None`: removed it).
    #[serde(rename = "app.stored")]
    AppStored {
        name: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// An app window stopped: its app trapped, ran out of fuel or memory, or cannot be
    /// loaded; `error` says which. The next input starts it again.
    #[serde(rename = "app.failed")]
    AppFailed { window_id: WindowId, error: String },
    /// An app asked for a capability it has not been granted or refused; the user is asked.
    #[serde(rename = "app.capability_asked")]
    AppCapabilityAsked {
        name: String,
        capability: crate::apps::Capability,
    },
    /// The user granted (or refused) an app a capability.
    #[serde(rename = "app.capability_answered")]
    AppCapabilityAnswered {
        name: String,
        capability: crate::apps::Capability,
        granted: bool,
    },

    /// An event type this build does not know, kept verbatim.
    #[serde(skip)]
    Unknown { type_name: String, data: Value },
}

/// Every event type this build decodes; anything else becomes [`EventBody::Unknown`].
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "window.opened",
    "window.moved",
    "window.resized",
    "window.focused",
    "window.minimized",
    "window.restored",
    "window.maximized",
    "window.unmaximized",
    "window.closed",
    "chat.thread_created",
    "chat.subagent_started",
    "chat.user_message",
    "chat.assistant_message",
    "chat.turn_started",
    "chat.turn_completed",
    "chat.cancel_requested",
    "chat.turn_cancelled",
    "chat.turn_failed",
    "doc.created",
    "doc.edited",
    "doc.renamed",
    "doc.deleted",
    "writer.doc_shown",
    "tool.requested",
    "tool.approved",
    "tool.denied",
    "tool.started",
    "tool.finished",
    "shell.started",
    "shell.output",
    "shell.resized",
    "shell.screen",
    "shell.ended",
    "settings.changed",
    "desktop.layout",
    "mail.folder_opened",
    "mail.page_shown",
    "mail.message_opened",
    "mail.message_shown",
    "mail.arrived",
    "mail.failed",
    "mail.invitation_answered",
    "mail.attachments_saving",
    "mail.done",
    "mail.send_requested",
    "mail.send_failed",
    "mail.sent",
    "calendar.range_opened",
    "calendar.range_shown",
    "calendar.add_requested",
    "calendar.move_requested",
    "calendar.delete_requested",
    "calendar.failed",
    "app.built",
    "app.removed",
    "app.input",
    "app.view_shown",
    "app.stored",
    "app.failed",
    "app.capability_asked",
    "app.capability_answered",
];

impl EventBody {
    /// The stable dotted wire name of this event.
    pub fn type_name(&self) -> &str {
        match self {
            EventBody::WindowOpened { .. } => "window.opened",
            EventBody::WindowMoved { .. } => "window.moved",
            EventBody::WindowResized { .. } => "window.resized",
            EventBody::WindowFocused { .. } => "window.focused",
            EventBody::WindowMinimized { .. } => "window.minimized",
            EventBody::WindowRestored { .. } => "window.restored",
            EventBody::WindowMaximized { .. } => "window.maximized",
            EventBody::WindowUnmaximized { .. } => "window.unmaximized",
            EventBody::WindowClosed { .. } => "window.closed",
            EventBody::ChatThreadCreated { .. } => "chat.thread_created",
            EventBody::ChatSubagentStarted { .. } => "chat.subagent_started",
            EventBody::ChatUserMessage { .. } => "chat.user_message",
            EventBody::ChatAssistantMessage { .. } => "chat.assistant_message",
            EventBody::ChatTurnStarted { .. } => "chat.turn_started",
            EventBody::ChatTurnCompleted { .. } => "chat.turn_completed",
            EventBody::ChatCancelRequested { .. } => "chat.cancel_requested",
            EventBody::ChatTurnCancelled { .. } => "chat.turn_cancelled",
            EventBody::ChatTurnFailed { .. } => "chat.turn_failed",
            EventBody::DocCreated { .. } => "doc.created",
            EventBody::DocEdited { .. } => "doc.edited",
            EventBody::DocRenamed { .. } => "doc.renamed",
            EventBody::DocDeleted { .. } => "doc.deleted",
            EventBody::WriterDocShown { .. } => "writer.doc_shown",
            EventBody::ToolRequested { .. } => "tool.requested",
            EventBody::ToolApproved { .. } => "tool.approved",
            EventBody::ToolDenied { .. } => "tool.denied",
            EventBody::ToolStarted { .. } => "tool.started",
            EventBody::ToolFinished { .. } => "tool.finished",
            EventBody::ShellStarted { .. } => "shell.started",
            EventBody::ShellOutput { .. } => "shell.output",
            EventBody::ShellResized { .. } => "shell.resized",
            EventBody::ShellScreen { .. } => "shell.screen",
            EventBody::ShellEnded { .. } => "shell.ended",
            EventBody::SettingsChanged { .. } => "settings.changed",
            EventBody::LayoutChanged { .. } => "desktop.layout",
            EventBody::MailFolderOpened { .. } => "mail.folder_opened",
            EventBody::MailPageShown { .. } => "mail.page_shown",
            EventBody::MailMessageOpened { .. } => "mail.message_opened",
            EventBody::MailMessageShown { .. } => "mail.message_shown",
            EventBody::MailArrived { .. } => "mail.arrived",
            EventBody::MailFailed { .. } => "mail.failed",
            EventBody::MailInvitationAnswered { .. } => "mail.invitation_answered",
            EventBody::MailAttachmentsSaving { .. } => "mail.attachments_saving",
            EventBody::MailDone { .. } => "mail.done",
            EventBody::MailSendRequested { .. } => "mail.send_requested",
            EventBody::MailSendFailed { .. } => "mail.send_failed",
            EventBody::MailSent { .. } => "mail.sent",
            EventBody::CalendarRangeOpened { .. } => "calendar.range_opened",
            EventBody::CalendarRangeShown { .. } => "calendar.range_shown",
            EventBody::CalendarAddRequested { .. } => "calendar.add_requested",
            EventBody::CalendarMoveRequested { .. } => "calendar.move_requested",
            EventBody::CalendarDeleteRequested { .. } => "calendar.delete_requested",
            EventBody::CalendarFailed { .. } => "calendar.failed",
            EventBody::AppBuilt { .. } => "app.built",
            EventBody::AppRemoved { .. } => "app.removed",
            EventBody::AppReceived { .. } => "app.input",
            EventBody::AppViewShown { .. } => "app.view_shown",
            EventBody::AppStored { .. } => "app.stored",
            EventBody::AppFailed { .. } => "app.failed",
            EventBody::AppCapabilityAsked { .. } => "app.capability_asked",
            EventBody::AppCapabilityAnswered { .. } => "app.capability_answered",
            EventBody::Unknown { type_name, .. } => type_name,
        }
    }

    /// The payload alone (the `data` member on the wire), as stored in the log.
    pub fn data(&self) -> Result<Value, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        Ok(value
            .as_object_mut()
            .and_then(|object| object.remove("data"))
            .unwrap_or(Value::Null))
    }

    /// The payload alone as JSON text, as stored in the log. Serializes once, without an
    /// intermediate `Value`: the compact form of a body is `{"type":"<name>","data":<data>}`.
    pub fn data_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string(self)?;
        let head = ["{\"type\":\"", self.type_name(), "\",\"data\":"];
        let prefix_len: usize = head.iter().map(|part| part.len()).sum();
        let mut rest = text.as_str();
        let framed = head.iter().all(|part| match rest.strip_prefix(part) {
            Some(tail) => {
                rest = tail;
                true
            }
            None => false,
        });
        if framed && text.len() > prefix_len && text.ends_with('}') {
            text.truncate(text.len() - 1);
            text.drain(..prefix_len);
            return Ok(text);
        }
        serde_json::to_string(&self.data()?)
    }

    /// Rebuilds a body from a stored row: type name, schema version and payload. Older
    /// versions are lifted with [`upcast`]; unknown types become [`EventBody::Unknown`].
    pub fn from_parts(
        type_name: &str,
        version: u32,
        data: Value,
    ) -> Result<Self, serde_json::Error> {
        Payload(type_name).deserialize(upcast(type_name, version, data))
    }
}

impl EventBody {
    /// Rebuilds a body from a stored row whose payload is JSON text. The common case (a
    /// known type at the current version) is decoded straight from the text.
    pub fn from_stored(
        type_name: &str,
        version: u32,
        data: &str,
    ) -> Result<Self, serde_json::Error> {
        if version == EVENT_SCHEMA_VERSION && KNOWN_EVENT_TYPES.contains(&type_name) {
            let mut deserializer = serde_json::Deserializer::from_str(data);
            let body = Payload(type_name).deserialize(&mut deserializer)?;
            deserializer.end()?;
            return Ok(body);
        }
        EventBody::from_parts(type_name, version, serde_json::from_str(data)?)
    }
}

/// Lifts a stored payload of an older schema version to the current shape. Version 1 is the
/// current shape of every type, so today this is the identity; it is the one place to add a
/// step when a payload changes.
pub fn upcast(_type_name: &str, _version: u32, data: Value) -> Value {
    data
}

impl Serialize for EventBody {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EventBody::Unknown { type_name, data } => {
                let mut state = serializer.serialize_struct("EventBody", 2)?;
                state.serialize_field("type", type_name)?;
                state.serialize_field("data", data)?;
                state.end()
            }
            known => EventBody::serialize(known, serializer),
        }
    }
}

impl<'de> Deserialize<'de> for EventBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = Value::deserialize(deserializer)?;
        let type_name = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| D::Error::custom("event without a string `type`"))?
            .to_owned();
        let data = value
            .as_object_mut()
            .and_then(|object| object.remove("data"))
            .unwrap_or(Value::Null);
        Payload(&type_name)
            .deserialize(data)
            .map_err(D::Error::custom)
    }
}

/// An event's members, as its decoder meets them.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum EventMember {
    Seq,
    Ts,
    Actor,
    Correlation,
    V,
    Type,
    Data,
    #[serde(other)]
    Other,
}

/// Decodes an event member by member: the payload straight from the JSON once its `type` is
/// known (the daemon always writes `type` first), through the same decoder as a stored row;
/// a payload that comes before its type is held as a `Value` until the type comes.
impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> serde::de::Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an event")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let (mut seq, mut ts, mut actor, mut correlation, mut v) = (None, None, None, None, None);
        let mut type_name: Option<String> = None;
        let mut body = None;
        let mut early_data: Option<Value> = None;
        while let Some(member) = map.next_key::<EventMember>()? {
            match member {
                EventMember::Seq => seq = Some(map.next_value()?),
                EventMember::Ts => ts = Some(map.next_value()?),
                EventMember::Actor => actor = Some(map.next_value()?),
                EventMember::Correlation => correlation = map.next_value()?,
                EventMember::V => v = Some(map.next_value()?),
                EventMember::Type => type_name = Some(map.next_value()?),
                EventMember::Data => match type_name.as_deref() {
                    Some(name) => body = Some(map.next_value_seed(Payload(name))?),
                    None => early_data = Some(map.next_value()?),
                },
                EventMember::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        let missing = A::Error::missing_field;
        let type_name = type_name.ok_or_else(|| missing("type"))?;
        let body = match body {
            Some(body) => body,
            None => {
                // Decoded again from text, through the same decoder as the usual order.
                let data = early_data.unwrap_or(Value::Null).to_string();
                let mut decoder = serde_json::Deserializer::from_str(&data);
                Payload(&type_name)
                    .deserialize(&mut decoder)
                    .map_err(A::Error::custom)?
            }
        };
        Ok(Event {
            seq: seq.ok_or_else(|| missing("seq"))?,
            ts: ts.ok_or_else(|| missing("ts"))?,
            actor: actor.ok_or_else(|| missing("actor"))?,
            correlation,
            v: v.ok_or_else(|| missing("v"))?,
            body,
        })
    }
}

/// An event's `data`, once its type is known.
struct Payload<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for Payload<'_> {
    type Value = EventBody;

    fn deserialize<D: Deserializer<'de>>(self, data: D) -> Result<EventBody, D::Error> {
        if !KNOWN_EVENT_TYPES.contains(&self.0) {
            return Ok(EventBody::Unknown {
                type_name: self.0.to_owned(),
                data: Value::deserialize(data)?,
            });
        }
        EventBody::deserialize(TypeThen {
            type_name: self.0,
            data,
        })
    }
}

/// A known type and its payload's decoder, handed to the derived decoder as the sequence
/// `[type, data]`: one way in, whether the payload comes from the socket's text, a stored row
/// or a `Value`, so the browser's code holds the variants' decoder once (from a map, whose
/// keys may come in either order, serde builds a second one for a payload before its type).
struct TypeThen<'a, D> {
    type_name: &'a str,
    data: D,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for TypeThen<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_seq(TypeThenParts {
            type_name: Some(self.type_name),
            data: Some(self.data),
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct TypeThenParts<'a, D> {
    type_name: Option<&'a str>,
    data: Option<D>,
}

impl<'de, D: Deserializer<'de>> serde::de::SeqAccess<'de> for TypeThenParts<'_, D> {
    type Error = D::Error;

    fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, D::Error> {
        if let Some(type_name) = self.type_name.take() {
            let name: serde::de::value::StrDeserializer<'_, D::Error> =
                serde::de::IntoDeserializer::into_deserializer(type_name);
            return seed.deserialize(name).map(Some);
        }
        match self.data.take() {
            Some(data) => seed.deserialize(data).map(Some),
            None => Ok(None),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn default_scrollback() -> u32 {
    crate::terminal::DEFAULT_SCROLLBACK
}
