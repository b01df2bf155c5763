//! The agent's app tools: `app_create` writes a new app's code, builds it and shows it in a
//! window; `app_update` writes new code and builds it, and every open window of the app runs
//! the new version with its state kept. A build that does not compile fails with the
//! compiler's errors, so the model can fix the code and call `app_update` again (as many
//! times as its steps per turn allow).

use choir_proto::{AppKind, Command};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutcome};
use crate::apps::{Apps, AppsError};

/// Bytes of code an app's `src/lib.rs` may have.
const MAX_CODE: usize = 256 * 1024;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppArgs {
    /// 1 to 32 of a-z, 0-9 and -, starting with a letter.
    name: String,
    /// All of src/lib.rs.
    code: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// 1 to 32 of a-z, 0-9 and -, starting with a letter.
    name: String,
    /// All of src/lib.rs; none: the example.
    code: Option<String>,
}

pub struct AppCreate(pub Apps);

impl Tool for AppCreate {
    type Args = CreateArgs;
    const NAME: &'static str = "app_create";
    const DESCRIPTION: &'static str = concat!(
        "Make an app shown in a window: a Rust crate in apps/NAME/ built as a component of WIT ",
        "world `app`. Without code: an example (src/lib.rs; the contract: wit/app.wit) to ",
        "read, then change with app_update. A failed build returns the compiler's errors."
    );
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        check(&args.name, args.code.as_deref().unwrap_or_default())?;
        match self.0.create(&args.name).await {
            Ok(_) => {}
            Err(AppsError::Exists(..)) => {
                return Ok(ToolOutcome::failed(format!(
                    "an app named `{}` exists: call app_update to change it",
                    args.name
                )))
            }
            Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
        }
        write_and_build(&self.0, ctx, &args.name, args.code.as_deref()).await
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(match args.code {
            Some(code) => format!("app {}: src/lib.rs\n{code}", args.name),
            None => format!(
                "app {}: the example (choir app new {})",
                args.name, args.name
            ),
        })
    }
}

pub struct AppUpdate(pub Apps);

impl Tool for AppUpdate {
    type Args = AppArgs;
    const NAME: &'static str = "app_update";
    const DESCRIPTION: &'static str = concat!(
        "Replace app NAME's src/lib.rs and build it: its windows run the new version, their ",
        "state kept. A failed build returns the compiler's errors and changes nothing."
    );
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        check(&args.name, &args.code)?;
        if !self.0.source(&args.name).join("Cargo.toml").is_file() {
            return Ok(ToolOutcome::failed(format!(
                "no app named `{}`: call app_create",
                args.name
            )));
        }
        write_and_build(&self.0, ctx, &args.name, Some(&args.code)).await
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(format!("app {}: src/lib.rs\n{}", args.name, args.code))
    }
}

fn check(name: &str, code: &str) -> Result<(), ToolError> {
    if !choir_proto::apps::valid_app_name(name) {
        return Err(ToolError::InvalidArguments(format!(
            "`{name}` cannot name an app: 1 to 32 of a-z, 0-9 and -, starting with a letter"
        )));
    }
    if code.len() > MAX_CODE {
        return Err(ToolError::InvalidArguments(format!(
            "the code is {} bytes; at most {MAX_CODE}",
            code.len()
        )));
    }
    Ok(())
}

/// Writes `code` (if any) as app `name`'s src/lib.rs, builds it and shows it.
async fn write_and_build(
    apps: &Apps,
    ctx: &ToolContext,
    name: &str,
    code: Option<&str>,
) -> Result<ToolOutcome, ToolError> {
    if let Some(code) = code {
        let path = apps.source(name).join("src/lib.rs");
        let (bytes, written) = (code.as_bytes().to_vec(), path.clone());
        tokio::task::spawn_blocking(move || crate::atomic_file::write(&written, &bytes, None))
            .await
            .map_err(|err| ToolError::Io(err.to_string()))?
            .map_err(|err| ToolError::Io(format!("cannot write {}: {err}", path.display())))?;
    }
    let installed = match apps.build(name).await {
        Ok(installed) => installed,
        Err(err) => return Ok(ToolOutcome::failed(err.to_string())),
    };
    let mut said = format!(
        "built {} version {} ({} bytes) in {:.1} s",
        installed.name,
        installed.version,
        installed.bytes,
        installed.build_ms as f64 / 1000.0
    );
    if !installed.changed {
        said.push_str("; the same as the version running");
    }
    // Shown in a window, unless one shows it already (it runs the new version now).
    let app = AppKind::App(name.to_owned());
    let wanted = app.clone();
    let shown = ctx
        .world
        .query(move |world| world.desktop.windows.values().any(|w| w.app == wanted))
        .await
        .map_err(|_| ToolError::Unavailable)?;
    if shown {
        said.push_str("; its open windows run it now");
    } else {
        let command = Command::OpenWindow {
            app,
            title: None,
            rect: None,
        };
        match ctx.world.execute(command, ctx.actor.clone(), None).await {
            Ok(_) => said.push_str("; opened in a window"),
            Err(err) => said.push_str(&format!("; not opened: {err}")),
        }
    }
    Ok(ToolOutcome::ok(said))
}
