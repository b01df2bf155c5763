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

/// What the model is told of the contract, with the contract itself.
macro_rules! contract {
    () => {
        concat!(
    "An app is the src/lib.rs of a Rust crate (edition 2021, no crates but wit-bindgen) ",
    "built for wasm32-unknown-unknown as a component of this WIT world, and shown in a window ",
    "in every client. Start the file with `wit_bindgen::generate!({ world: \"app\", path: \"wit\" });`, ",
    "import the types with `use choir::app::types::{ButtonView, Color, Node, Span, Style, ...};` ",
    "(`Input`, `View` and `LogEntry` are at the crate root), define a struct implementing `Guest` ",
    "(`fn init()`, `fn update(input: Input)`, `fn view(width: u32, height: u32) -> View`), ",
    "keep state in a `thread_local!` RefCell, and end with `export!(YourStruct);`. A view's ",
    "nodes[0] is the root; children are indices of later nodes. Every `Style` field must be ",
    "given. Ask for ticks with `tick_after_ms: Some(1000)`. The store, the log and HTTP are ",
    "capabilities the user grants on first use (calls fail until then). The WIT:\n\n",
    include_str!("../../../choir-apps/wit/app.wit")
        )
    };
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppArgs {
    /// The app's name: 1 to 32 of a-z, 0-9 and -, starting with a letter.
    name: String,
    /// The whole of src/lib.rs.
    code: String,
}

pub struct AppCreate(pub Apps);

impl Tool for AppCreate {
    type Args = AppArgs;
    const NAME: &'static str = "app_create";
    const DESCRIPTION: &'static str = concat!(
        "Make a new app: writes its code, builds it and shows it in a window. A build that ",
        "fails returns the compiler's errors: fix the code and call app_update. ",
        contract!()
    );
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        check(&args)?;
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
        write_and_build(&self.0, ctx, &args).await
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(format!("app {}: src/lib.rs\n{}", args.name, args.code))
    }
}

pub struct AppUpdate(pub Apps);

impl Tool for AppUpdate {
    type Args = AppArgs;
    const NAME: &'static str = "app_update";
    const DESCRIPTION: &'static str = concat!(
        "Replace an app's code and build it: its open windows run the new version at once, ",
        "their state rebuilt from what they received (a window opens if none shows it). A ",
        "build that fails returns the compiler's errors and changes nothing that runs."
    );
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        check(&args)?;
        if !self.0.source(&args.name).join("Cargo.toml").is_file() {
            return Ok(ToolOutcome::failed(format!(
                "no app named `{}`: call app_create",
                args.name
            )));
        }
        write_and_build(&self.0, ctx, &args).await
    }

    async fn preview(&self, _ctx: &ToolContext, args: Self::Args) -> Option<String> {
        Some(format!("app {}: src/lib.rs\n{}", args.name, args.code))
    }
}

fn check(args: &AppArgs) -> Result<(), ToolError> {
    if !choir_proto::apps::valid_app_name(&args.name) {
        return Err(ToolError::InvalidArguments(format!(
            "`{}` cannot name an app: 1 to 32 of a-z, 0-9 and -, starting with a letter",
            args.name
        )));
    }
    if args.code.len() > MAX_CODE {
        return Err(ToolError::InvalidArguments(format!(
            "the code is {} bytes; at most {MAX_CODE}",
            args.code.len()
        )));
    }
    Ok(())
}

async fn write_and_build(
    apps: &Apps,
    ctx: &ToolContext,
    args: &AppArgs,
) -> Result<ToolOutcome, ToolError> {
    let path = apps.source(&args.name).join("src/lib.rs");
    let (bytes, written) = (args.code.clone().into_bytes(), path.clone());
    tokio::task::spawn_blocking(move || crate::atomic_file::write(&written, &bytes, None))
        .await
        .map_err(|err| ToolError::Io(err.to_string()))?
        .map_err(|err| ToolError::Io(format!("cannot write {}: {err}", path.display())))?;
    let installed = match apps.build(&args.name).await {
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
    let app = AppKind::App(args.name.clone());
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
