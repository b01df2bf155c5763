//! Apps the user or the agent writes, built with cargo and run by the daemon: a new app's
//! view shows its name; inputs change it; a rebuilt app replaces the running one with its
//! state kept; a daemon started again rebuilds each window's state from the log; a runaway
//! loop, a memory hog and a panic are stopped and said, and the window goes on; each
//! capability is denied until the user grants it; a build that does not compile says why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::run;
mod model;

use std::path::PathBuf;
use std::time::Duration;

use choir_daemon::apps::AppsError;
use choir_daemon::{AppsConfig, Daemon, DaemonConfig, RunningDaemon};
use choir_proto::apps::{AppInput, Capability, ViewNode};
use choir_proto::{AppKind, Command, EventBody, Query, Reply, Seek, WindowId, World};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);
const PROBE: &str = include_str!("apps/probe.rs");
const POMODORO: &str = include_str!("../../apps/timer/src/lib.rs");
const DASHBOARD: &str = include_str!("../../apps/tool-dashboard/src/lib.rs");

/// One build dir for every test's apps: the bindings generator is compiled once.
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("apps")
}

async fn start(dir: &std::path::Path, memory: usize) -> RunningDaemon {
    Daemon::start(DaemonConfig {
        apps: AppsConfig {
            target_dir: Some(target_dir()),
            crates: None,
            limits: choir_apps::Limits {
                memory,
                ..choir_apps::Limits::default()
            },
        },
        ..DaemonConfig::local(dir)
    })
    .await
    .unwrap()
}

/// The world once `ready` holds of it.
async fn until(daemon: &RunningDaemon, what: &str, ready: impl Fn(&World) -> bool) -> World {
    common::world_when(daemon, WAIT, what, ready, |world| world.app_windows.clone()).await
}

/// Every text the window's view shows, one line per node.
fn shown(world: &World, window: WindowId) -> String {
    let Some(view) = world.app_windows.get(&window).and_then(|w| w.view.as_ref()) else {
        return String::new();
    };
    view.nodes
        .iter()
        .filter_map(|node| match node {
            ViewNode::Text { spans } => Some(spans.iter().map(|s| s.text.as_str()).collect()),
            ViewNode::Button { label, .. } => Some(format!("[{label}]")),
            _ => None,
        })
        .collect::<Vec<String>>()
        .join("\n")
}

fn problem(world: &World, window: WindowId) -> String {
    world.app_windows[&window]
        .problem
        .clone()
        .unwrap_or_default()
}

/// Makes app `name` from the scaffold, with `lib` as its code if given, and builds it.
async fn make(daemon: &RunningDaemon, name: &str, lib: Option<&str>) {
    let dir = daemon.apps.create(name).await.unwrap();
    if let Some(lib) = lib {
        std::fs::write(dir.join("src/lib.rs"), lib).unwrap();
    }
    daemon.apps.build(name).await.unwrap();
}

async fn open(daemon: &RunningDaemon, name: &str) -> WindowId {
    let world = daemon.world().welcome().await.unwrap();
    run(
        daemon,
        Command::OpenWindow {
            app: AppKind::App(name.into()),
            title: None,
            rect: None,
        },
    )
    .await;
    WindowId(world.desktop.next_window_id)
}

async fn click(daemon: &RunningDaemon, window: WindowId, id: &str) {
    let input = AppInput::Click { id: id.into() };
    run(
        daemon,
        Command::SendAppInput {
            window_id: window,
            input,
        },
    )
    .await;
}

async fn grant(daemon: &RunningDaemon, name: &str, capability: Capability, granted: bool) {
    run(
        daemon,
        Command::AnswerAppCapability {
            name: name.into(),
            capability,
            granted,
        },
    )
    .await;
}

/// The events of type `kind` in the log.
async fn events(daemon: &RunningDaemon, kind: &str) -> Vec<EventBody> {
    common::bodies_of(daemon, kind, 100_000).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_app_shows_its_name_counts_presses_and_keeps_its_state_across_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "hello", None).await;
    let window = open(&daemon, "hello").await;
    until(&daemon, "the app's first view", |world| {
        shown(world, window) == "hello\npressed 0 times\n[Press]"
    })
    .await;
    click(&daemon, window, "press").await;
    click(&daemon, window, "press").await;
    until(&daemon, "two presses", |world| {
        shown(world, window).contains("pressed 2 times")
    })
    .await;

    // Time travel shows the window as it was after each view, without running the app.
    let views: Vec<u64> = daemon
        .store
        .read(1, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| matches!(event.body, EventBody::AppViewShown { .. }))
        .map(|event| event.seq)
        .collect();
    assert_eq!(views.len(), 3);
    let (mut traveller, _) = common::Client::hello(&daemon, None).await;
    for (n, seq) in views.iter().enumerate() {
        let reply = traveller
            .query(
                n as u64 + 1,
                Query::Moment {
                    at: Seek::Seq { seq: *seq },
                },
            )
            .await;
        let Reply::Moment { moment } = reply else {
            panic!("{reply:?}");
        };
        let text = shown(&moment.world, window);
        assert!(text.contains(&format!("pressed {n} times")), "{text}");
    }

    // The code changes; the window stays open and the new version shows the same count.
    let lib = daemon.apps.source("hello").join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, code.replace("pressed {} times", "clicked {} times")).unwrap();
    let installed = daemon.apps.build("hello").await.unwrap();
    assert!(installed.changed);
    let world = until(&daemon, "the new version with the count kept", |world| {
        shown(world, window).contains("clicked 2 times")
    })
    .await;
    assert_eq!(world.app_windows[&window].version, installed.version);
    assert!(world.desktop.windows.contains_key(&window));
    assert!(events(&daemon, "window.closed").await.is_empty());
    // The same code built again changes nothing and records nothing.
    let again = daemon.apps.build("hello").await.unwrap();
    assert!(!again.changed);
    assert_eq!(events(&daemon, "app.built").await.len(), 2);
    daemon.shutdown().await;

    // Started again, the daemon rebuilds the window's state from its inputs in the log.
    let daemon = start(dir.path(), 32 << 20).await;
    click(&daemon, window, "press").await;
    until(&daemon, "a third press after a restart", |world| {
        shown(world, window).contains("clicked 3 times")
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_loop_a_memory_hog_and_a_panic_are_stopped_and_the_window_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 8 << 20).await;
    make(&daemon, "probe", Some(PROBE)).await;
    let window = open(&daemon, "probe").await;
    click(&daemon, window, "press").await;
    until(&daemon, "a press", |world| {
        shown(world, window).contains("pressed 1 times")
    })
    .await;

    let started = std::time::Instant::now();
    click(&daemon, window, "spin").await;
    let world = until(&daemon, "the loop stopped", |world| {
        problem(world, window).contains("ran out of fuel")
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        problem(&world, window).contains("a loop that does not end?"),
        "{}",
        problem(&world, window)
    );
    // The next input starts it again, without the input that stopped it.
    click(&daemon, window, "press").await;
    until(&daemon, "a press after the loop", |world| {
        world.app_windows[&window].problem.is_none()
            && shown(world, window).contains("pressed 2 times")
    })
    .await;

    click(&daemon, window, "grow").await;
    until(&daemon, "the memory cap", |world| {
        problem(world, window).contains("more than its 8 MiB of memory")
    })
    .await;
    click(&daemon, window, "crash").await;
    until(&daemon, "the panic", |world| {
        problem(world, window).contains("the app stopped")
    })
    .await;
    click(&daemon, window, "press").await;
    until(&daemon, "a press after all that", |world| {
        shown(world, window).contains("pressed 3 times")
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_capability_is_denied_until_the_user_grants_it() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "probe", Some(PROBE)).await;
    let window = open(&daemon, "probe").await;

    // The store: the first use asks, and fails saying so.
    click(&daemon, window, "save").await;
    let world = until(&daemon, "the store asked for", |world| {
        shown(world, window).contains("save: Err(")
    })
    .await;
    assert!(
        shown(&world, window)
            .contains("waiting for the user to allow this app to keep its own data"),
        "{}",
        shown(&world, window)
    );
    assert_eq!(world.apps["probe"].asked, vec![Capability::Store]);
    assert!(events(&daemon, "app.stored").await.is_empty());
    // Refused: still denied, and not asked again.
    grant(&daemon, "probe", Capability::Store, false).await;
    click(&daemon, window, "save").await;
    until(&daemon, "the store refused", |world| {
        shown(world, window).contains("the user did not allow this app to keep its own data")
    })
    .await;
    assert_eq!(events(&daemon, "app.capability_asked").await.len(), 1);
    // Granted: it works, and what is kept is in the log but not in what clients are sent.
    grant(&daemon, "probe", Capability::Store, true).await;
    click(&daemon, window, "save").await;
    click(&daemon, window, "load").await;
    let world = until(&daemon, "the store granted", |world| {
        shown(world, window).contains("load: Ok(Some(\"teal\"))")
    })
    .await;
    assert!(
        world.apps["probe"].store.is_empty(),
        "a welcome carries no store"
    );
    assert_eq!(events(&daemon, "app.stored").await.len(), 1);

    // The log.
    click(&daemon, window, "log").await;
    until(&daemon, "the log asked for", |world| {
        shown(world, window)
            .contains("log: Err(waiting for the user to allow this app to read the event log")
    })
    .await;
    grant(&daemon, "probe", Capability::ReadLog, true).await;
    click(&daemon, window, "log").await;
    until(&daemon, "the log read", |world| {
        shown(world, window).contains("log: 5 entries, first ")
    })
    .await;

    // The agent's tools: asked for once; one that changes something waits for approval.
    let tool = |line: &str| Command::SendAppInput {
        window_id: window,
        input: AppInput::Submit {
            id: "tool".into(),
            value: line.into(),
        },
    };
    run(&daemon, tool("list_files {}")).await;
    until(&daemon, "the tools asked for", |world| {
        shown(world, window).contains(
            "tool: Err(\"waiting for the user to allow this app to call the agent's tools\")",
        )
    })
    .await;
    grant(&daemon, "probe", Capability::CallTools, true).await;
    run(&daemon, tool("list_files {}")).await;
    until(
        &daemon,
        "a tool that changes nothing, run at once",
        |world| shown(world, window).contains("tool: Ok("),
    )
    .await;
    std::fs::write(dir.path().join("workspace/note.txt"), "from the workspace").unwrap();
    run(&daemon, tool(r#"bash {"cmd": "cat note.txt"}"#)).await;
    let world = until(&daemon, "bash waiting for approval", |world| {
        !world.pending_tools.is_empty()
    })
    .await;
    let call = world.pending_tools.values().next().unwrap().clone();
    assert!(
        call.call_id
            .0
            .starts_with(&choir_proto::apps::call_prefix(window)),
        "{call:?}"
    );
    assert_eq!(call.status, choir_proto::ToolCallStatus::AwaitingApproval);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        events(&daemon, "tool.started").await.len() == 1,
        "bash does not run before it is approved"
    );
    run(
        &daemon,
        Command::ApproveTool {
            call_id: call.call_id,
        },
    )
    .await;
    until(&daemon, "bash run once approved", |world| {
        shown(world, window).contains("from the workspace")
    })
    .await;
    run(&daemon, tool(r#"bash {"cmd": "rm note.txt"}"#)).await;
    let world = until(&daemon, "the second bash waiting", |world| {
        !world.pending_tools.is_empty()
    })
    .await;
    let call = world.pending_tools.values().next().unwrap().clone();
    run(
        &daemon,
        Command::DenyTool {
            call_id: call.call_id,
            reason: None,
        },
    )
    .await;
    until(&daemon, "bash denied", |world| {
        shown(world, window).contains("tool: Err(\"denied: denied by the user\")")
    })
    .await;
    assert!(dir.path().join("workspace/note.txt").exists());

    // HTTP: per host, on loopback here.
    let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = server.local_addr().unwrap().port();
    let served = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let (mut socket, _) = server.accept().await.unwrap();
            let mut request = [0u8; 2048];
            let _ = socket.read(&mut request).await;
            let body = "hello from loopback";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    let url = format!("http://127.0.0.1:{port}/");
    let submit = |url: String| Command::SendAppInput {
        window_id: window,
        input: AppInput::Submit {
            id: "url".into(),
            value: url,
        },
    };
    run(&daemon, submit(url.clone())).await;
    until(&daemon, "the host asked for", |world| {
        shown(world, window).contains(&format!(
            "fetch: Err(waiting for the user to allow this app to fetch pages from 127.0.0.1:{port})"
        ))
    })
    .await;
    grant(
        &daemon,
        "probe",
        Capability::Http {
            host: format!("127.0.0.1:{port}"),
        },
        true,
    )
    .await;
    run(&daemon, submit(url)).await;
    until(&daemon, "the page fetched", |world| {
        shown(world, window).contains("fetched: hello from loopback")
    })
    .await;
    // Another host (another port) is not covered by that grant.
    run(&daemon, submit("http://127.0.0.1:9/".into())).await;
    until(&daemon, "another host asked for", |world| {
        shown(world, window).contains("fetch pages from 127.0.0.1:9)")
    })
    .await;
    served.abort();
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_does_not_compile_says_where_and_installs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    let source = daemon.apps.create("broken").await.unwrap();
    std::fs::write(
        source.join("src/lib.rs"),
        "wit_bindgen::generate!({ world: \"app\", path: \"wit\" });\nfn nothing() -> u32 { missing_value }\n",
    )
    .unwrap();
    let err = daemon.apps.build("broken").await.unwrap_err();
    let said = err.to_string();
    assert!(matches!(err, AppsError::Build(_)), "{said}");
    assert!(said.contains("src/lib.rs:2"), "{said}");
    assert!(said.contains("missing_value"), "{said}");
    assert!(!said.contains("Compiling"), "{said}");
    assert!(events(&daemon, "app.built").await.is_empty());

    // Bad names, an app that exists, an app with no crate, an app not installed.
    assert!(matches!(
        daemon.apps.create("../escape").await,
        Err(AppsError::BadName(_))
    ));
    assert!(matches!(
        daemon.apps.create("broken").await,
        Err(AppsError::Exists(..))
    ));
    assert!(matches!(
        daemon.apps.build("nowhere").await,
        Err(AppsError::NoSource(_))
    ));
    let refused = daemon
        .world()
        .execute(
            Command::OpenWindow {
                app: AppKind::App("broken".into()),
                title: None,
                rect: None,
            },
            "user".into(),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("no app is named `broken`"),
        "{refused}"
    );
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_app_closes_its_windows_and_forgets_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "probe", Some(PROBE)).await;
    let first = open(&daemon, "probe").await;
    let second = open(&daemon, "probe").await;
    until(&daemon, "both windows shown", |world| {
        shown(world, first).contains("MARK") && shown(world, second).contains("MARK")
    })
    .await;
    daemon.apps.remove("probe", "user".into()).await.unwrap();
    let world = until(&daemon, "the app gone", |world| world.apps.is_empty()).await;
    assert!(world.app_windows.is_empty());
    assert!(!world.desktop.windows.contains_key(&first));
    assert!(!world.desktop.windows.contains_key(&second));
    let components = dir.path().join("apps/probe");
    let deadline = std::time::Instant::now() + WAIT;
    while components.exists() {
        assert!(std::time::Instant::now() < deadline, "its components stay");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Its crate stays in the workspace, to build again.
    assert!(daemon.apps.source("probe").join("src/lib.rs").is_file());

    // Removed while a build of it is under way: the build, which ends after, installs it
    // whole (the component it recorded is kept), and it runs.
    let lib = daemon.apps.source("probe").join("src/lib.rs");
    std::fs::write(&lib, PROBE.replace("MARK", "AGAIN")).unwrap();
    daemon.apps.build("probe").await.unwrap();
    std::fs::write(&lib, PROBE.replace("MARK", "THIRD")).unwrap();
    let building = {
        let apps = daemon.apps.clone();
        tokio::spawn(async move { apps.build("probe").await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    daemon.apps.remove("probe", "user".into()).await.unwrap();
    let installed = building.await.unwrap().unwrap();
    let world = until(&daemon, "built after its removal", |world| {
        world.apps.get("probe").map(|app| app.version.as_str()) == Some(installed.version.as_str())
    })
    .await;
    assert!(world.apps.contains_key("probe"));
    // The removal's clean-up has run (after the build) and left the new component.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        dir.path()
            .join(format!("apps/probe/{}.wasm", installed.version))
            .is_file(),
        "the component of the version recorded is there"
    );
    let third = open(&daemon, "probe").await;
    until(&daemon, "the new version shown", |world| {
        shown(world, third).contains("THIRD")
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_makes_an_app_from_a_chat_and_fixes_the_build_that_failed() {
    // A first try that does not compile, then the timer example as the fix.
    let broken = POMODORO.replace(
        "let left = timer.left_ms.div_ceil(1000);",
        "let left = timer.left_seconds();",
    );
    assert_ne!(broken, POMODORO);
    let args = |code: &str| json!({ "name": "pomodoro", "code": code }).to_string();
    let (url, script) = model::model_server(vec![
        model::Reply::Stream(model::openai_tool_call(
            "call_a",
            "app_create",
            &[&args(&broken)],
        )),
        model::Reply::Stream(model::openai_tool_call(
            "call_b",
            "app_update",
            &[&args(POMODORO)],
        )),
        model::Reply::Stream(model::openai_text(&["Your pomodoro timer is open."])),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(DaemonConfig {
        agent: choir_daemon::agent::AgentConfig {
            // The tools' contract and the app's code take more than the default's room.
            context_tokens: Some(64_000),
            ..model::openai(&url, choir_daemon::agent::ApprovalPolicy::AutoAll)
        },
        apps: AppsConfig {
            target_dir: Some(target_dir()),
            crates: None,
            limits: choir_apps::Limits::default(),
        },
        ..DaemonConfig::local(dir.path())
    })
    .await
    .unwrap();
    let _chat = model::chat(&daemon, "make me a pomodoro timer").await;
    let turn = model::turn_events(&daemon).await;
    let finished: Vec<(bool, String)> = turn
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::ToolFinished { ok, output, .. } => Some((*ok, output.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 2, "{finished:#?} {:#?}", turn.last());
    assert!(!finished[0].0);
    assert!(finished[0].1.contains("left_seconds"), "{}", finished[0].1);
    assert!(finished[0].1.contains("src/lib.rs:"), "{}", finished[0].1);
    assert!(finished[1].0, "{}", finished[1].1);
    assert!(
        finished[1].1.contains("opened in a window"),
        "{}",
        finished[1].1
    );
    // The compiler's words went back to the model with the second request.
    let requests = script.requests.lock().unwrap().clone();
    assert!(requests[1].1.to_string().contains("left_seconds"));
    // The tools' description says where the contract is.
    let tools = requests[0].1["tools"].to_string();
    assert!(tools.contains("component of WIT world `app`"), "{tools}");

    let world = until(&daemon, "the timer's window", |world| {
        world
            .app_windows
            .values()
            .any(|window| shown(world, window.window_id).contains("Pomodoro  25:00"))
    })
    .await;
    let window = *world.app_windows.keys().next().unwrap();
    // The timer keeps its count in its store: it asks first.
    assert_eq!(world.apps["pomodoro"].asked, vec![Capability::Store]);
    grant(&daemon, "pomodoro", Capability::Store, true).await;
    click(&daemon, window, "start").await;
    until(&daemon, "the timer running", |world| {
        let shown = shown(world, window);
        shown.contains("running") && !shown.contains("25:00")
    })
    .await;
    assert!(!events(&daemon, "app.input").await.is_empty());
    let ticks = events(&daemon, "app.input")
        .await
        .into_iter()
        .filter(|body| {
            matches!(
                body,
                EventBody::AppReceived {
                    input: AppInput::Tick { .. },
                    ..
                }
            )
        })
        .count();
    assert!(ticks >= 1);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_dashboard_counts_the_tool_calls_it_reads_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "tool-dashboard", Some(DASHBOARD)).await;
    let window = open(&daemon, "tool-dashboard").await;
    until(&daemon, "the dashboard asking to read the log", |world| {
        shown(world, window)
            .contains("waiting for the user to allow this app to read the event log")
    })
    .await;
    grant(&daemon, "tool-dashboard", Capability::ReadLog, true).await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        let answer = http
            .post(format!("{}/api/tools/list_files", daemon.url()))
            .bearer_auth(&daemon.token)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }
    click(&daemon, window, "refresh").await;
    let world = until(&daemon, "three calls counted", |world| {
        shown(world, window).contains("3 in all")
    })
    .await;
    let view = world.app_windows[&window].view.clone().unwrap();
    let tables: Vec<_> = view
        .nodes
        .iter()
        .filter_map(|node| match node {
            ViewNode::Table { rows, .. } => Some(rows.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        tables[1],
        vec![vec!["list_files".to_owned(), "3".to_owned()]]
    );
    assert_eq!(tables[0].len(), 1, "one hour: {:?}", tables[0]);
    assert_eq!(tables[0][0][1], "3");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_cannot_make_build_remove_or_grant_and_a_watcher_cannot_give_input() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "probe", Some(PROBE)).await;
    let window = open(&daemon, "probe").await;
    let http = reqwest::Client::new();
    let mint = |read_only: bool| {
        http.post(format!("{}/api/shares", daemon.url()))
            .bearer_auth(&daemon.token)
            .body(json!({ "read_only": read_only }).to_string())
            .send()
    };
    let full: serde_json::Value = mint(false).await.unwrap().json().await.unwrap();
    let full = full["token"].as_str().unwrap().to_owned();
    let watch: serde_json::Value = mint(true).await.unwrap().json().await.unwrap();
    let watch = watch["token"].as_str().unwrap().to_owned();
    let url = daemon.url();
    let command = |body: serde_json::Value| {
        http.post(format!("{url}/api/commands"))
            .body(body.to_string())
    };
    let grant_store = json!({
        "type": "app.answer_capability", "name": "probe",
        "capability": "store", "granted": true
    });
    let attempts = [
        http.post(format!("{url}/api/apps/evil")).body("{}"),
        http.post(format!("{url}/api/apps/probe/build")).body("{}"),
        http.delete(format!("{url}/api/apps/probe")),
        http.get(format!("{url}/api/apps")),
        command(grant_store.clone()),
        command(json!({ "type": "app.remove", "name": "probe" })),
    ];
    for attempt in attempts {
        let response = attempt.bearer_auth(&full).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }
    // A watcher sees the window but gives it nothing.
    let click = json!({
        "type": "app.input", "window_id": window.0, "input": { "click": { "id": "press" } }
    });
    let response = command(click.clone())
        .bearer_auth(&watch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The full share may use the app as the owner does.
    let response = command(click).bearer_auth(&full).send().await.unwrap();
    assert_eq!(response.status(), 200);
    until(&daemon, "the share's press", |world| {
        shown(world, window).contains("pressed 1 times")
    })
    .await;
    let world = daemon.world().welcome().await.unwrap();
    assert!(world.apps["probe"].answers.is_empty());
    assert!(world.apps.contains_key("probe"));
    assert!(!daemon.apps.source("evil").exists());
    // The owner's token does it all.
    let response = command(grant_store)
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_started_again_reads_its_store_as_it_was_at_each_input() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path(), 32 << 20).await;
    make(&daemon, "probe", Some(PROBE)).await;
    let window = open(&daemon, "probe").await;
    grant(&daemon, "probe", Capability::Store, true).await;
    click(&daemon, window, "inc").await;
    click(&daemon, window, "inc").await;
    until(&daemon, "two increments", |world| {
        shown(world, window).contains("inc: 2 Ok(())")
    })
    .await;
    // Rebuilt: the inputs are given again, each reading the count as it was then (not the 2
    // the store holds now), and nothing is written again.
    let lib = daemon.apps.source("probe").join("src/lib.rs");
    let code = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, code.replace("MARK pressed", "MARK2 pressed")).unwrap();
    daemon.apps.build("probe").await.unwrap();
    until(&daemon, "the new version with the same count", |world| {
        let shown = shown(world, window);
        shown.contains("MARK2") && shown.contains("inc: 2 Ok(())")
    })
    .await;
    assert_eq!(events(&daemon, "app.stored").await.len(), 2);
    click(&daemon, window, "inc").await;
    until(&daemon, "a third increment", |world| {
        shown(world, window).contains("inc: 3 Ok(())")
    })
    .await;
    daemon.shutdown().await;
}
