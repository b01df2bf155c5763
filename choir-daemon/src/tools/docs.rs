//! Document tools: the agent (and `choir --exec`) creates, reads, lists and edits the writer's
//! documents through the same commands as every client, so each change is an event and shows
//! live in every open writer window.

use choir_proto::{Command, DocId, Rope, TextOp};
use schemars::JsonSchema;
use serde::Deserialize;

use super::desktop::refused;
use super::{capped_text, Tool, ToolContext, ToolError, ToolOutcome};

/// A document as a tool sees it: copied out of the world, with its text.
struct DocView {
    title: String,
    content: Rope,
    version: u64,
}

async fn view(ctx: &ToolContext, doc_id: DocId) -> Result<Option<DocView>, ToolError> {
    let doc = ctx
        .world
        .doc(doc_id)
        .await
        .map_err(|_| ToolError::Unavailable)?;
    Ok(doc.and_then(|doc| {
        Some(DocView {
            title: doc.title,
            content: doc.content?,
            version: doc.version,
        })
    }))
}

fn no_such_doc(doc_id: DocId) -> ToolOutcome {
    ToolOutcome::failed(format!(
        "no document with id {doc_id} (list_docs shows the documents)"
    ))
}

pub struct CreateDoc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    title: String,
    /// initial text, markdown
    content: Option<String>,
}

impl Tool for CreateDoc {
    type Args = CreateArgs;
    const NAME: &'static str = "create_doc";
    const DESCRIPTION: &'static str = "Create a document (markdown) and open it in a writer window on the user's desktop. Returns its id.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let content = args.content.unwrap_or_default();
        let chars = content.chars().count();
        let command = Command::CreateDoc {
            title: args.title,
            content,
            open: true,
            window_id: None,
        };
        let seqs = match ctx.world.execute(command, ctx.actor.clone(), None).await {
            Ok(seqs) => seqs,
            Err(err) => return refused(err),
        };
        let Some(&created) = seqs.first() else {
            return Err(ToolError::Io("the document was not created".into()));
        };
        let (doc, window) = ctx
            .world
            .query(move |world| {
                let doc = world.docs.values().find(|doc| doc.rev == created);
                let window = doc.and_then(|doc| {
                    world
                        .desktop
                        .windows
                        .values()
                        .find(|window| window.doc_id == Some(doc.id))
                });
                (
                    doc.map(|doc| (doc.id, doc.title.clone())),
                    window.map(|window| window.id),
                )
            })
            .await
            .map_err(|_| ToolError::Unavailable)?;
        let Some((doc_id, title)) = doc else {
            return Err(ToolError::Io("the new document was deleted at once".into()));
        };
        let shown = window.map_or(String::new(), |id| format!(", open in writer window {id}"));
        Ok(ToolOutcome::ok(format!(
            "created document {doc_id} \"{title}\" ({chars} characters){shown}"
        )))
    }
}

pub struct ReadDoc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    doc_id: u64,
}

impl Tool for ReadDoc {
    type Args = ReadArgs;
    const NAME: &'static str = "read_doc";
    const DESCRIPTION: &'static str = "Read a document's whole text, with its title and version.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let doc_id = DocId(args.doc_id);
        let Some(doc) = view(ctx, doc_id).await? else {
            return Ok(no_such_doc(doc_id));
        };
        let text = doc.content.to_string();
        let header = format!(
            "document {doc_id} \"{}\", version {}, {} characters\n---\n",
            doc.title,
            doc.version,
            doc.content.len_chars()
        );
        Ok(ToolOutcome::ok(
            header + &capped_text(text.as_bytes(), text.len()),
        ))
    }
}

pub struct ListDocs;

impl Tool for ListDocs {
    type Args = super::NoArgs;
    const NAME: &'static str = "list_docs";
    const DESCRIPTION: &'static str = "List the documents: id, title, length and version of each.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, _: Self::Args) -> Result<ToolOutcome, ToolError> {
        let lines = ctx
            .world
            .query(|world| {
                world
                    .docs
                    .values()
                    .map(|doc| {
                        format!(
                            "{}\t{}\t{} characters\tversion {}",
                            doc.id,
                            doc.title,
                            doc.len_chars(),
                            doc.version
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|_| ToolError::Unavailable)?;
        Ok(ToolOutcome::ok(if lines.is_empty() {
            "no documents yet".to_owned()
        } else {
            lines.join("\n")
        }))
    }
}

pub struct EditDoc;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditArgs {
    doc_id: u64,
    append: Option<String>,
    find: Option<String>,
    replace: Option<String>,
    start: Option<u64>,
    end: Option<u64>,
    text: Option<String>,
}

/// One edit, as the arguments ask for it.
enum Edit {
    Append(String),
    Replace {
        find: String,
        with: String,
    },
    Range {
        start: usize,
        end: usize,
        text: String,
    },
}

impl EditArgs {
    fn edit(self) -> Result<Edit, ToolError> {
        let usage = "give exactly one of: `append`; `find` with `replace`; `start` and `end` \
                     (character offsets) with `text`";
        match self {
            EditArgs {
                append: Some(text),
                find: None,
                replace: None,
                start: None,
                end: None,
                text: None,
                ..
            } => Ok(Edit::Append(text)),
            EditArgs {
                append: None,
                find: Some(find),
                replace: Some(with),
                start: None,
                end: None,
                text: None,
                ..
            } => Ok(Edit::Replace { find, with }),
            EditArgs {
                append: None,
                find: None,
                replace: None,
                start: Some(start),
                end: Some(end),
                text: Some(text),
                ..
            } if start <= end => Ok(Edit::Range {
                start: start as usize,
                end: end as usize,
                text,
            }),
            EditArgs {
                start: Some(_),
                end: Some(_),
                ..
            } => Err(ToolError::InvalidArguments(format!(
                "`start` must not be after `end`; {usage}"
            ))),
            _ => Err(ToolError::InvalidArguments(usage.into())),
        }
    }
}

/// The operation for `edit` on `content`, or why it does not apply.
fn operation(content: &Rope, edit: Edit) -> Result<TextOp, String> {
    let len = content.len_chars();
    match edit {
        Edit::Append(text) => {
            let needs_newline = len > 0 && content.char(len - 1) != '\n' && !text.starts_with('\n');
            let text = if needs_newline {
                format!("\n{text}")
            } else {
                text
            };
            Ok(TextOp::splice(len, len, len, &text))
        }
        Edit::Replace { find, with } => {
            if find.is_empty() {
                return Err("`find` cannot be empty".into());
            }
            let whole = content.to_string();
            let mut matches = whole.match_indices(&find);
            let Some((at, _)) = matches.next() else {
                return Err(format!("the document does not contain {find:?}"));
            };
            if matches.next().is_some() {
                return Err(format!(
                    "{find:?} occurs more than once: quote more of the passage so it is unique"
                ));
            }
            let start = content.byte_to_char(at);
            let end = start + find.chars().count();
            Ok(TextOp::splice(len, start, end, &with))
        }
        Edit::Range { start, end, text } => {
            if end > len {
                return Err(format!(
                    "the range {start}..{end} is beyond the document's {len} characters"
                ));
            }
            Ok(TextOp::splice(len, start, end, &text))
        }
    }
}

impl Tool for EditDoc {
    type Args = EditArgs;
    const NAME: &'static str = "edit_doc";
    const DESCRIPTION: &'static str = "Edit a document: append text; or replace a passage (`find`, which must occur exactly once, with `replace`); or replace the characters `start`..`end` with `text`. Edits merge with the user's concurrent typing.";
    const SIDE_EFFECTS: bool = false;

    async fn run(&self, ctx: &ToolContext, args: Self::Args) -> Result<ToolOutcome, ToolError> {
        let doc_id = DocId(args.doc_id);
        let edit = args.edit()?;
        let Some(doc) = view(ctx, doc_id).await? else {
            return Ok(no_such_doc(doc_id));
        };
        let op = match operation(&doc.content, edit) {
            Ok(op) => op,
            Err(reason) => return Ok(ToolOutcome::failed(reason)),
        };
        let command = Command::EditDoc {
            doc_id,
            base_version: doc.version,
            op,
            edit_id: None,
        };
        match ctx.world.execute(command, ctx.actor.clone(), None).await {
            Ok(seqs) if seqs.is_empty() => Ok(ToolOutcome::ok(format!(
                "document {doc_id} \"{}\" already says that: nothing changed",
                doc.title
            ))),
            Ok(_) => {
                let now = view(ctx, doc_id).await?;
                Ok(ToolOutcome::ok(match now {
                    Some(now) => format!(
                        "edited document {doc_id} \"{}\": now version {}, {} characters",
                        now.title,
                        now.version,
                        now.content.len_chars()
                    ),
                    None => format!("edited document {doc_id}; it was deleted since"),
                }))
            }
            Err(err) => refused(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn operations_follow_the_arguments() {
        let doc = Rope::from_str("alpha beta\ngamma");
        let apply = |edit| operation(&doc, edit).map(|op| op.apply(&doc.to_string()).unwrap());
        assert_eq!(
            apply(Edit::Append("delta".into())),
            Ok("alpha beta\ngamma\ndelta".into())
        );
        assert_eq!(
            apply(Edit::Replace {
                find: "beta".into(),
                with: "BETA".into()
            }),
            Ok("alpha BETA\ngamma".into())
        );
        assert_eq!(
            apply(Edit::Range {
                start: 0,
                end: 5,
                text: "omega".into()
            }),
            Ok("omega beta\ngamma".into())
        );
        assert!(apply(Edit::Replace {
            find: "a".into(),
            with: "b".into()
        })
        .unwrap_err()
        .contains("more than once"));
        assert!(apply(Edit::Replace {
            find: "zeta".into(),
            with: "b".into()
        })
        .unwrap_err()
        .contains("does not contain"));
        assert!(apply(Edit::Range {
            start: 3,
            end: 99,
            text: String::new()
        })
        .unwrap_err()
        .contains("beyond"));
    }

    #[test]
    fn arguments_must_name_one_kind_of_edit() {
        let args = |value: Value| serde_json::from_value::<EditArgs>(value).unwrap().edit();
        assert!(matches!(
            args(json!({"doc_id": 1, "append": "x"})),
            Ok(Edit::Append(_))
        ));
        assert!(args(json!({"doc_id": 1})).is_err());
        assert!(args(json!({"doc_id": 1, "append": "x", "find": "y", "replace": "z"})).is_err());
        assert!(args(json!({"doc_id": 1, "find": "y"})).is_err());
        assert!(args(json!({"doc_id": 1, "start": 5, "end": 2, "text": ""})).is_err());
    }
}
