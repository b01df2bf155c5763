//! Shell window tools: the agent reads a shell window's screen and types into it, through
//! the same world and commands as a user's client (so what it types shows in every client).

use std::time::Duration;

use choir_proto::{AppKind, Command, WindowId, World};
use schemars::JsonSchema;
use serde::Deserialize;

use super::desktop::refused;
use super::{Tool, ToolContext, ToolError, ToolOutcome};
use crate::actors::CommandError;

/// How long the screen must stay still after typing before it is read back.
const SETTLE: Duration = Duration::from_millis(300);
/// How long typing waits for the screen to settle at most.
const MAX_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);

/// The shell window `asked` for, or else the focused one, or else the newest one.
fn pick(world: &World, asked: Option<u64>) -> Result<WindowId, String> {
    if let Some(id) = asked {
        let id = WindowId(id);
        return match world.desktop.window(id) {
            Some(window) if window.app == AppKind::Shell => Ok(id),
            Some(_) => Err(format!("window {id} is not a shell window")),
            None => Err(format!("no window with id {id}")),
        };
    }
    let shells = || {
        world
            .desktop
            .windows
            .values()
            .filter(|window| window.app == AppKind::Shell)
    };
    let focused = world.desktop.focused;
    shells()
        .find(|window| Some(window.id) == focused)
        .or_else(|| shells().next_back())
        .map(|window| window.id)
        .ok_or_else(|| "no shell window is open (open_window with app \"shell\")".to_owned())
}

/// The screen of a shell window as the model reads it: a header, then the rows.
fn describe(world: &World, id: WindowId) -> String {
    let Some(shell) = world.shells.get(&id) else {
        return format!("shell window {id}: its shell has not started yet");
    };
    let size = shell.terminal.size();
    let state = match &shell.ended {
        None => "running".to_owned(),
        Some(reason) => format!("ended: {reason}"),
    };
    let cursor = match shell.terminal.cursor() {
        Some((row, col)) => format!("cursor at row {}, column {}", row + 1, col + 1),
        None => "cursor hidden".to_owned(),
    };
    format!(
        "shell window {id} ({}; {state}), {}x{} cells, {cursor}:\n{}",
        shell.program,
        size.cols,
        size.rows,
        shell.terminal.text().trim_end()
    )
}

async fn look<T: Send + 'static>(
    ctx: &ToolContext,
    look: impl FnOnce(&World) -> T + Send + 'static,
) -> Result<T, ToolError> {
    ctx.world.query(look).await.map_err(|err| match err {
        CommandError::Store(err) => ToolError::Io(err.to_string()),
        _ => ToolError::Unavailable,
    })
}

pub struct ShellRead;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    window_id: Option<u64>,
}

impl Tool for ShellRead {
    type Args = ReadArgs;
    const NAME: &'static str = "shell_read";
    const DESCRIPTION: &'static str =
        "Read the screen of a shell window on the user's desktop (by default \
                          the focused one, else the newest): its rows of text and the cursor.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let screen = look(ctx, move |world| {
            pick(world, args.window_id).map(|id| describe(world, id))
        })
        .await?;
        Ok(match screen {
            Ok(screen) => ToolOutcome::ok(screen),
            Err(why) => ToolOutcome::failed(why),
        })
    }
}

pub struct ShellType;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeArgs {
    window_id: Option<u64>,
    text: String,
    #[serde(default)]
    enter: bool,
}

impl Tool for ShellType {
    type Args = TypeArgs;
    const NAME: &'static str = "shell_type";
    const DESCRIPTION: &'static str =
        "Type into a shell window on the user's desktop (by default the \
                          focused one, else the newest), as if at its keyboard; with enter, \
                          press Enter after the text. Control keys as characters (\\u0003 is \
                          Ctrl-C, \\u001b is Escape). Returns the screen once it settles.";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let asked = args.window_id;
        let id = match look(ctx, move |world| pick(world, asked)).await? {
            Ok(id) => id,
            Err(why) => return Ok(ToolOutcome::failed(why)),
        };
        let mut data = args.text;
        if args.enter {
            data.push('\r');
        }
        let command = Command::ShellInput {
            window_id: id,
            data,
        };
        if let Err(err) = ctx.world.execute(command, ctx.actor.clone(), None).await {
            return refused(err);
        }
        // Read the screen back once it has stopped changing (or after MAX_WAIT).
        let started = tokio::time::Instant::now();
        let mut last = String::new();
        let mut still_since = started;
        loop {
            tokio::select! {
                () = ctx.cancel.cancelled() => break,
                () = tokio::time::sleep(POLL) => {}
            }
            let screen = look(ctx, move |world| describe(world, id)).await?;
            let now = tokio::time::Instant::now();
            if screen != last {
                last = screen;
                still_since = now;
            } else if now - still_since >= SETTLE {
                break;
            }
            // A screen that never settles (a spinner, `yes`) is read as it is.
            if now - started >= MAX_WAIT {
                break;
            }
        }
        Ok(ToolOutcome::ok(last))
    }
}
