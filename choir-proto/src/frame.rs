//! The frames spoken over `/ws`: JSON text messages, one frame each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::command::{Command, KNOWN_COMMAND_TYPES};
use crate::event::Event;
use crate::ids::{DocId, ThreadId, WindowId};
use crate::tag_first;
use crate::world::{Doc, ThreadPage, World};

/// WebSocket close code after a missing or wrong token.
pub const CLOSE_UNAUTHORIZED: u16 = 4001;
/// WebSocket close code after a `hello` with another protocol version.
pub const CLOSE_PROTOCOL_VERSION: u16 = 4002;
/// WebSocket close code when the first frame is not a valid `hello`.
pub const CLOSE_EXPECTED_HELLO: u16 = 4003;
/// WebSocket close code for a `resume_from` beyond the daemon's head.
pub const CLOSE_RESUME_BEYOND_HEAD: u16 = 4004;
/// WebSocket close code when the share token the connection used was revoked or expired.
pub const CLOSE_REVOKED: u16 = 4005;
/// WebSocket close code when the sandbox token the connection used was replaced (a full share
/// ended): a local client reads the new one from `daemon.json` and reconnects.
pub const CLOSE_TOKEN_REPLACED: u16 = 4006;

/// The protocol version a client announces in `hello`; the daemon refuses any other.
/// Version 2: the welcome is bounded (documents without text, the latest messages of the
/// chats shown only; see `World::welcome`), and `query` frames load the rest.
pub const PROTOCOL_VERSION: u32 = 2;
/// Most messages one `thread.messages` query returns.
pub const MAX_PAGE: u32 = 500;
/// Largest frame the daemon accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame of every connection. → `welcome`, or `error` (`unauthorized`,
    /// `protocol_version`) followed by a close.
    ///
    /// With `resume_from: Some(n)` (the last seq the client applied) the welcome carries no
    /// snapshot and the events after `n` follow; without it the welcome carries a snapshot
    /// at `head` and the events after `head` follow.
    Hello {
        protocol: u32,
        /// The sandbox token, unless the HTTP upgrade request already carried it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_from: Option<u64>,
        /// A name for logs and the `actor` of the events this connection causes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// Ask for something. → `ack` with the same `id`, or `error` with the same `id`.
    Command { id: u64, command: Command },
    /// Read something the welcome left out. → `reply` with the same `id`, or `error` with the
    /// same `id`. Events keep arriving meanwhile; the reply fits among them (see [`Query`]).
    Query { id: u64, query: Query },
    /// → `pong` with the same nonce.
    Ping {
        #[serde(default)]
        nonce: u64,
    },
}

/// Frames the daemon sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Reply to `hello`.
    Welcome {
        protocol: u32,
        /// The last committed seq when the connection was set up.
        head: u64,
        /// The world at `head`, unless the client resumed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snapshot: Option<Box<World>>,
        /// The connection watches only (a read-only share): every command is refused with
        /// `read_only`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        read_only: bool,
    },
    /// One committed event, in seq order without gaps or duplicates.
    Event { event: Event },
    /// A live, never stored signal (streaming text, typing).
    Ephemeral { body: EphemeralBody },
    /// A command was accepted and its events committed.
    Ack { id: u64, seqs: Vec<u64> },
    /// The answer to a `query`.
    Reply { id: u64, reply: Reply },
    /// Something went wrong; `id` names the command it answers, if any.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
    /// Reply to `ping`.
    Pong { nonce: u64 },
}

/// [`ServerFrame`]'s variants, to decode a frame without buffering it (see `tag_first`).
#[derive(Deserialize)]
#[serde(remote = "ServerFrame", rename_all = "snake_case")]
enum ServerFrameDef {
    Welcome {
        protocol: u32,
        head: u64,
        #[serde(default)]
        snapshot: Option<Box<World>>,
        #[serde(default)]
        read_only: bool,
    },
    Event {
        event: Event,
    },
    Ephemeral {
        body: EphemeralBody,
    },
    Ack {
        id: u64,
        seqs: Vec<u64>,
    },
    Reply {
        id: u64,
        reply: Reply,
    },
    Error {
        #[serde(default)]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
    Pong {
        nonce: u64,
    },
}

tag_first::mirrored!(ServerFrame, ServerFrameDef, "type");

/// What a client may read beyond its welcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Query {
    /// A thread's messages with seq `< before` (the latest ones without `before`), at most
    /// `limit` (up to [`MAX_PAGE`]), with their tool calls. → `thread.messages`. Older
    /// messages never change, so the page fits whatever arrived live meanwhile; take it in
    /// with `World::prepend_page`.
    #[serde(rename = "thread.messages")]
    ThreadMessages {
        thread_id: ThreadId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        limit: u32,
    },
    /// A document with its text and recent edits. → `doc`. The copy is at least as new as
    /// every event sent before the reply; take it in with `World::load_doc`, which keeps
    /// later edits applying on top and ignores those already in it.
    #[serde(rename = "doc.load")]
    Doc { doc_id: DocId },
    /// A document's text as it was at `version`, the version it had right after event `seq`
    /// (a past moment: nothing after `seq` is read). → `doc`, holding that version and its
    /// text.
    #[serde(rename = "doc.at")]
    DocAt {
        doc_id: DocId,
        version: u64,
        seq: u64,
    },
    /// The world as it was at a past moment (time travel). → `moment`. Live events keep
    /// arriving meanwhile; the moment does not change with them.
    #[serde(rename = "world.at")]
    Moment { at: Seek },
}

/// A point of the log to travel to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Seek {
    /// Right after the event `seq` (0: before the first event); beyond the head is the head.
    Seq { seq: u64 },
    /// Right after the last event at or before `ts` (milliseconds since the epoch).
    Time { ts: i64 },
    /// The next (or, with `forward: false`, the previous) chat message or tool call after
    /// (before) `from`; where there is none, the head (or 0).
    Mark { from: u64, forward: bool },
}

/// The world as it was right after event `seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    pub seq: u64,
    /// The time of event `seq` (0 before the first event).
    pub ts: i64,
    /// The log's head when the moment was read.
    pub head: u64,
    /// What a welcome at `seq` would carry.
    pub world: Box<World>,
    /// The `at` of the query this answers, echoed: a client tells the answer to its latest
    /// move from a late one (queries are answered side by side, so in any order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Seek>,
}

/// Answers to [`Query`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Reply {
    #[serde(rename = "thread.messages")]
    ThreadMessages { page: ThreadPage },
    #[serde(rename = "doc")]
    Doc { doc: Doc },
    #[serde(rename = "moment")]
    Moment { moment: Moment },
}

/// [`Reply`]'s variants, to decode one without buffering it (see `tag_first`).
#[derive(Deserialize)]
#[serde(remote = "Reply")]
enum ReplyDef {
    #[serde(rename = "thread.messages")]
    ThreadMessages { page: ThreadPage },
    #[serde(rename = "doc")]
    Doc { doc: Doc },
    #[serde(rename = "moment")]
    Moment { moment: Moment },
}

tag_first::mirrored!(Reply, ReplyDef, "type");

/// Live signals that are never stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EphemeralBody {
    /// A piece of an assistant message being streamed.
    ChatDelta { thread_id: ThreadId, text: String },
    /// Someone is typing in a thread.
    Typing { thread_id: ThreadId, actor: String },
    /// A shell's output, sent as it is read, before its `shell.output` event is committed:
    /// clients draw it at once and drop it when the event with the same `chunk` comes.
    ShellOutput {
        window_id: WindowId,
        chunk: u64,
        data: String,
    },
    /// How much of the model this sandbox's user has used today, through the hypervisor's
    /// model gateway: sent after each turn, and to each client as it connects.
    ModelUsage(ModelUsage),
    /// A kind this build does not know.
    Unknown,
}

/// [`EphemeralBody`]'s variants, to decode one without buffering it (see `tag_first`); a kind
/// this build does not know decodes as `Unknown`.
#[derive(Deserialize)]
#[serde(remote = "EphemeralBody", rename_all = "snake_case")]
enum EphemeralBodyDef {
    ChatDelta {
        thread_id: ThreadId,
        text: String,
    },
    Typing {
        thread_id: ThreadId,
        actor: String,
    },
    ShellOutput {
        window_id: WindowId,
        chunk: u64,
        data: String,
    },
    ModelUsage(ModelUsage),
    Unknown,
}

tag_first::mirrored!(EphemeralBody, EphemeralBodyDef, "kind");

/// A user's use of the model gateway today (UTC) and their daily limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    pub requests_today: u64,
    pub tokens_today: u64,
    pub tokens_per_day: u64,
}

impl ModelUsage {
    /// What the desktop shows: `model 12.3k/1M today`.
    pub fn label(&self) -> String {
        format!(
            "model {}/{} today",
            short(self.tokens_today),
            short(self.tokens_per_day)
        )
    }

    /// Whether the day's tokens are used up.
    pub fn exhausted(&self) -> bool {
        self.tokens_today >= self.tokens_per_day
    }
}

/// 999 → "999", 12_345 → "12.3k", 1_000_000 → "1M".
fn short(n: u64) -> String {
    let (per, unit) = match n {
        0..=999 => return n.to_string(),
        1_000..=999_999 => (1_000, "k"),
        1_000_000..=999_999_999 => (1_000_000, "M"),
        _ => (1_000_000_000, "G"),
    };
    let text = crate::human::one_decimal(n, per);
    format!("{}{unit}", text.trim_end_matches(".0"))
}

/// Stable error codes: clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid JSON or not a known frame.
    MalformedFrame,
    /// The frame exceeds [`MAX_FRAME_BYTES`].
    FrameTooLarge,
    /// The first frame was not `hello`, or `hello` came twice.
    ExpectedHello,
    /// Missing or wrong token.
    Unauthorized,
    /// The client speaks another protocol version.
    ProtocolVersion,
    /// The command type is not known to this daemon.
    UnknownCommand,
    /// The command is known but its arguments are invalid.
    InvalidCommand,
    /// The command names something that does not exist.
    NotFound,
    /// No tool has that name.
    UnknownTool,
    /// A tool's arguments do not fit its schema.
    InvalidArguments,
    /// `resume_from` names a seq this daemon has never committed (its log is older than
    /// the client's state); reconnect without `resume_from`.
    ResumeBeyondHead,
    /// The connection is read-only (a watcher's share): it may not change anything.
    ReadOnly,
    /// The daemon failed; the message says why.
    Internal,
    /// A code this build does not know.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedFrame => "malformed_frame",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::ExpectedHello => "expected_hello",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::ProtocolVersion => "protocol_version",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::InvalidCommand => "invalid_command",
            ErrorCode::NotFound => "not_found",
            ErrorCode::UnknownTool => "unknown_tool",
            ErrorCode::InvalidArguments => "invalid_arguments",
            ErrorCode::ResumeBeyondHead => "resume_beyond_head",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::Internal => "internal",
            ErrorCode::Unknown => "unknown",
        }
    }
}

/// A client frame that could not be decoded: the code and message of the `error` frame to
/// send back, and the command id when one could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub id: Option<u64>,
    pub code: ErrorCode,
    pub message: String,
}

impl ClientFrame {
    /// Decodes a text frame, classifying failures: too large, not JSON / not a frame, or a
    /// command of an unknown or malformed type.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        let value = parse_json(text)?;
        let id = value.get("id").and_then(Value::as_u64);
        let command_type = value
            .get("command")
            .and_then(|command| command.get("type"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let frame_type = value.get("type").and_then(Value::as_str);
        let is_command = frame_type == Some("command");
        let is_query = frame_type == Some("query") && value.get("query").is_some();
        if let (true, Some(command_type)) = (is_command, command_type.as_deref()) {
            check_command_type(command_type).map_err(|err| FrameError { id, ..err })?;
        }
        serde_json::from_value(value).map_err(|err| FrameError {
            id,
            code: if (is_command && command_type.is_some()) || is_query {
                ErrorCode::InvalidCommand
            } else {
                ErrorCode::MalformedFrame
            },
            message: err.to_string(),
        })
    }
}

impl Command {
    /// Decodes a command on its own (the body of `POST /api/commands`), with the same error
    /// classification as [`ClientFrame::parse`].
    pub fn parse(text: &str) -> Result<Command, FrameError> {
        let value = parse_json(text)?;
        match value.get("type").and_then(Value::as_str) {
            Some(command_type) => check_command_type(command_type)?,
            None => {
                return Err(FrameError {
                    id: None,
                    code: ErrorCode::InvalidCommand,
                    message: "a command needs a string `type`".into(),
                })
            }
        }
        serde_json::from_value(value).map_err(|err| FrameError {
            id: None,
            code: ErrorCode::InvalidCommand,
            message: err.to_string(),
        })
    }
}

/// Size check, then JSON.
fn parse_json(text: &str) -> Result<Value, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError {
            id: None,
            code: ErrorCode::FrameTooLarge,
            message: format!(
                "message of {} bytes exceeds the limit of {MAX_FRAME_BYTES}",
                text.len()
            ),
        });
    }
    serde_json::from_str(text).map_err(|err| FrameError {
        id: None,
        code: ErrorCode::MalformedFrame,
        message: format!("not JSON: {err}"),
    })
}

fn check_command_type(command_type: &str) -> Result<(), FrameError> {
    if KNOWN_COMMAND_TYPES.contains(&command_type) {
        Ok(())
    } else {
        Err(FrameError {
            id: None,
            code: ErrorCode::UnknownCommand,
            message: format!("unknown command `{command_type}`"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ModelUsage;

    #[test]
    fn usage_reads_short() {
        let usage = |tokens_today, tokens_per_day| ModelUsage {
            requests_today: 1,
            tokens_today,
            tokens_per_day,
        };
        assert_eq!(usage(999, 1_000_000).label(), "model 999/1M today");
        assert_eq!(usage(12_345, 1_500_000).label(), "model 12.3k/1.5M today");
        assert_eq!(usage(2_000, 2_000_000_000).label(), "model 2k/2G today");
        assert!(usage(10, 10).exhausted());
        assert!(!usage(9, 10).exhausted());
    }
}
