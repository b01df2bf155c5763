//! ChoirOS wire protocol and pure state.
//!
//! This crate holds everything every client and the daemon must agree on:
//!
//! - [`Event`] and [`EventBody`]: the durable facts in the sandbox's log;
//! - [`Command`]: what a client may ask for;
//! - [`ClientFrame`] / [`ServerFrame`]: the JSON frames spoken over `/ws`;
//! - [`World`]: the state every client computes by folding events with [`World::apply`],
//!   and [`decide`], the validation the daemon runs before it appends anything.
//!
//! It does no I/O and builds for `wasm32-unknown-unknown`, so the daemon, the terminal
//! clients and the browser compute identical state from identical events.

mod activity;
mod app_kind;
pub mod apps;
pub mod calendar;
pub mod client;
mod clock;
mod command;
pub mod dates;
mod decide;
mod doc_sync;
mod endpoint;
mod event;
mod frame;
mod grid;
mod human;
mod ids;
pub mod mail;
mod secret;
mod settings;
mod tag_first;
pub mod term_stream;
pub mod terminal;
mod text_op;
mod world;

#[cfg(test)]
mod testing;

pub use activity::ActivityReport;
pub use app_kind::AppKind;
#[cfg(not(target_arch = "wasm32"))]
pub use clock::now_ms;
pub use command::{Command, KNOWN_COMMAND_TYPES};
pub use decide::{
    decide, Rejection, MAX_CHAT_CHARS, MAX_DOC_CHARS, MAX_EDIT_ID_CHARS, MAX_SHELL_INPUT,
    MAX_TITLE_CHARS, MAX_WINDOWS,
};
pub use doc_sync::{DocSync, Synced};
pub use endpoint::{Endpoint, ENDPOINT_FILE};
pub use event::{
    upcast, ChatRole, Event, EventBody, MessageEnding, NewEvent, PlannedCall, EVENT_SCHEMA_VERSION,
    KNOWN_EVENT_TYPES,
};
pub use frame::{
    ClientFrame, EphemeralBody, ErrorCode, FrameError, ModelUsage, Moment, Query, Reply, Seek,
    ServerFrame, CLOSE_EXPECTED_HELLO, CLOSE_PROTOCOL_VERSION, CLOSE_RESUME_BEYOND_HEAD,
    CLOSE_REVOKED, CLOSE_TOKEN_REPLACED, CLOSE_UNAUTHORIZED, MAX_FRAME_BYTES, MAX_PAGE,
    PROTOCOL_VERSION,
};
pub use grid::{Rect, MAX_WINDOW_COORD, MAX_WINDOW_SIZE, MIN_WINDOW_H, MIN_WINDOW_W};
pub use human::{encoded_len, parse_duration, thousands, with_causes};
pub use ids::{CallId, DocId, ThreadId, WindowId};
/// The rope type documents are held in.
pub use ropey::Rope;
pub use secret::same_secret;
#[cfg(not(target_arch = "wasm32"))]
pub use secret::{random_hex, secret_digest};
pub use settings::{Settings, ThemeChoice};
pub use text_op::{OpError, OpPart, TextOp};
pub use world::{
    apply_doc_event, AppWindow, CalendarView, ChatMessage, ChatThread, Desktop, Doc, DocEdit,
    InstalledApp, Layout, MailView, Pane, PasteTooLarge, PendingToolCall, Shell, Subagent,
    ThreadPage, ToolCallStatus, ToolCard, ToolCardStatus, Window, World, CARD_OUTPUT_CHARS,
    DOC_HISTORY, MAX_STORE_KEYS, MAX_STORE_VALUE, WELCOME_CHAT_BYTES, WELCOME_MESSAGES,
};
