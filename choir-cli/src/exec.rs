//! `choir --exec`: run a tool through the daemon, so the call shows live in every client.

use std::io::BufRead;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::print_line;
use choir_client::connect::{ConnectError, DaemonHttp};

/// Longest a tool call may take before the CLI gives up (the bash tool's own limit is 3600 s).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(3700);

/// Exit status when the call could not be made (unknown tool, bad arguments).
const USAGE_ERROR: i32 = 2;

/// Why `--exec` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Launch(#[from] choir_client::launch::LaunchError),
    #[error("{0}")]
    Usage(String),
}

impl ExecError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Connect(_) | ExecError::Launch(_) => 1,
            ExecError::Usage(_) => USAGE_ERROR,
        }
    }
}

async fn tools(daemon: &DaemonHttp) -> Result<Vec<Value>, ExecError> {
    let mut listing = daemon.get("/api/tools").await?;
    Ok(serde_json::from_value(listing["tools"].take()).unwrap_or_default())
}

/// `--exec --list`: every tool with its schema, one JSON object per line.
pub async fn list(daemon: &DaemonHttp) -> Result<(), ExecError> {
    let mut out = std::io::stdout().lock();
    for tool in tools(daemon).await? {
        if !print_line(&mut out, &tool.to_string()) {
            break;
        }
    }
    Ok(())
}

/// Builds the arguments object from `--json` and `--arg key=value` pairs. A value is taken as
/// a string where the tool's schema says string, and as JSON otherwise (`--arg timeout_secs=5`).
fn build_args(tool: &Value, json_arg: Option<&str>, pairs: &[String]) -> Result<Value, ExecError> {
    let mut args = match json_arg {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ExecError::Usage("--json must be a JSON object".into())),
            Err(err) => return Err(ExecError::Usage(format!("--json is not JSON: {err}"))),
        },
        None => Map::new(),
    };
    for pair in pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(ExecError::Usage(format!(
                "--arg {pair}: expected KEY=VALUE"
            )));
        };
        let kind = tool["schema"]["properties"][key]["type"]
            .as_str()
            .unwrap_or("string");
        let value = if kind == "string" {
            Value::String(raw.to_owned())
        } else {
            serde_json::from_str(raw).map_err(|_| {
                ExecError::Usage(format!("--arg {key}={raw}: expected a JSON {kind}"))
            })?
        };
        args.insert(key.to_owned(), value);
    }
    Ok(Value::Object(args))
}

/// Runs one call and prints its result; returns the exit status (the tool's, 0 on success).
async fn call(
    daemon: &DaemonHttp,
    name: &str,
    args: &Value,
    out: &mut impl std::io::Write,
) -> Result<i32, ExecError> {
    let (status, body) = daemon.post(&format!("/api/tools/{name}"), args).await?;
    if !(200..300).contains(&status) {
        let message = body["message"]
            .as_str()
            .unwrap_or("the daemon refused the call");
        return Err(ExecError::Usage(format!("{name}: {message}")));
    }
    print_line(out, &body.to_string());
    let ok = body["ok"].as_bool().unwrap_or(false);
    Ok(match (ok, body["exit_code"].as_i64()) {
        (true, _) => 0,
        (false, Some(code)) if code != 0 => i32::try_from(code).unwrap_or(1),
        (false, _) => 1,
    })
}

/// `--exec TOOL [--arg k=v ...] [--json {...}]`.
pub async fn one(
    daemon: &DaemonHttp,
    name: &str,
    json_arg: Option<&str>,
    pairs: &[String],
) -> Result<i32, ExecError> {
    let tools = tools(daemon).await?;
    let Some(tool) = tools.iter().find(|tool| tool["name"] == json!(name)) else {
        return Err(ExecError::Usage(format!(
            "no tool named `{name}` (choir --exec --list shows them)"
        )));
    };
    let args = build_args(tool, json_arg, pairs)?;
    call(daemon, name, &args, &mut std::io::stdout().lock()).await
}

/// `--exec -`: one call per line of stdin, `{"tool": "...", "args": {...}}`. Each result is
/// printed as a line; failures are reported on stderr and the batch goes on. The exit status
/// is the last non-zero one, or 0.
pub async fn batch(daemon: &DaemonHttp) -> Result<i32, ExecError> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut status = 0;
    for (number, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|err| ExecError::Usage(format!("cannot read stdin: {err}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<(String, Value), String> = serde_json::from_str::<Value>(&line)
            .map_err(|err| err.to_string())
            .and_then(|value| match (value["tool"].as_str(), value.get("args")) {
                (Some(tool), None) => Ok((tool.to_owned(), json!({}))),
                (Some(tool), Some(args)) if args.is_object() => Ok((tool.to_owned(), args.clone())),
                _ => Err("expected {\"tool\": \"NAME\", \"args\": {...}}".into()),
            });
        let result = match parsed {
            Ok((tool, args)) => call(daemon, &tool, &args, &mut out).await,
            Err(message) => Err(ExecError::Usage(message)),
        };
        match result {
            Ok(0) => {}
            Ok(code) => status = code,
            Err(ExecError::Connect(err)) => return Err(ExecError::Connect(err)),
            Err(err) => {
                eprintln!("choir: line {}: {err}", number + 1);
                status = err.exit_code();
            }
        }
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_follow_the_schema_types() {
        let tool = json!({"schema": {"properties": {"cmd": {"type": "string"}, "timeout_secs": {"type": "integer"}}}});
        let pairs = vec!["cmd=echo a=b".to_owned(), "timeout_secs=5".to_owned()];
        assert_eq!(
            build_args(&tool, None, &pairs).unwrap(),
            json!({"cmd": "echo a=b", "timeout_secs": 5})
        );
        assert_eq!(
            build_args(
                &tool,
                Some(r#"{"cmd":"ls","timeout_secs":2}"#),
                &["timeout_secs=3".into()]
            )
            .unwrap(),
            json!({"cmd": "ls", "timeout_secs": 3})
        );
        assert!(build_args(&tool, None, &["timeout_secs=soon".into()]).is_err());
        assert!(build_args(&tool, None, &["novalue".into()]).is_err());
        assert!(build_args(&tool, Some("[1]"), &[]).is_err());
    }
}
