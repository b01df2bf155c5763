//! Desktop tools: open and focus windows, through the same command path as every client.

use choir_proto::{AppKind, Command, WindowId};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutcome};
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

// The apps a tool may open.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum App {
    Chat,
    Writer,
    EventLog,
    Shell,
}

impl From<App> for AppKind {
    fn from(app: App) -> Self {
        match app {
            App::Chat => AppKind::Chat,
            App::Writer => AppKind::Writer,
            App::EventLog => AppKind::EventLog,
            App::Shell => AppKind::Shell,
        }
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenArgs {
    /// chat, writer, event_log, or shell (a terminal running the user's shell in the
    /// workspace)
    app: App,
    title: Option<String>,
}

impl Tool for OpenWindow {
    type Args = OpenArgs;
    const NAME: &'static str = "open_window";
    const DESCRIPTION: &'static str = "Open a window on the user's desktop.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let app = AppKind::from(args.app);
        let command = Command::OpenWindow {
            app: app.clone(),
            title: args.title,
            rect: None,
        };
        match ctx.world.execute(command, ctx.actor.clone(), None).await {
            Ok(seqs) => Ok(ToolOutcome::ok(format!(
                "opened a {app} window (event {})",
                seqs.first().copied().unwrap_or(0)
            ))),
            Err(err) => refused(err),
        }
    }
}

pub struct FocusWindow;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FocusArgs {
    window_id: u64,
}

impl Tool for FocusWindow {
    type Args = FocusArgs;
    const NAME: &'static str = "focus_window";
    const DESCRIPTION: &'static str = "Raise and focus a window of the user's desktop by its id.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
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
    }
}
