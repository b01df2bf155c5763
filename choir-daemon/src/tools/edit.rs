//! `edit_file`: change a file of the workspace by replacing one exact passage, or by applying
//! a unified diff. The change is shown as a unified diff: in the approval prompt before it
//! runs (the tool's preview) and in its result.

use schemars::JsonSchema;
use serde::Deserialize;

use super::files::write_atomic;
use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome};

/// Largest file it edits.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
/// Most characters of a diff shown before approval (the event and every client hold it).
const PREVIEW_CHARS: usize = 8_000;

pub struct EditFile;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    /// path relative to the workspace
    path: String,
    /// the exact passage to replace
    old: Option<String>,
    /// what replaces it
    new: Option<String>,
    /// a unified diff of the file
    diff: Option<String>,
}

/// The file's text before and after the edit.
#[derive(Debug)]
struct Change {
    before: String,
    after: String,
}

impl Change {
    /// The change as a unified diff with `a/PATH` and `b/PATH` headers.
    fn diff(&self, path: &str) -> String {
        diffy::DiffOptions::new()
            .set_original_filename(format!("a/{path}"))
            .set_modified_filename(format!("b/{path}"))
            .create_patch(&self.before, &self.after)
            .to_string()
    }
}

fn plan(before: String, args: &EditArgs) -> Result<Change, String> {
    let after = match (&args.old, &args.new, &args.diff) {
        (Some(old), Some(new), None) => {
            if old.is_empty() {
                return Err("`old` is empty: give the exact passage to replace".into());
            }
            match before.matches(old.as_str()).count() {
                1 => before.replacen(old.as_str(), new, 1),
                0 => return Err("`old` does not occur in the file: read it again and copy the passage exactly".into()),
                n => return Err(format!("`old` occurs {n} times in the file: include more of the surrounding text so it occurs once")),
            }
        }
        (None, None, Some(diff)) => {
            let patch = diffy::Patch::from_str(diff)
                .map_err(|err| format!("`diff` is not a unified diff: {err}"))?;
            if patch.hunks().is_empty() {
                return Err("`diff` is not a unified diff: it has no @@ hunks".into());
            }
            diffy::apply(&before, &patch)
                .map_err(|err| format!("the diff does not apply to the file as it is: {err}"))?
        }
        _ => return Err(
            "give either `old` and `new` (replace one exact passage) or `diff` (a unified diff)"
                .into(),
        ),
    };
    if after == before {
        return Err("the edit changes nothing".into());
    }
    Ok(Change { before, after })
}

async fn read(ctx: &ToolContext, path: &str) -> Result<(std::path::PathBuf, String), ToolError> {
    let resolved = ctx.workspace.resolve(path)?;
    let cannot = |err: std::io::Error| ToolError::Io(format!("cannot read `{path}`: {err}"));
    let size = tokio::fs::metadata(&resolved).await.map_err(cannot)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ToolError::Io(format!(
            "`{path}` is {size} bytes; edit_file edits files up to {MAX_FILE_BYTES} bytes"
        )));
    }
    let bytes = tokio::fs::read(&resolved).await.map_err(cannot)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ToolError::Io(format!("`{path}` is not UTF-8 text")))?;
    Ok((resolved, text))
}

impl Tool for EditFile {
    type Args = EditArgs;
    const NAME: &'static str = "edit_file";
    const DESCRIPTION: &'static str = "Edit a text file of the workspace: replace one exact passage (`old`, which must occur exactly once, with `new`), or apply a unified diff (`diff`, with @@ hunks). Returns the change as a unified diff.";
    const SIDE_EFFECTS: bool = true;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let (resolved, before) = read(ctx, &args.path).await?;
        let shown = args.path.clone();
        // Diffing a large file is CPU work: off the async workers.
        tokio::task::spawn_blocking(move || {
            let change = match plan(before, &args) {
                Ok(change) => change,
                Err(reason) => return Ok(ToolOutcome::failed(reason)),
            };
            let diff = change.diff(&args.path);
            write_atomic(&resolved, change.after.as_bytes())
                .map_err(|err| ToolError::Io(format!("cannot write `{shown}`: {err}")))?;
            Ok(ToolOutcome::ok(capped_text(diff.as_bytes(), diff.len())))
        })
        .await
        .map_err(|err| ToolError::Io(err.to_string()))?
    }

    async fn preview(&self, ctx: &ToolContext, args: Self::Args) -> Option<String> {
        let preview = match read(ctx, &args.path).await {
            Ok((_, before)) => tokio::task::spawn_blocking(move || match plan(before, &args) {
                Ok(change) => change.diff(&args.path),
                Err(reason) => format!("this edit will fail: {reason}"),
            })
            .await
            .ok()?,
            Err(err) => format!("this edit will fail: {err}"),
        };
        let total = preview.chars().count();
        Some(if total > PREVIEW_CHARS {
            let shown: String = preview.chars().take(PREVIEW_CHARS).collect();
            format!(
                "{shown}\n[{} more characters of the diff not shown]",
                total - PREVIEW_CHARS
            )
        } else {
            preview
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(old: Option<&str>, new: Option<&str>, diff: Option<&str>) -> EditArgs {
        EditArgs {
            path: "f.txt".into(),
            old: old.map(str::to_owned),
            new: new.map(str::to_owned),
            diff: diff.map(str::to_owned),
        }
    }

    #[test]
    fn replace_once_or_explain() {
        let text = "one\ntwo\nthree\ntwo\n".to_owned();
        let change = plan(text.clone(), &args(Some("one"), Some("1"), None)).unwrap();
        assert_eq!(change.after, "1\ntwo\nthree\ntwo\n");
        assert_eq!(
            change.diff("f.txt"),
            "--- a/f.txt\n+++ b/f.txt\n@@ -1,4 +1,4 @@\n-one\n+1\n two\n three\n two\n"
        );
        assert!(plan(text.clone(), &args(Some("two"), Some("2"), None))
            .unwrap_err()
            .contains("occurs 2 times"));
        assert!(plan(text.clone(), &args(Some("four"), Some("4"), None))
            .unwrap_err()
            .contains("does not occur"));
        assert!(plan(text.clone(), &args(Some("one"), None, None)).is_err());
        assert!(plan(text, &args(Some("one"), Some("one"), None))
            .unwrap_err()
            .contains("changes nothing"));
    }

    #[test]
    fn unified_diffs_apply_or_explain() {
        let text = "alpha\nbeta\ngamma\n".to_owned();
        let diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n alpha\n-beta\n+BETA\n gamma\n";
        let change = plan(text.clone(), &args(None, None, Some(diff))).unwrap();
        assert_eq!(change.after, "alpha\nBETA\ngamma\n");
        assert_eq!(change.diff("f.txt"), diff);
        let stale = "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n alpha\n-delta\n+DELTA\n gamma\n";
        assert!(plan(text.clone(), &args(None, None, Some(stale)))
            .unwrap_err()
            .contains("does not apply"));
        assert!(plan(text, &args(None, None, Some("not a diff at all")))
            .unwrap_err()
            .contains("not a unified diff"));
    }
}
