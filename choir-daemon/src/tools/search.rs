//! `search_files`: a regular expression over the workspace's text files, respecting .gitignore.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Tool, ToolContext, ToolError, ToolOutcome};

const DEFAULT_MAX_RESULTS: usize = 200;
/// Longest matching line shown.
const MAX_LINE: usize = 300;
/// Files larger than this are skipped.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

pub struct SearchFiles;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Args {
    /// regular expression
    pattern: String,
    /// directory or file to search (default: the workspace)
    path: Option<String>,
    /// most matches returned (default 200)
    max_results: Option<usize>,
}

impl Tool for SearchFiles {
    type Args = Args;
    const NAME: &'static str = "search_files";
    const DESCRIPTION: &'static str = "Search the workspace's text files for a regular expression (Rust regex syntax), respecting .gitignore. Returns path:line: text for each match.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let regex = regex::Regex::new(&args.pattern)
            .map_err(|err| ToolError::InvalidArguments(format!("bad pattern: {err}")))?;
        let root = ctx.workspace.resolve(args.path.as_deref().unwrap_or("."))?;
        let max = args.max_results.unwrap_or(DEFAULT_MAX_RESULTS).max(1);
        let workspace = ctx.workspace.clone();
        let lines = tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            let walk = ignore::WalkBuilder::new(&root)
                .hidden(false)
                .require_git(false)
                .build();
            'files: for entry in walk.flatten() {
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                if entry
                    .metadata()
                    .map(|m| m.len() > MAX_FILE_BYTES)
                    .unwrap_or(true)
                {
                    continue;
                }
                let Ok(bytes) = std::fs::read(entry.path()) else {
                    continue;
                };
                // Binary files are skipped.
                if bytes.iter().take(8192).any(|b| *b == 0) {
                    continue;
                }
                let text = String::from_utf8_lossy(&bytes);
                for (number, line) in text.lines().enumerate() {
                    if regex.is_match(line) {
                        if lines.len() == max {
                            lines.push(format!("[more than {max} matches; results cut]"));
                            break 'files;
                        }
                        let line: String = line.chars().take(MAX_LINE).collect();
                        lines.push(format!(
                            "{}:{}: {line}",
                            workspace.relative(entry.path()),
                            number + 1
                        ));
                    }
                }
            }
            lines
        })
        .await
        .map_err(|err| ToolError::Io(err.to_string()))?;
        Ok(ToolOutcome::ok(if lines.is_empty() {
            "no matches".to_owned()
        } else {
            lines.join("\n")
        }))
    }
}
