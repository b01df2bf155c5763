//! `read_file`, `write_file` (atomic) and `list_files`, confined to the workspace.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome};

fn io(action: &str, path: &str) -> impl FnOnce(std::io::Error) -> ToolError {
    let message = format!("cannot {action} `{path}`");
    move |err| ToolError::Io(format!("{message}: {err}"))
}

pub struct ReadFile;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// path relative to the workspace
    path: String,
}

impl Tool for ReadFile {
    type Args = ReadArgs;
    const NAME: &'static str = "read_file";
    const DESCRIPTION: &'static str =
        "Read a text file of the workspace (at most 64 KiB are returned).";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let path = ctx.workspace.resolve(&args.path)?;
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(io("read", &args.path))?;
        Ok(ToolOutcome::ok(capped_text(&bytes, bytes.len())))
    }
}

pub struct WriteFile;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs {
    /// path relative to the workspace
    path: String,
    /// the whole new content
    content: String,
}

impl Tool for WriteFile {
    type Args = WriteArgs;
    const NAME: &'static str = "write_file";
    const DESCRIPTION: &'static str =
        "Write a file of the workspace, replacing it atomically (parent directories are created).";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let path = ctx.workspace.resolve(&args.path)?;
        let shown = args.path.clone();
        let bytes = args.content.len();
        tokio::task::spawn_blocking(move || {
            write_atomic(&path, args.content.as_bytes()).map_err(io("write", &shown))
        })
        .await
        .map_err(|err| ToolError::Io(err.to_string()))??;
        Ok(ToolOutcome::ok(format!(
            "wrote {bytes} bytes to {}",
            args.path
        )))
    }
}

/// Writes a file whole (see [`crate::atomic_file`]); a file written again keeps its mode.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::atomic_file::write(path, bytes, None)
}

pub struct ListFiles;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// directory relative to the workspace (default: the workspace)
    path: Option<String>,
    /// descend into subdirectories (default false)
    recursive: Option<bool>,
}

/// Most entries one listing returns.
const MAX_ENTRIES: usize = 1000;

impl Tool for ListFiles {
    type Args = ListArgs;
    const NAME: &'static str = "list_files";
    const DESCRIPTION: &'static str = "List a directory of the workspace (recursively if asked), respecting .gitignore; directories end with /.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let shown = args.path.unwrap_or_else(|| ".".into());
        let root = ctx.workspace.resolve(&shown)?;
        if !root.is_dir() {
            return Err(ToolError::InvalidArguments(format!(
                "`{shown}` is not a directory of the workspace"
            )));
        }
        let workspace = ctx.workspace.clone();
        let recursive = args.recursive.unwrap_or(false);
        let lines = tokio::task::spawn_blocking(move || {
            let mut walk = ignore::WalkBuilder::new(&root);
            walk.hidden(false)
                .require_git(false)
                .sort_by_file_name(|a, b| a.cmp(b));
            if !recursive {
                walk.max_depth(Some(1));
            }
            let mut lines = Vec::new();
            for entry in walk.build().flatten().filter(|e| e.depth() > 0) {
                if entry.file_name() == ".git" {
                    continue;
                }
                if lines.len() == MAX_ENTRIES {
                    lines.push(format!("[more than {MAX_ENTRIES} entries; listing cut]"));
                    break;
                }
                let name = workspace.relative(entry.path());
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                lines.push(if is_dir { format!("{name}/") } else { name });
            }
            lines
        })
        .await
        .map_err(|err| ToolError::Io(err.to_string()))?;
        Ok(ToolOutcome::ok(if lines.is_empty() {
            "(empty)".to_owned()
        } else {
            lines.join("\n")
        }))
    }
}
