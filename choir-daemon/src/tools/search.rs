//! `search_files`: a regular expression over the workspace's text files, respecting .gitignore.

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_args, Tool, ToolContext, ToolError, ToolOutcome, ToolSpec};

const DEFAULT_MAX_RESULTS: usize = 200;
/// Longest matching line shown.
const MAX_LINE: usize = 300;
/// Files larger than this are skipped.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

pub struct SearchFiles;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
    path: Option<String>,
    max_results: Option<usize>,
}

impl Tool for SearchFiles {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "search_files",
            description: "Search the workspace's text files for a regular expression (Rust regex syntax), respecting .gitignore. Returns path:line: text for each match.",
            schema: json!({
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "regular expression"},
                    "path": {"type": "string", "description": "directory or file to search (default: the workspace)"},
                    "max_results": {"type": "integer", "description": "most matches returned (default 200)"}
                },
                "required": ["pattern"]
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
            let args: Args = parse_args(args)?;
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
        })
    }
}
