//! `choir approve`: answer a tool call that waits for approval, from the shell.

use choir_proto::{CallId, Command};
use serde_json::{json, Value};

use super::exec::ExecError;
use super::print_line;
use choir_client::connect::DaemonHttp;

/// Approves (or with `deny`, refuses) `call_id`, or the only call that waits when none is
/// named. Prints the call approved or denied.
pub async fn approve(
    daemon: &DaemonHttp,
    call_id: Option<&str>,
    deny: bool,
    reason: Option<&str>,
) -> Result<(), ExecError> {
    let state = daemon.get("/api/state").await?;
    let waiting: Vec<&Value> = state["world"]["pending_tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|call| call["status"] == "awaiting_approval")
        .collect();
    let describe = |call: &Value| {
        format!(
            "{} {} {}",
            call["call_id"].as_str().unwrap_or("?"),
            call["tool"].as_str().unwrap_or("?"),
            call["args"]
        )
    };
    let call_id = match (call_id, waiting.as_slice()) {
        (Some(id), _) => id.to_owned(),
        (None, []) => {
            return Err(ExecError::Usage(
                "no tool call is waiting for approval".into(),
            ))
        }
        (None, [only]) => only["call_id"].as_str().unwrap_or_default().to_owned(),
        (None, several) => {
            let list: Vec<String> = several.iter().map(|call| describe(call)).collect();
            return Err(ExecError::Usage(format!(
                "several calls wait; name one:\n  {}",
                list.join("\n  ")
            )));
        }
    };
    let call_id = CallId(call_id);
    let command = if deny {
        Command::DenyTool {
            call_id: call_id.clone(),
            reason: reason.map(str::to_owned),
        }
    } else {
        Command::ApproveTool {
            call_id: call_id.clone(),
        }
    };
    let body = serde_json::to_value(&command).map_err(|err| ExecError::Usage(err.to_string()))?;
    let (status, reply) = daemon.post("/api/commands", &body).await?;
    if !(200..300).contains(&status) {
        let message = reply["message"].as_str().unwrap_or("refused");
        return Err(ExecError::Usage(format!("{call_id}: {message}")));
    }
    let line = json!({"call_id": call_id, "decision": if deny { "denied" } else { "approved" }});
    print_line(&mut std::io::stdout().lock(), &line.to_string());
    Ok(())
}
