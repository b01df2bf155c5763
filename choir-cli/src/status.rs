//! `choir status`: where the daemon is and what it holds.

use std::path::Path;

use serde_json::{json, Value};

use super::print_line;
use choir_client::connect::{ConnectError, DaemonHttp};

/// Prints one JSON object describing the daemon.
pub async fn status(daemon: &DaemonHttp, data_dir: Option<&Path>) -> Result<(), ConnectError> {
    let health = daemon.get("/health").await?;
    let state = daemon.get("/api/state").await?;
    let agent = daemon.get("/api/agent").await?;
    let world = &state["world"];
    let count = |value: &Value| value.as_array().map_or(0, Vec::len);
    let report = json!({
        "url": daemon.endpoint().url,
        "pid": daemon.endpoint().pid,
        "data_dir": data_dir.map(|dir| dir.display().to_string()),
        "version": health["version"],
        "head": state["head"],
        "windows": count(&world["desktop"]["windows"]),
        "chats": count(&world["chats"]),
        "docs": count(&world["docs"]),
        "pending_tools": count(&world["pending_tools"]),
        "agent": agent,
    });
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    print_line(&mut std::io::stdout().lock(), &text);
    Ok(())
}
