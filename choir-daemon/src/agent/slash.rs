//! Slash commands: they work with no model at all.

use choir_proto::{EventBody, ThreadId};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::record::Stop;
use super::{TurnContext, AGENT};
use crate::tools::ToolCall;

pub const HELP: &str = "Slash commands (no model needed):\n  /bash CMD    run a shell command in the workspace\n  /read PATH   show a file of the workspace\n  /ls [PATH]   list a directory of the workspace\n  /open APP    open a window: chat, writer or event_log\n  /doc TITLE   create a document and open it in a writer window\n  /docs        list the documents\n  /help        this list";

/// A parsed slash command: the tool to call and its arguments, or the help text.
pub enum Slash {
    Tool(&'static str, serde_json::Value),
    Reply(String),
}

/// `Some` when `text` is a slash command.
pub fn parse(text: &str) -> Option<Slash> {
    let text = text.trim();
    let rest = text.strip_prefix('/')?;
    let (name, arg) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let arg = arg.trim();
    Some(match name {
        "help" => Slash::Reply(HELP.into()),
        "bash" if !arg.is_empty() => Slash::Tool("bash", json!({"cmd": arg})),
        "read" if !arg.is_empty() => Slash::Tool("read_file", json!({"path": arg})),
        "ls" => Slash::Tool(
            "list_files",
            json!({"path": if arg.is_empty() { "." } else { arg }}),
        ),
        "open" if !arg.is_empty() => Slash::Tool("open_window", json!({"app": arg})),
        "doc" if !arg.is_empty() => Slash::Tool("create_doc", json!({"title": arg})),
        "docs" => Slash::Tool("list_docs", json!({})),
        "bash" | "read" | "open" | "doc" => {
            Slash::Reply(format!("/{name} needs an argument.\n\n{HELP}"))
        }
        other => Slash::Reply(format!("Unknown command /{other}.\n\n{HELP}")),
    })
}

pub(super) async fn run(
    ctx: &TurnContext,
    thread_id: ThreadId,
    command: Slash,
    cancel: &CancellationToken,
) -> Result<(), Stop> {
    let reply = match command {
        Slash::Reply(text) => text,
        Slash::Tool(tool, args) => {
            // The user typed it: no approval is asked.
            let call = ToolCall {
                tool: tool.into(),
                args,
                call_id: None,
                thread_id: Some(thread_id),
                actor: AGENT.into(),
                correlation: None,
            };
            let result = ctx.tools.call(call, cancel.child_token()).await;
            if cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            match result {
                Ok(result) => match result.exit_code {
                    Some(code) if code != 0 => {
                        format!("{}\n[exit code {code}]", result.output.trim_end())
                    }
                    _ => result.output,
                },
                Err(err) => format!("error: {err}"),
            }
        }
    };
    let body = EventBody::ChatAssistantMessage {
        thread_id,
        text: reply,
        ending: None,
        tool_calls: Vec::new(),
    };
    ctx.store
        .append(vec![choir_proto::NewEvent::new(AGENT, body)])
        .await
        .map(|_| ())
        .map_err(|err| Stop::Failed(err.to_string()))
}
