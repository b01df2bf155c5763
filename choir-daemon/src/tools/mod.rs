//! The tool registry: every tool the chat agent, `choir --exec` and the HTTP API can call.
//! Each tool has a name, a description and a JSON schema for its arguments, and runs with a
//! [`ToolContext`] (workspace, cancellation, limits). [`ToolRunner`] records every call as
//! `tool.started` and `tool.finished` events.

mod apps;
mod bash;
mod calendar;
mod desktop;
mod docs;
mod edit;
pub(crate) mod files;
mod mail;
mod runner;
mod schema;
mod search;
mod shell;
mod workspace;

use std::future::Future;

use futures_util::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::actors::WorldHandle;
use choir_proto::ErrorCode;

pub(crate) use files::write_atomic;
pub use runner::{ToolCall, ToolResult, ToolRunner};
pub(crate) use schema::derived as derived_schema;
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
    /// Whether the agent's calls always wait for approval, whatever the approval policy
    /// (sending mail).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub always_asks: bool,
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

/// One tool, written against the type of its arguments: a call's arguments are checked
/// against the schema derived from `Args` and then parsed into it, so what the model is shown
/// and what the tool takes cannot drift apart.
pub trait Tool: Send + Sync + 'static {
    /// Its arguments; their doc comments are the descriptions the model reads.
    type Args: DeserializeOwned + JsonSchema + Send;
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// Whether it changes anything (such tools wait for approval in chat).
    const SIDE_EFFECTS: bool;
    /// Whether the agent's calls always wait for approval, whatever the approval policy.
    const ALWAYS_ASKS: bool = false;

    fn run(
        &self,
        ctx: &ToolContext,
        args: Self::Args,
    ) -> impl Future<Output = Result<ToolOutcome, ToolError>> + Send;

    /// What a call would change, shown when it asks for approval; most tools have nothing
    /// to show beyond their arguments.
    fn preview(
        &self,
        _ctx: &ToolContext,
        _args: Self::Args,
    ) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }
}

/// A tool with its arguments as JSON: the one adapter from [`Tool`] to the registry.
trait AnyTool: Send + Sync {
    fn run<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>>;
    fn preview<'a>(&'a self, ctx: &'a ToolContext, args: &Value) -> BoxFuture<'a, Option<String>>;
}

impl<T: Tool> AnyTool for T {
    fn run<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>> {
        Box::pin(async move { Tool::run(self, ctx, parse_args(args)?).await })
    }

    fn preview<'a>(&'a self, ctx: &'a ToolContext, args: &Value) -> BoxFuture<'a, Option<String>> {
        let args = parse_args::<T::Args>(args.clone());
        Box::pin(async move { Tool::preview(self, ctx, args.ok()?).await })
    }
}

/// The spec of a tool, its schema derived from its arguments' type.
fn spec_of<T: Tool>() -> ToolSpec {
    ToolSpec {
        name: T::NAME,
        description: T::DESCRIPTION,
        schema: schema::derived::<T::Args>(),
        side_effects: T::SIDE_EFFECTS,
        always_asks: T::ALWAYS_ASKS,
    }
}

/// Arguments of a tool that takes none.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

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

/// A tool in the registry, with its spec made once.
struct Entry {
    spec: ToolSpec,
    tool: Box<dyn AnyTool>,
}

impl Entry {
    fn of<T: Tool>(tool: T) -> Self {
        Self {
            spec: spec_of::<T>(),
            tool: Box::new(tool),
        }
    }
}

/// Every tool, by name.
pub struct ToolRegistry {
    tools: Vec<Entry>,
}

/// A registered tool, found by name.
pub struct Registered<'a> {
    entry: &'a Entry,
}

impl<'a> Registered<'a> {
    pub fn spec(&self) -> &'a ToolSpec {
        &self.entry.spec
    }

    /// Parses `args` into the tool's arguments and runs it ([`check`](Self::check) them
    /// first for the clearer reason).
    pub fn run(
        &self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>> {
        self.entry.tool.run(ctx, args)
    }

    pub fn preview(&self, ctx: &'a ToolContext, args: &Value) -> BoxFuture<'a, Option<String>> {
        self.entry.tool.preview(ctx, args)
    }

    /// Whether `args` fit the tool's schema; the reason if not.
    pub fn check(&self, args: &Value) -> Result<(), ToolError> {
        schema::check(&self.entry.spec.schema, args).map_err(ToolError::InvalidArguments)
    }
}

impl ToolRegistry {
    /// The standard tools: bash, files, search, desktop and documents.
    pub fn standard() -> Self {
        Self {
            tools: vec![
                Entry::of(bash::Bash),
                Entry::of(files::ReadFile),
                Entry::of(files::WriteFile),
                Entry::of(edit::EditFile),
                Entry::of(files::ListFiles),
                Entry::of(search::SearchFiles),
                Entry::of(desktop::OpenWindow),
                Entry::of(desktop::FocusWindow),
                Entry::of(shell::ShellRead),
                Entry::of(shell::ShellType),
                Entry::of(docs::CreateDoc),
                Entry::of(docs::ReadDoc),
                Entry::of(docs::EditDoc),
                Entry::of(docs::ListDocs),
            ],
        }
    }

    /// With the mail and calendar tools, over `accounts`.
    pub fn with_accounts(mut self, accounts: crate::mail::MailAccounts) -> Self {
        self.tools.extend([
            Entry::of(mail::MailSearch(accounts.clone())),
            Entry::of(mail::MailRead(accounts.clone())),
            Entry::of(mail::MailSend(accounts.clone())),
            Entry::of(mail::MailDraft(accounts.clone())),
            Entry::of(mail::MailSaveAttachment(accounts.clone())),
            Entry::of(calendar::CalendarList(accounts.clone())),
            Entry::of(calendar::CalendarAdd(accounts.clone())),
            Entry::of(calendar::CalendarReply(accounts)),
        ]);
        self
    }

    /// With the tools that write and build apps (`app_create`, `app_update`).
    pub fn with_apps(mut self, apps: crate::apps::Apps) -> Self {
        self.tools.extend([
            Entry::of(apps::AppCreate(apps.clone())),
            Entry::of(apps::AppUpdate(apps)),
        ]);
        self
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|entry| entry.spec.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<Registered<'_>> {
        self.tools
            .iter()
            .find(|entry| entry.spec.name == name)
            .map(|entry| Registered { entry })
    }
}

#[cfg(test)]
mod tests;
