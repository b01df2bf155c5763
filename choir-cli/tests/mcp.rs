//! `choir mcp` with a real MCP client (the `mcp` package from PyPI, set up by
//! scripts/setup-mcp-client.sh): the client lists the sandbox's tools and calls them; each call
//! is recorded in the log as the `mcp` actor's; refusals come back as errors the client reads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use choir_daemon::{Daemon, DaemonConfig};
use choir_proto::EventBody;
use serde_json::{json, Value};

/// The virtualenv's Python, or None where it was not set up (outside scripts/test.sh).
fn client_python() -> Option<PathBuf> {
    let path = match std::env::var_os("CHOIR_MCP_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => dirs::cache_dir()?.join("choir-test/mcp-venv/bin/python"),
    };
    path.exists().then_some(path)
}

/// Runs the client against `choir --data-dir DIR mcp` with these calls; returns its report.
fn run_client(python: &Path, dir: &Path, calls: &[Value]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_choir"))
        .arg("--data-dir")
        .arg(dir)
        .arg("mcp")
        .env_remove("CHOIR_URL")
        .env_remove("CHOIR_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for call in calls {
        writeln!(stdin, "{call}").unwrap();
    }
    drop(stdin);
    let pid = child.id();
    // Stopped by its id if it hangs.
    let guard = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    });
    let output = child.wait_with_output().unwrap();
    drop(guard);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the MCP client failed: {stderr}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {stderr}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_mcp_client_lists_and_calls_the_tools() {
    let Some(python) = client_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "the MCP client is not set up: run scripts/setup-mcp-client.sh"
        );
        eprintln!("skipped: no MCP client (run scripts/setup-mcp-client.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(DaemonConfig::local(dir.path()))
        .await
        .unwrap();
    std::fs::write(dir.path().join("workspace/notes.md"), "one\ntwo\n").unwrap();
    let calls = [
        json!({"tool": "bash", "args": {"cmd": "echo from-mcp; exit 3"}}),
        json!({"tool": "edit_file", "args": {"path": "notes.md", "old": "two", "new": "2"}}),
        json!({"tool": "read_file", "args": {"path": "../../etc/passwd"}}),
        json!({"tool": "bash", "args": {"command": "ls"}}),
        json!({"tool": "no_such_tool", "args": {}}),
    ];
    let dir_path = dir.path().to_owned();
    let report = tokio::task::spawn_blocking(move || run_client(&python, &dir_path, &calls))
        .await
        .unwrap();

    assert_eq!(report["initialize"]["serverInfo"]["name"], "choir");
    let names: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    for expected in ["bash", "read_file", "write_file", "edit_file", "list_files"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(
        !names.contains(&"delegate"),
        "the agent's own tool is not offered"
    );
    let bash = &report["tools"][0];
    assert_eq!(bash["inputSchema"]["required"], json!(["cmd"]));

    let results = report["calls"].as_array().unwrap();
    assert_eq!(
        results[0]["result"]["content"],
        json!([{"type": "text", "text": "exit code 3\nfrom-mcp\n"}])
    );
    assert_eq!(results[0]["result"]["isError"], json!(true));
    assert_eq!(results[1]["result"]["isError"], json!(false));
    assert!(results[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("-two\n+2\n"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/notes.md")).unwrap(),
        "one\n2\n"
    );
    // A path outside the workspace: refused, nothing read.
    let outside = results[2].to_string();
    assert!(
        outside.contains("paths must stay inside the workspace"),
        "{outside}"
    );
    assert_eq!(results[2]["result"]["isError"], json!(true));
    assert!(!outside.contains("root:"), "{outside}");
    assert!(
        results[3]["error"]
            .as_str()
            .unwrap()
            .contains("missing required argument `cmd`"),
        "{results:?}"
    );
    assert!(
        results[4]["error"]
            .as_str()
            .unwrap()
            .contains("no tool named `no_such_tool`"),
        "{results:?}"
    );

    // Each call that ran is in the log, as the `mcp` actor's.
    let events = daemon.store.read(1, 100).await.unwrap();
    let started: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ToolStarted { tool, .. } => Some((e.actor.as_str(), tool.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        started,
        [("mcp", "bash"), ("mcp", "edit_file"), ("mcp", "read_file")]
    );
    daemon.shutdown().await;
}
