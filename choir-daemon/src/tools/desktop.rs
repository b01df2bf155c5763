//! Desktop tools: open and focus windows, through the same command path as every client.

use choir_proto::{AppKind, Command, WindowId};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, Tool, ToolContext, ToolError, ToolOutcome, ToolSpec};
use crate::actors::CommandError;

/// A refused command is the tool's failure (the model reads why); anything else is an error.
pub(super) fn refused(err: CommandError) -> Result<ToolOutcome, ToolError> {
    match err {
        CommandError::Rejected(rejection) => Ok(ToolOutcome::failed(rejection.to_string())),
        CommandError::Store(err) => Err(ToolError::Io(err.to_string())),
        CommandError::Unavailable => Err(ToolError::Unavailable),
    }
}

pub struct OpenWindow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenArgs {
    app: String,
    title: Option<String>,
}

impl Tool for OpenWindow {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "open_window",
            description:
                "Open a window on the user's desktop: app is chat, writer, event_log or shell \
                          (a terminal running the user's shell in the workspace).",
            schema: json!({
                "type": "object",
                "properties": {
                    "app": {"type": "string", "enum": ["chat", "writer", "event_log", "shell"]},
                    "title": {"type": "string"}
                },
                "required": ["app"]
            }),
            side_effects: false,
        }
    }

    fn run<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>> {
        Box::pin(async move {
            let args: OpenArgs = parse_args(args)?;
            let app = AppKind::from(args.app.clone());
            if let AppKind::Other(name) = &app {
                return Err(ToolError::InvalidArguments(format!(
                    "unknown app `{name}` (chat, writer, event_log, shell)"
                )));
            }
            let command = Command::OpenWindow {
                app,
                title: args.title,
                rect: None,
            };
            match ctx.world.execute(command, ctx.actor.clone(), None).await {
                Ok(seqs) => Ok(ToolOutcome::ok(format!(
                    "opened a {} window (event {})",
                    args.app,
                    seqs.first().copied().unwrap_or(0)
                ))),
                Err(err) => refused(err),
            }
        })
    }
}

pub struct FocusWindow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FocusArgs {
    window_id: u64,
}

impl Tool for FocusWindow {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "focus_window",
            description: "Raise and focus a window of the user's desktop by its id.",
            schema: json!({
                "type": "object",
                "properties": {"window_id": {"type": "integer"}},
                "required": ["window_id"]
            }),
            side_effects: false,
        }
    }

    fn run<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutcome, ToolError>> {
        Box::pin(async move {
            let args: FocusArgs = parse_args(args)?;
            let command = Command::FocusWindow {
                window_id: WindowId(args.window_id),
            };
            match ctx.world.execute(command, ctx.actor.clone(), None).await {
                Ok(_) => Ok(ToolOutcome::ok(format!(
                    "focused window {}",
                    args.window_id
                ))),
                Err(err) => refused(err),
            }
        })
    }
}
