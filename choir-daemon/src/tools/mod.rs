//! The tool registry: every tool the chat agent, `choir --exec` and the HTTP API can call.
//! Each tool has a name, a description and a JSON schema for its arguments, and runs with a
//! [`ToolContext`] (workspace, cancellation, limits). [`ToolRunner`] records every call as
//! `tool.started` and `tool.finished` events.

mod bash;
mod desktop;
mod docs;
mod edit;
mod files;
mod runner;
mod schema;
mod search;
mod shell;
mod workspace;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::actors::WorldHandle;
use choir_proto::ErrorCode;

pub(crate) use files::write_atomic;
pub use runner::{ToolCall, ToolResult, ToolRunner};
pub use workspace::{Workspace, WorkspaceError};

/// Largest output a tool returns; more is cut with a marker saying how much was left out.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// What a tool is, as listed by `choir --exec --list` and offered to the model.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON schema of the arguments object.
    pub schema: Value,
    /// Whether it changes anything (such tools wait for approval in chat).
    pub side_effects: bool,
}

/// What a tool run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    pub ok: bool,
    pub exit_code: Option<i32>,
    pub output: String,
}

impl ToolOutcome {
    pub fn ok(output: impl Into<String>) -> Self {
        Self {
            ok: true,
            exit_code: None,
            output: output.into(),
        }
    }

    pub fn failed(output: impl Into<String>) -> Self {
        Self {
            ok: false,
            exit_code: None,
            output: output.into(),
        }
    }
}

/// Why a tool could not run at all.
#[derive(Debug, Error)]
pub enum ToolError {
    #[error("no tool named `{0}` (choir --exec --list shows them)")]
    UnknownTool(String),
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    #[error("{0}")]
    Io(String),
    #[error("the daemon is shutting down")]
    Unavailable,
}

impl ToolError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ToolError::UnknownTool(_) => ErrorCode::UnknownTool,
            ToolError::InvalidArguments(_) | ToolError::Workspace(_) => ErrorCode::InvalidArguments,
            ToolError::Io(_) | ToolError::Unavailable => ErrorCode::Internal,
        }
    }
}

/// What a tool runs with.
#[derive(Clone)]
pub struct ToolContext {
    pub workspace: Workspace,
    pub cancel: CancellationToken,
    pub world: WorldHandle,
    /// Who the events a tool causes are attributed to.
    pub actor: String,
}

/// One tool.
pub trait Tool: Send + Sync {
    fn spec(&self) -> ToolSpec;
    fn run<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>>;
    /// What a call with `args` would change, shown when it asks for approval; most tools
    /// have nothing to show beyond their arguments.
    fn preview<'a>(
        &'a self,
        _ctx: &'a ToolContext,
        _args: &'a Value,
    ) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
}

/// Deserializes a tool's arguments.
fn parse_args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|err| ToolError::InvalidArguments(err.to_string()))
}

/// Cuts `bytes` to [`MAX_OUTPUT_BYTES`] with a marker naming what was left out.
pub(crate) fn capped_text(bytes: &[u8], total: usize) -> String {
    let shown = &bytes[..bytes.len().min(MAX_OUTPUT_BYTES)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if total > shown.len() {
        text.push_str(&format!(
            "\n[output truncated: {} more bytes not shown]",
            total - shown.len()
        ));
    }
    text
}

/// Every tool, by name.
pub struct ToolRegistry {
    tools: Vec<Box<dyn Tool>>,
}

impl ToolRegistry {
    /// The standard tools: bash, files, search, desktop and documents.
    pub fn standard() -> Self {
        Self {
            tools: vec![
                Box::new(bash::Bash),
                Box::new(files::ReadFile),
                Box::new(files::WriteFile),
                Box::new(edit::EditFile),
                Box::new(files::ListFiles),
                Box::new(search::SearchFiles),
                Box::new(desktop::OpenWindow),
                Box::new(desktop::FocusWindow),
                Box::new(shell::ShellRead),
                Box::new(shell::ShellType),
                Box::new(docs::CreateDoc),
                Box::new(docs::ReadDoc),
                Box::new(docs::EditDoc),
                Box::new(docs::ListDocs),
            ],
        }
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|tool| tool.spec()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&dyn Tool> {
        self.tools
            .iter()
            .find(|tool| tool.spec().name == name)
            .map(|tool| tool.as_ref())
    }
}

#[cfg(test)]
mod tests;
