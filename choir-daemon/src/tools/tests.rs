use std::time::{Duration, Instant};

use choir_proto::{AppKind, EventBody, World};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::store::{EventStore, StoreOptions};

struct Fixture {
    _dir: tempfile::TempDir,
    store: EventStore,
    runner: ToolRunner,
    root: std::path::PathBuf,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(
        &dir.path().join("events.db"),
        StoreOptions {
            durable: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let workspace = Workspace::new(&dir.path().join("workspace")).unwrap();
    let root = workspace.root().to_owned();
    let snapshots = crate::actors::Snapshots::open(&dir.path().join("snapshot.db"))
        .await
        .unwrap();
    let world = WorldHandle::spawn(
        store.clone(),
        snapshots,
        World::default(),
        crate::shell::Shells::detached(),
    );
    let runner = ToolRunner::new(ToolRegistry::standard(), store.clone(), workspace, world);
    Fixture {
        _dir: dir,
        store,
        runner,
        root,
    }
}

fn call(tool: &str, args: serde_json::Value) -> ToolCall {
    ToolCall {
        tool: tool.into(),
        args,
        call_id: None,
        thread_id: None,
        actor: "test".into(),
        correlation: None,
    }
}

impl Fixture {
    async fn run(&self, tool: &str, args: serde_json::Value) -> ToolResult {
        self.runner
            .call(call(tool, args), CancellationToken::new())
            .await
            .unwrap()
    }
}

/// Whether any process's command line contains `marker` (read from /proc).
fn process_alive(marker: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| {
            let cmdline: Vec<u8> = cmdline
                .into_iter()
                .map(|b| if b == 0 { b' ' } else { b })
                .collect();
            String::from_utf8_lossy(&cmdline).contains(marker)
        })
}

#[tokio::test]
async fn bash_returns_output_and_exit_code_and_records_both_events() {
    let f = fixture().await;
    let result = f
        .run(
            "bash",
            json!({"cmd": "echo out; echo err >&2; pwd; exit 3"}),
        )
        .await;
    assert_eq!((result.ok, result.exit_code), (false, Some(3)));
    let root = f.root.display().to_string();
    assert_eq!(result.output, format!("out\nerr\n{root}\n"));
    let events = f.store.read(1, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    match (&events[0].body, &events[1].body) {
        (
            EventBody::ToolStarted {
                call_id: started,
                tool,
                args,
                ..
            },
            EventBody::ToolFinished {
                call_id: finished,
                ok,
                exit_code,
                output,
                ..
            },
        ) => {
            assert_eq!(started, finished);
            assert_eq!(started, &result.call_id);
            assert_eq!(tool, "bash");
            assert_eq!(args["cmd"], json!("echo out; echo err >&2; pwd; exit 3"));
            assert_eq!(
                (*ok, *exit_code, output.as_str()),
                (false, Some(3), result.output.as_str())
            );
        }
        other => panic!("unexpected events {other:?}"),
    }
}

#[tokio::test]
async fn bash_output_is_capped_with_a_marker() {
    let f = fixture().await;
    let result = f
        .run(
            "bash",
            json!({"cmd": "head -c 200000 /dev/zero | tr '\\0' x"}),
        )
        .await;
    assert!(result.ok);
    assert!(result.output.starts_with(&"x".repeat(1000)));
    assert!(
        result.output.ends_with(&format!(
            "[output truncated: {} more bytes not shown]",
            200_000 - MAX_OUTPUT_BYTES
        )),
        "{}",
        &result.output[result.output.len() - 80..]
    );
}

#[tokio::test]
async fn bash_timeout_kills_the_whole_process_group() {
    let f = fixture().await;
    let marker = "sleep 611.25";
    let clock = Instant::now();
    assert!(!process_alive(marker));
    let result = f
        .run(
            "bash",
            json!({"cmd": format!("{marker} & echo started; wait"), "timeout_secs": 1}),
        )
        .await;
    assert!(
        clock.elapsed() < Duration::from_secs(5),
        "{:?}",
        clock.elapsed()
    );
    assert!(!result.ok);
    assert!(result.output.contains("started"));
    assert!(result
        .output
        .contains("[timed out after 1 s; process group killed]"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!process_alive(marker), "the background child survived");
}

#[tokio::test]
async fn bash_cancel_kills_within_a_second() {
    let f = fixture().await;
    let cancel = CancellationToken::new();
    let runner = f.runner.clone();
    let token = cancel.clone();
    let task = tokio::spawn(async move {
        runner
            .call(call("bash", json!({"cmd": "sleep 600.75"})), token)
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        process_alive("sleep 600.75"),
        "the command should be running"
    );
    let clock = Instant::now();
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(clock.elapsed() < Duration::from_secs(1));
    assert!(result.output.contains("[cancelled; process group killed]"));
    // The group is sent SIGKILL; a process is gone once the kernel has torn it down, which on
    // a loaded machine can come just after the answer: it has the rest of the second.
    while process_alive("sleep 600.75") && clock.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !process_alive("sleep 600.75"),
        "still running a second after the cancel"
    );
}

#[tokio::test]
async fn unknown_tools_and_bad_arguments_are_refused_before_anything_is_recorded() {
    let f = fixture().await;
    let err = f
        .runner
        .call(call("teleport", json!({})), CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::UnknownTool(_)), "{err}");
    for args in [
        json!({}),
        json!({"cmd": 5}),
        json!({"cmd": "ls", "extra": true}),
        json!("ls"),
    ] {
        let err = f
            .runner
            .call(call("bash", args.clone()), CancellationToken::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ToolError::InvalidArguments(_)),
            "{args}: {err}"
        );
    }
    assert!(f.store.read(1, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn files_round_trip_atomically_and_listing_respects_gitignore() {
    let f = fixture().await;
    let wrote = f
        .run(
            "write_file",
            json!({"path": "notes/today.md", "content": "# Today\nship it\n"}),
        )
        .await;
    assert!(wrote.ok, "{}", wrote.output);
    f.run(
        "write_file",
        json!({"path": "notes/today.md", "content": "# Today\nshipped\n"}),
    )
    .await;
    let read = f.run("read_file", json!({"path": "notes/today.md"})).await;
    assert_eq!(read.output, "# Today\nshipped\n");
    std::fs::write(f.root.join(".gitignore"), "build/\n").unwrap();
    std::fs::create_dir_all(f.root.join("build")).unwrap();
    std::fs::write(f.root.join("build/out.txt"), "shipped\n").unwrap();
    let listed = f.run("list_files", json!({"recursive": true})).await;
    assert_eq!(listed.output, ".gitignore\nnotes/\nnotes/today.md");
    let top = f.run("list_files", json!({})).await;
    assert_eq!(top.output, ".gitignore\nnotes/");
    let found = f.run("search_files", json!({"pattern": "ship+ed"})).await;
    assert_eq!(found.output, "notes/today.md:2: shipped");
    let none = f
        .run("search_files", json!({"pattern": "nothing here"}))
        .await;
    assert_eq!(none.output, "no matches");
    let bad = f.run("search_files", json!({"pattern": "("})).await;
    assert!(!bad.ok && bad.output.contains("bad pattern"));
    let missing = f.run("read_file", json!({"path": "nope.md"})).await;
    assert!(
        !missing.ok && missing.output.contains("cannot read `nope.md`"),
        "{}",
        missing.output
    );
}

#[tokio::test]
async fn file_tools_cannot_leave_the_workspace() {
    let f = fixture().await;
    std::os::unix::fs::symlink("/etc", f.root.join("etc")).unwrap();
    let attempts = [
        ("read_file", json!({"path": "../events.db"})),
        ("read_file", json!({"path": "/etc/hostname"})),
        ("read_file", json!({"path": "etc/hostname"})),
        (
            "write_file",
            json!({"path": "../escape.txt", "content": "x"}),
        ),
        (
            "write_file",
            json!({"path": "etc/escape.txt", "content": "x"}),
        ),
        ("list_files", json!({"path": ".."})),
        ("list_files", json!({"path": "etc"})),
        ("search_files", json!({"pattern": "root", "path": "etc"})),
    ];
    for (tool, args) in attempts {
        let result = f.run(tool, args.clone()).await;
        assert!(!result.ok, "{tool} {args} was allowed: {}", result.output);
        assert!(
            result.output.contains("outside the workspace")
                || result.output.contains("climbs out")
                || result.output.contains("is absolute"),
            "{tool} {args}: {}",
            result.output
        );
    }
    assert!(!f.root.parent().unwrap().join("escape.txt").exists());
}

#[tokio::test]
async fn desktop_tools_go_through_the_command_path() {
    let f = fixture().await;
    let opened = f
        .run("open_window", json!({"app": "writer", "title": "Draft"}))
        .await;
    assert!(opened.ok, "{}", opened.output);
    let events = f.store.read(1, 10).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.body, EventBody::WindowOpened { app: AppKind::Writer, title, .. } if title == "Draft")));
    let focused = f.run("focus_window", json!({"window_id": 99})).await;
    assert!(!focused.ok && focused.output.contains("no window with id 99"));
    // The schema, derived from the tool's argument type, names the apps; nothing is recorded.
    let before = f.store.head();
    let bad = f
        .runner
        .call(
            call("open_window", json!({"app": "spreadsheet"})),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid arguments: argument `app` must be one of: chat, writer, event_log, shell"
    );
    assert_eq!(f.store.head(), before);
}

#[test]
fn every_tool_has_an_object_schema_and_a_unique_name() {
    let specs = ToolRegistry::standard().specs();
    let mut names: Vec<&str> = specs.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), specs.len());
    for spec in specs {
        assert_eq!(spec.schema["type"], json!("object"), "{}", spec.name);
        assert!(!spec.description.is_empty());
    }
}
