//! The `choir` binary against a real daemon found through its data dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{Event, EventBody, WindowId};
use pretty_assertions::assert_eq;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

async fn start(dir: &Path) -> RunningDaemon {
    Daemon::start(DaemonConfig::local(dir)).await.unwrap()
}

/// `choir ARGS` with only the data dir to go on.
fn choir_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_choir"));
    command
        .args(args)
        .env_remove("CHOIR_URL")
        .env_remove("CHOIR_TOKEN")
        .env_remove("CHOIR_NO_START")
        .env("CHOIR_DATA_DIR", dir);
    command
}

/// Runs `choir ARGS` with only the data dir to go on.
async fn choir(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(choir_command(dir, args)).await
}

/// `choir ARGS` as a hypervisor runs it in a sandbox: it never starts a daemon.
fn supervised(dir: &Path, args: &[&str]) -> Command {
    let mut command = choir_command(dir, args);
    command.env("CHOIR_NO_START", "1");
    command
}

/// Leaves `dir` as a crashed daemon would: a log with a window opened in it, and an endpoint
/// file whose port refuses.
async fn leave_as_a_crash_would(dir: &Path) {
    let daemon = start(dir).await;
    post(&daemon, r#"{"type":"window.open","app":"chat"}"#).await;
    let endpoint = std::fs::read_to_string(dir.join("daemon.json")).unwrap();
    daemon.shutdown().await;
    let mut stale: Value = serde_json::from_str(&endpoint).unwrap();
    stale["url"] = Value::from("http://127.0.0.1:9");
    std::fs::write(dir.join("daemon.json"), stale.to_string()).unwrap();
}

/// Runs a command to its end: its exit status, stdout and stderr.
async fn run(mut command: Command) -> (i32, String, String) {
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn post(daemon: &RunningDaemon, body: &str) {
    let endpoint = choir_proto::Endpoint {
        url: daemon.url(),
        token: daemon.token.clone(),
        pid: 0,
        viewer: None,
    };
    let http = choir_client::connect::DaemonHttp::new(endpoint).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let (status, _) = http.post("/api/commands", &json).await.unwrap();
    assert_eq!(status, 200, "{body}");
}

fn parse_lines(stdout: &str) -> Vec<Event> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn status_and_events_find_the_daemon_through_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    post(&daemon, r#"{"type":"window.open","app":"event_log"}"#).await;
    post(&daemon, r#"{"type":"window.open","app":"writer"}"#).await;
    post(&daemon, r#"{"type":"window.close","window_id":1}"#).await;

    let (code, stdout, stderr) = choir(dir.path(), &["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["url"], Value::from(daemon.url()));
    assert_eq!(
        (status["head"].as_u64(), status["windows"].as_u64()),
        (Some(3), Some(1))
    );

    // The order the README shows: the option before the command (it used to be refused), and
    // after it; both without the environment variable.
    let given = dir.path().to_str().unwrap();
    for args in [
        ["--data-dir", given, "status"],
        ["status", "--data-dir", given],
    ] {
        let (code, stdout, stderr) = choir(Path::new("/nonexistent"), &args).await;
        assert_eq!(code, 0, "{args:?}: {stderr}");
        let status: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(status["url"], Value::from(daemon.url()));
    }
    let (code, _, stderr) = choir(dir.path(), &["--exec", "bash", "status"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be combined"), "{stderr}");

    let (code, stdout, _) = choir(dir.path(), &["events"]).await;
    assert_eq!(code, 0);
    let events = parse_lines(&stdout);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        events[2].body,
        EventBody::WindowClosed {
            window_id: WindowId(1)
        }
    );

    let (_, stdout, _) = choir(dir.path(), &["events", "--from", "2"]).await;
    assert_eq!(
        parse_lines(&stdout)
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn clear_errors_when_no_daemon_answers() {
    let dir = tempfile::tempdir().unwrap();
    // A stale endpoint file (daemon killed) names a port nobody listens on: the data dir's
    // lock says no daemon runs, so choir starts one rather than knock on that port.
    leave_as_a_crash_would(dir.path()).await;
    let (code, stdout, stderr) = choir(dir.path(), &["events"]).await;
    let started = BackgroundDaemon::of(dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        !stdout.is_empty(),
        "the log it kept is read by the new daemon"
    );
    started.stop();

    // A wrong token.
    let daemon = start(dir.path()).await;
    let mut wrong: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("daemon.json")).unwrap())
            .unwrap();
    wrong["token"] = Value::from("not-the-token");
    std::fs::write(dir.path().join("daemon.json"), wrong.to_string()).unwrap();
    let (code, _, stderr) = choir(dir.path(), &["status"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("refused the token"), "{stderr}");
    let (code, _, stderr) = choir(dir.path(), &["bogus"]).await;
    assert_eq!(code, 2, "{stderr}");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_streams_live_and_resumes_across_a_daemon_restart_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    post(&daemon, r#"{"type":"window.open","app":"event_log"}"#).await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_choir"))
        .args(["events", "--follow"])
        .env("CHOIR_DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let next_seq = |rx: &std::sync::mpsc::Receiver<String>| {
        let line = rx.recv_timeout(WAIT).expect("follow printed nothing");
        serde_json::from_str::<Event>(&line).unwrap().seq
    };
    assert_eq!(next_seq(&rx), 1);
    post(
        &daemon,
        r#"{"type":"window.move","window_id":1,"x":5,"y":5}"#,
    )
    .await;
    assert_eq!(next_seq(&rx), 2);

    // Restart on another port; `choir` re-reads the data dir and resumes after seq 2.
    daemon.shutdown().await;
    let daemon = start(dir.path()).await;
    post(
        &daemon,
        r#"{"type":"window.move","window_id":1,"x":6,"y":6}"#,
    )
    .await;
    post(&daemon, r#"{"type":"window.minimize","window_id":1}"#).await;
    assert_eq!(next_seq(&rx), 3);
    assert_eq!(next_seq(&rx), 4);
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "nothing printed twice"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    daemon.shutdown().await;
}

/// Runs `choir ARGS` with stdin.
async fn choir_stdin(dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_choir"))
        .args(args)
        .env_remove("CHOIR_URL")
        .env_remove("CHOIR_TOKEN")
        .env("CHOIR_DATA_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[tokio::test]
async fn exec_runs_tools_through_the_daemon_with_their_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;

    let (code, stdout, stderr) = choir(
        dir.path(),
        &["--exec", "bash", "--arg", "cmd=echo hello; exit 7"],
    )
    .await;
    assert_eq!(code, 7, "{stderr}");
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["output"], Value::from("hello\n"));
    assert_eq!(result["exit_code"], Value::from(7));
    assert_eq!(result["ok"], Value::from(false));

    let (code, stdout, _) = choir(
        dir.path(),
        &[
            "--exec",
            "write_file",
            "--json",
            r#"{"path":"n.md","content":"hi"}"#,
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["ok"],
        Value::from(true)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/n.md")).unwrap(),
        "hi"
    );

    // The calls are in the log, for every client to see.
    let (_, stdout, _) = choir(dir.path(), &["events"]).await;
    let events = parse_lines(&stdout);
    let tools: Vec<&str> = events.iter().map(|e| e.body.type_name()).collect();
    assert_eq!(
        tools,
        vec![
            "tool.started",
            "tool.finished",
            "tool.started",
            "tool.finished"
        ]
    );

    let (code, stdout, _) = choir(dir.path(), &["--exec", "--list"]).await;
    assert_eq!(code, 0);
    let listed: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bash = listed.iter().find(|t| t["name"] == "bash").unwrap();
    assert_eq!(bash["schema"]["required"], serde_json::json!(["cmd"]));

    let (code, stdout, stderr) = choir_stdin(
        dir.path(),
        &["--exec", "-"],
        "{\"tool\":\"bash\",\"args\":{\"cmd\":\"echo a\"}}\nnot json\n{\"tool\":\"read_file\",\"args\":{\"path\":\"n.md\"}}\n",
    )
    .await;
    assert_eq!(code, 2, "a bad line makes the batch fail");
    let outputs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        outputs
            .iter()
            .map(|r| r["output"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["a\n", "hi"]
    );
    assert!(stderr.contains("line 2"), "{stderr}");

    for (args, fragment) in [
        (vec!["--exec", "teleport"], "no tool named `teleport`"),
        (vec!["--exec", "bash"], "missing required argument `cmd`"),
        (
            vec![
                "--exec",
                "bash",
                "--arg",
                "cmd=ls",
                "--arg",
                "timeout_secs=soon",
            ],
            "expected a JSON integer",
        ),
    ] {
        let (code, stdout, stderr) = choir(dir.path(), &args).await;
        assert_eq!((code, stdout.as_str()), (2, ""), "{args:?}: {stderr}");
        assert!(stderr.contains(fragment), "{args:?}: {stderr}");
    }
    let (code, stdout, stderr) = choir(
        dir.path(),
        &["--exec", "read_file", "--arg", "path=../events.db"],
    )
    .await;
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("climbs out"), "{stdout}");
    daemon.shutdown().await;
}

/// A daemon that `choir` started in the background, found by the pid in its endpoint file;
/// stopped (SIGTERM, then SIGKILL) when the test is done with it.
struct BackgroundDaemon {
    pid: i32,
}

impl BackgroundDaemon {
    fn of(dir: &Path) -> Self {
        let endpoint: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("daemon.json")).unwrap())
                .unwrap();
        let pid = i32::try_from(endpoint["pid"].as_u64().unwrap()).unwrap();
        assert_ne!(
            pid,
            i32::try_from(std::process::id()).unwrap(),
            "not this test's daemon"
        );
        Self { pid }
    }

    fn alive(&self) -> bool {
        choir_test_support::procs::status_field(self.pid as u32, "State:")
            .is_some_and(|state| !state.contains("zombie"))
    }

    /// SIGTERM, and its end within [`WAIT`]; a test that asks this fails if it does not end.
    fn stop(self) {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + WAIT;
        while self.alive() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            !self.alive(),
            "the daemon choir started did not stop on SIGTERM within {WAIT:?}"
        );
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), signal);
    }
}

/// A test that fails on the way leaves no daemon behind.
impl Drop for BackgroundDaemon {
    fn drop(&mut self) {
        if self.alive() {
            self.signal(nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// On a data dir where no daemon runs, the commands that talk to one start it first, as
/// `choir` does, and the daemon keeps running after them (the next command finds it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_start_the_daemon_when_none_runs() {
    let commands: [&[&str]; 5] = [
        &["--exec", "bash", "--arg", "cmd=echo started"],
        &["status"],
        &["events", "--from", "1"],
        &["share", "list", "--json"],
        &["approve"],
    ];
    for args in commands {
        let dir = tempfile::tempdir().unwrap();
        assert!(!dir.path().join("daemon.json").exists());
        let (code, stdout, stderr) = choir(dir.path(), args).await;
        let started = BackgroundDaemon::of(dir.path());
        assert!(started.alive(), "{args:?}: the daemon it started runs on");
        // `approve` with nothing waiting says so and fails; every other one succeeds.
        if args == ["approve"] {
            assert_eq!(code, 1, "{args:?}: {stderr}");
            assert!(stderr.contains("no tool call is waiting"), "{stderr}");
        } else {
            assert_eq!(code, 0, "{args:?}: {stderr}");
        }
        if args[0] == "--exec" {
            assert!(stdout.contains("started"), "{stdout}");
            // The next command finds the same daemon.
            let (code, stdout, _) = choir(dir.path(), &["status"]).await;
            assert_eq!(code, 0);
            assert!(stdout.contains(&started.pid.to_string()), "{stdout}");
        }
        started.stop();
    }
    // Where a supervisor starts the daemon (a hypervisor's sandbox), choir only looks.
    let dir = tempfile::tempdir().unwrap();
    let command = supervised(dir.path(), &["status"]);
    let (code, stdout, stderr) = run(command).await;
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert!(stderr.contains("no daemon is running"), "{stderr}");
    assert!(!dir.path().join("daemon.json").exists());
}

/// Under a supervisor (`CHOIR_NO_START`), a daemon whose socket refuses is being started
/// again: choir waits for it rather than fail the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervised_daemon_that_is_restarting_is_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    leave_as_a_crash_would(dir.path()).await;
    let command = supervised(dir.path(), &["events"]);
    let asked = std::time::Instant::now();
    let choir = tokio::spawn(run(command));
    // The supervisor starts it again a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let daemon = start(dir.path()).await;
    let (code, stdout, stderr) = tokio::time::timeout(WAIT, choir).await.unwrap().unwrap();
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("window.opened"), "{stdout}");
    assert!(asked.elapsed() >= Duration::from_millis(500));
    daemon.shutdown().await;
}

#[tokio::test]
async fn approve_answers_the_waiting_call_and_status_shows_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let (code, _, stderr) = choir(dir.path(), &["approve"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no tool call is waiting"), "{stderr}");

    let request = |id: &str| {
        choir_proto::NewEvent::new(
            "agent",
            EventBody::ToolRequested {
                call_id: choir_proto::CallId(id.into()),
                tool: "bash".into(),
                args: serde_json::json!({"cmd": "ls"}),
                thread_id: None,
                needs_approval: true,
                preview: None,
            },
        )
    };
    daemon.store.append(vec![request("call_a")]).await.unwrap();
    let (code, stdout, stderr) = choir(dir.path(), &["approve"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["decision"],
        Value::from("approved")
    );

    daemon
        .store
        .append(vec![request("call_b"), request("call_c")])
        .await
        .unwrap();
    let (code, _, stderr) = choir(dir.path(), &["approve"]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("several calls wait") && stderr.contains("call_b"),
        "{stderr}"
    );
    let (code, _, stderr) = choir(
        dir.path(),
        &["approve", "call_c", "--deny", "--reason", "no"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = choir(dir.path(), &["approve", "call_c"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("call_c"), "{stderr}");

    let events = daemon.store.read(1, 10).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.body.type_name()).collect();
    assert_eq!(
        kinds,
        vec![
            "tool.requested",
            "tool.approved",
            "tool.requested",
            "tool.requested",
            "tool.denied"
        ]
    );

    let (_, stdout, _) = choir(dir.path(), &["status"]).await;
    let status: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["agent"]["provider"], Value::from("offline"));
    assert_eq!(status["agent"]["approval"], Value::from("ask"));
    daemon.shutdown().await;
}

#[tokio::test]
async fn exec_drives_the_document_tools() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let exec = |args: Vec<&'static str>| {
        let dir = dir.path().to_owned();
        async move {
            let (code, stdout, stderr) = choir(&dir, &args).await;
            let result: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
            (code, result, stderr)
        }
    };
    let (code, created, stderr) = exec(vec![
        "--exec",
        "create_doc",
        "--arg",
        "title=Field notes",
        "--arg",
        "content=# Field notes\n",
    ])
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(created["output"].as_str().unwrap().starts_with(
        "created document 1 \"Field notes\" (14 characters), open in writer window 1"
    ));

    let (code, _, _) = exec(vec![
        "--exec",
        "edit_doc",
        "--arg",
        "doc_id=1",
        "--arg",
        "append=Saw a heron.",
    ])
    .await;
    assert_eq!(code, 0);
    let (_, listed, _) = exec(vec!["--exec", "list_docs"]).await;
    assert_eq!(listed["output"], "1\tField notes\t26 characters\tversion 1");
    let (_, read, _) = exec(vec!["--exec", "read_doc", "--arg", "doc_id=1"]).await;
    assert_eq!(
        read["output"],
        "document 1 \"Field notes\", version 1, 26 characters\n---\n# Field notes\nSaw a heron."
    );

    // A passage that is not there fails the tool (status 1) and changes nothing.
    let (code, failed, _) = exec(vec![
        "--exec",
        "edit_doc",
        "--arg",
        "doc_id=1",
        "--arg",
        "find=eagle",
        "--arg",
        "replace=owl",
    ])
    .await;
    assert_eq!(code, 1);
    assert_eq!(failed["output"], "the document does not contain \"eagle\"");
    let (code, missing, _) = exec(vec!["--exec", "read_doc", "--arg", "doc_id=9"]).await;
    assert_eq!(code, 1);
    assert!(missing["output"]
        .as_str()
        .unwrap()
        .contains("no document with id 9"));
    daemon.shutdown().await;
}

#[tokio::test]
async fn events_at_and_between_read_the_past_by_seq_and_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    post(&daemon, r#"{"type":"window.open","app":"event_log"}"#).await;
    post(
        &daemon,
        r#"{"type":"window.move","window_id":1,"x":7,"y":3}"#,
    )
    .await;
    post(&daemon, r#"{"type":"window.open","app":"writer"}"#).await;
    post(&daemon, r#"{"type":"window.close","window_id":1}"#).await;
    let head = daemon.world().welcome().await.unwrap().head;

    // Right after the move: window 1 at (7, 3), no writer yet.
    let moved = 2;
    let (code, stdout, stderr) = choir(dir.path(), &["events", "--at", &moved.to_string()]).await;
    assert_eq!(code, 0, "{stderr}");
    let moment: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(moment["seq"], moved);
    assert_eq!(moment["head"], head);
    let windows = moment["world"]["desktop"]["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 1, "{windows:?}");
    assert_eq!(
        (&windows[0]["id"], &windows[0]["rect"]["x"]),
        (&Value::from(1), &Value::from(7))
    );

    // An hour ago: before everything.
    let (code, stdout, stderr) = choir(dir.path(), &["events", "--at", "-1h"]).await;
    assert_eq!(code, 0, "{stderr}");
    let moment: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(moment["seq"], 0);
    assert_eq!(moment["world"]["desktop"]["windows"], serde_json::json!([]));

    let (code, stdout, stderr) = choir(dir.path(), &["events", "--between", "2", "3"]).await;
    assert_eq!(code, 0, "{stderr}");
    let seqs: Vec<u64> = parse_lines(&stdout).iter().map(|event| event.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    // By time: from an hour ago to now is everything.
    let (code, stdout, stderr) = choir(dir.path(), &["events", "--between", "-1h", "-0s"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(parse_lines(&stdout).len() as u64, head);

    let (code, _, stderr) = choir(dir.path(), &["events", "--at", "someday"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("is not a point of the log"), "{stderr}");
    let (code, _, stderr) = choir(dir.path(), &["events", "--at", "3", "--follow"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn share_mints_lists_and_revokes_and_a_read_only_token_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let (code, stdout, stderr) = choir(
        dir.path(),
        &["share", "--read-only", "--expires", "2h", "--label", "demo"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("read-only"), "{stdout}");
    assert!(stdout.contains("expires"), "{stdout}");
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .trim()
            .to_owned()
    };
    let token = field("token:");
    assert!(token.starts_with("chs_"), "{token}");
    assert!(
        field("web:").ends_with(&format!("/?token={token}")),
        "{stdout}"
    );
    assert!(
        field("ssh:").contains(&format!("CHOIR_TOKEN={token} choir --url")),
        "{stdout}"
    );

    let (code, listed, stderr) = choir(dir.path(), &["share", "list"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        listed.contains("read-only") && listed.contains("\"demo\""),
        "{listed}"
    );
    assert!(!listed.contains(&token), "the list shows no token");
    let id = listed.split_whitespace().next().unwrap().to_owned();

    // The token in another user's hands: reading works, changing does not.
    let watcher = ["--url", &daemon.url(), "--token", &token];
    let as_watcher = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_choir"));
        command
            .args(watcher)
            .args(args)
            .env_remove("CHOIR_DATA_DIR");
        run(command)
    };
    let (code, stdout, stderr) = as_watcher(&["status"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"head\""), "{stdout}");
    let head = daemon.world().welcome().await.unwrap().head;
    let (code, _, stderr) = as_watcher(&["--exec", "bash", "--arg", "command=touch pwned"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("read-only"), "{stderr}");
    let (code, _, stderr) = as_watcher(&["share"]).await;
    assert_ne!(code, 0, "a share cannot mint shares");
    assert!(stderr.contains("owner"), "{stderr}");
    assert_eq!(daemon.world().welcome().await.unwrap().head, head);
    assert!(!dir.path().join("workspace/pwned").exists());

    let (code, stdout, stderr) = choir(dir.path(), &["share", "revoke", &id]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("revoked"), "{stdout}");
    let (_, listed, _) = choir(dir.path(), &["share", "list"]).await;
    assert_eq!(listed.trim(), "no shares");
    let (code, _, stderr) = as_watcher(&["status"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("token"), "{stderr}");
    let (code, _, stderr) = choir(dir.path(), &["share", "revoke", "nope"]).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("no such share"), "{stderr}");
    daemon.shutdown().await;
}

/// `choir config` prints the settings the daemon read from `$XDG_CONFIG_HOME/choir/config.toml`,
/// says what is wrong there (naming the line and the key; that setting keeps its default),
/// and `--reload` has the daemon read the file again and record the change in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_prints_the_settings_in_force_and_reads_the_file_again() {
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("choir").join("config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "prefix = \"C-b\"\nscrollback = 500\n\n[bindings]\nclose = \"kk\"\nnew-shell = \"S\"\n",
    )
    .unwrap();
    let config = |args: &[&str]| {
        let mut command = choir_command(dir.path(), args);
        command.env("XDG_CONFIG_HOME", home.path());
        run(command)
    };
    // No daemon runs: `choir config` starts one, which reads the file.
    let (code, stdout, stderr) = config(&["config"]).await;
    let started = BackgroundDaemon::of(dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("# from {}", file.display())),
        "{stdout}"
    );
    assert!(stdout.contains("prefix = \"C-b\""), "{stdout}");
    assert!(stdout.contains("scrollback = 500"), "{stdout}");
    assert!(stdout.contains("new-shell = \"S\""), "{stdout}");
    let wrong = "line 5: bindings.close: \"kk\" is not one key";
    assert!(stdout.contains(wrong), "{stdout}");
    assert!(stderr.contains(wrong), "{stderr}");

    // Fixed, and read again: the change is in the log for every client.
    std::fs::write(&file, "prefix = \"C-b\"\ntheme = \"mono\"\n").unwrap();
    let (code, stdout, stderr) = config(&["config", "--reload"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("every client takes the new settings now"),
        "{stdout}"
    );
    assert!(stdout.contains("theme = \"mono\""), "{stdout}");
    assert!(!stdout.contains("problem"), "{stdout}");
    let (_, again, _) = config(&["config", "--reload"]).await;
    assert!(again.contains("nothing changed"), "{again}");
    let (_, events, _) = config(&["events"]).await;
    let changes: Vec<Value> = events
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|event| event["type"] == "settings.changed")
        .collect();
    assert_eq!(changes.len(), 2, "{events}");
    assert_eq!(changes[1]["data"]["settings"]["theme"], "mono");
    assert!(changes[1]["data"].get("problem").is_none());

    // Not TOML: the defaults, and the line that is wrong.
    std::fs::write(&file, "theme = \"mono\"\nprefix = \n").unwrap();
    let (_, stdout, _) = config(&["config", "--reload", "--json"]).await;
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["settings"]["prefix"], "C-a");
    let problem = answer["problem"].as_str().unwrap();
    assert!(problem.contains("config.toml line 2:"), "{problem}");
    assert!(problem.ends_with("the defaults are used"), "{problem}");
    started.stop();
}

/// `choir account`: an account read from the environment, checked by the daemon against real
/// servers (`scripts/mail-servers.sh`), listed without its password, removed; a missing
/// setting or a wrong password said plainly.
#[tokio::test]
async fn account_add_list_and_remove_against_real_servers() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let servers = choir_test_support::MailServers::start(dir.path());
    let account = |extra: &[(&str, &str)]| {
        let mut command = choir_command(dir.path(), &["account", "add", "--from-env"]);
        for name in [
            "CHOIR_IMAP_URL",
            "CHOIR_SMTP_URL",
            "CHOIR_MAIL_USER",
            "CHOIR_MAIL_PASSWORD",
            "CHOIR_MAIL_ADDRESS",
        ] {
            command.env(name, servers.var(name));
        }
        for (name, value) in extra {
            command.env(name, value);
        }
        command
    };
    let (code, _, err) = choir(dir.path(), &["account", "add"]).await;
    assert_eq!(code, 2, "--from-env is required: {err}");
    let (code, out, err) = run(account(&[("CHOIR_MAIL_PASSWORD", "wrong")])).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("refused the user name or password"), "{err}");
    let mut unset = account(&[]);
    unset.env_remove("CHOIR_SMTP_URL");
    let (code, _, err) = run(unset).await;
    assert_eq!(code, 1);
    assert!(err.contains("CHOIR_SMTP_URL is not set"), "{err}");
    let (code, out, _) = choir(dir.path(), &["account", "list"]).await;
    assert_eq!(
        (code, out.trim()),
        (
            0,
            "no accounts (choir account add --from-env; see choir account add --help)"
        )
    );

    let (code, out, err) = run(account(&[])).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "kept the account alice@example.test (the agent's mail tools use it)"
    );
    let (code, out, _) = choir(dir.path(), &["account", "list"]).await;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("alice@example.test  user alice  imap 127.0.0.1:"),
        "{out}"
    );
    assert!(!out.contains(&servers.var("CHOIR_MAIL_PASSWORD")), "{out}");
    let (code, out, _) = choir(dir.path(), &["account", "remove", "alice@example.test"]).await;
    assert_eq!((code, out.trim()), (0, "removed alice@example.test"));
    let (code, _, err) = choir(dir.path(), &["account", "remove", "alice@example.test"]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("no mail account for alice@example.test"),
        "{err}"
    );
    daemon.shutdown().await;
}
