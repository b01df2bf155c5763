//! Apps the user or the agent writes: `cargo bench -p choir-daemon --bench apps`. The example
//! timer (`apps/timer`) is built once with cargo, then, each p50 and p99 over many runs:
//!
//! - load, cold: the component compiled (wasmtime, Cranelift) and started (`init`, first
//!   `view`); warm: started from the compiled component the daemon keeps by version.
//! - input → view committed: a click given to an app window as a client gives it (the
//!   `app.input` command through the world actor) until the daemon committed the
//!   `app.view_shown` that followed; baseline in the same run: a command of the desktop
//!   alone (`window.focus`/`window.minimize`) until its event is committed.
//! - view → frame in the terminal: the `app.view_shown` event taken in by `choir`'s desktop
//!   and a frame drawn (100x30); baseline: the same desktop drawing a frame after a
//!   `window.moved`.
//! - memory per running app: the resident set grown by 200 running instances, per instance.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use choir_apps::{Host, LogEntry, Runtime};
use choir_daemon::{AppsConfig, Daemon, DaemonConfig};
use choir_proto::apps::AppInput;
use choir_proto::{AppKind, Command, Event, EventBody, Rect, ServerFrame, WindowId};
use choir_tui::desktop::Desktop;
use choir_tui::theme::Theme;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn row(what: &str, choir: &mut [Duration], baseline: Option<(&str, &mut [Duration])>) {
    let (p50, p99) = (percentile(choir, 0.5), percentile(choir, 0.99));
    match baseline {
        Some((name, base)) => {
            let (b50, b99) = (percentile(base, 0.5), percentile(base, 0.99));
            println!(
                "| {what} | {:.3} / {:.3} | {name}: {:.3} / {:.3} | {:.2} / {:.2} |",
                ms(p50),
                ms(p99),
                ms(b50),
                ms(b99),
                ms(p50) / ms(b50),
                ms(p99) / ms(b99)
            );
        }
        None => println!("| {what} | {:.3} / {:.3} | | |", ms(p50), ms(p99)),
    }
}

/// A host that grants the store and keeps nothing.
struct Quiet;

impl Host for Quiet {
    fn store_get(&mut self, _key: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
    fn store_set(&mut self, _key: &str, _value: Option<&str>) -> Result<(), String> {
        Ok(())
    }
    fn read_log(&mut self, _after: u64, _limit: u32) -> Result<Vec<LogEntry>, String> {
        Ok(Vec::new())
    }
    fn http_get(&mut self, _url: &str) -> Result<String, String> {
        Err("no".into())
    }
    fn call_tool(&mut self, _name: &str, _args: &str) -> Result<String, String> {
        Err("no".into())
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dirs = choir_apps::BuildSettings::new(root().join("target/tmp/apps"));
    let timer = root().join("apps/timer");
    let started = Instant::now();
    let built = runtime
        .block_on(choir_apps::build(&timer, "timer", &dirs))
        .unwrap();
    eprintln!(
        "built the timer ({} bytes) in {:.1} s",
        built.component.len(),
        started.elapsed().as_secs_f64()
    );

    println!("| | ChoirOS p50 / p99 (ms) | baseline p50 / p99 (ms) | ratio p50 / p99 |");
    println!("|---|---|---|---|");

    // Loads.
    let mut cold = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let apps = Runtime::new(choir_apps::Limits::default()).unwrap();
        apps.load(&built.version, &built.component).unwrap();
        let mut running = apps.start(&built.version, Box::new(Quiet)).unwrap();
        running.view(98, 28).unwrap();
        cold.push(t.elapsed());
    }
    let apps = Runtime::new(choir_apps::Limits::default()).unwrap();
    apps.load(&built.version, &built.component).unwrap();
    let mut warm = Vec::new();
    for _ in 0..300 {
        let t = Instant::now();
        let mut running = apps.start(&built.version, Box::new(Quiet)).unwrap();
        running.view(98, 28).unwrap();
        warm.push(t.elapsed());
    }
    row(
        "app load → first view, cold (compiled) / warm (baseline)",
        &mut cold,
        Some(("warm", &mut warm)),
    );

    // Memory per running app.
    let before = resident_bytes();
    let running: Vec<_> = (0..200)
        .map(|_| {
            let mut app = apps.start(&built.version, Box::new(Quiet)).unwrap();
            app.update(&AppInput::Click { id: "start".into() }).unwrap();
            app.view(98, 28).unwrap();
            app
        })
        .collect();
    let per_app = (resident_bytes().saturating_sub(before)) / running.len() as u64;
    drop(running);

    // Input → view committed, through the daemon.
    let dir = tempfile::tempdir().unwrap();
    let (mut input_to_view, mut desktop_only, frames) = runtime.block_on(async {
        let daemon = Daemon::start(DaemonConfig {
            apps: AppsConfig {
                target_dir: Some(dirs.target.clone()),
                crates: None,
                limits: choir_apps::Limits::default(),
            },
            ..DaemonConfig::local(dir.path())
        })
        .await
        .unwrap();
        let source = daemon.apps.create("timer").await.unwrap();
        std::fs::copy(timer.join("src/lib.rs"), source.join("src/lib.rs")).unwrap();
        daemon.apps.build("timer").await.unwrap();
        let world = daemon.world().clone();
        let execute = |command: Command| {
            let world = world.clone();
            async move { world.execute(command, "bench".into(), None).await.unwrap() }
        };
        execute(Command::OpenWindow {
            app: AppKind::App("timer".into()),
            title: None,
            rect: Some(Rect::new(0, 0, 100, 30)),
        })
        .await;
        let window = WindowId(1);
        execute(Command::AnswerAppCapability {
            name: "timer".into(),
            capability: choir_proto::apps::Capability::Store,
            granted: true,
        })
        .await;
        let mut events = daemon.store.subscribe(1);
        let mut frames = Vec::new();
        // Waits for the next event of type `kind`; keeps every event for the desktop.
        macro_rules! next_of {
            ($kind:expr) => {
                loop {
                    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
                        .await
                        .expect("the event came")
                        .unwrap()
                        .unwrap();
                    let found = event.body.type_name() == $kind;
                    frames.push((**event).clone());
                    if found {
                        break;
                    }
                }
            };
        }
        next_of!("app.view_shown");
        let mut input_to_view = Vec::new();
        for n in 0..300 {
            // Start and pause: each a view that differs (running, paused).
            let t = Instant::now();
            let input = AppInput::Click {
                id: if n % 2 == 0 { "start" } else { "reset" }.into(),
            };
            execute(Command::SendAppInput {
                window_id: window,
                input,
            })
            .await;
            next_of!("app.view_shown");
            input_to_view.push(t.elapsed());
        }
        // Baseline: a second window focused in turn, each command's event committed.
        execute(Command::OpenWindow {
            app: AppKind::EventLog,
            title: None,
            rect: Some(Rect::new(10, 5, 60, 16)),
        })
        .await;
        let mut desktop_only = Vec::new();
        for n in 0..300 {
            let target = WindowId(1 + (n % 2));
            let t = Instant::now();
            execute(Command::FocusWindow { window_id: target }).await;
            next_of!("window.focused");
            desktop_only.push(t.elapsed());
        }
        daemon.shutdown().await;
        (input_to_view, desktop_only, frames)
    });
    row(
        "click → `app.view_shown` committed (daemon) / `window.focus` → committed (baseline)",
        &mut input_to_view,
        Some(("window.focus", &mut desktop_only)),
    );

    // View → frame in the terminal desktop.
    let mut desktop = Desktop::new(Theme::colored(), 0);
    desktop.resize(120, 40);
    desktop.on_frame(ServerFrame::Welcome {
        protocol: 1,
        head: 0,
        snapshot: Some(Box::default()),
        read_only: false,
    });
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    let views: Vec<Event> = frames
        .iter()
        .filter(|event| event.body.type_name() == "app.view_shown")
        .cloned()
        .collect();
    let mut seq = 0;
    for event in frames.iter().filter(|event| {
        !matches!(
            event.body,
            EventBody::AppViewShown { .. } | EventBody::WindowFocused { .. }
        )
    }) {
        seq = event.seq;
        desktop.on_frame(ServerFrame::Event {
            event: event.clone(),
        });
    }
    terminal.draw(|frame| desktop.render(frame)).unwrap();
    let mut view_frames = Vec::new();
    for event in views.iter().cycle().take(1000) {
        seq += 1;
        let mut event = event.clone();
        event.seq = seq;
        let t = Instant::now();
        desktop.on_frame(ServerFrame::Event { event });
        terminal.draw(|frame| desktop.render(frame)).unwrap();
        view_frames.push(t.elapsed());
    }
    let mut move_frames = Vec::new();
    for n in 0..1000u16 {
        seq += 1;
        let event = Event {
            seq,
            ts: 0,
            actor: "bench".into(),
            correlation: None,
            v: 1,
            body: EventBody::WindowMoved {
                window_id: WindowId(2),
                x: 10 + n % 2,
                y: 5,
            },
        };
        let t = Instant::now();
        desktop.on_frame(ServerFrame::Event { event });
        terminal.draw(|frame| desktop.render(frame)).unwrap();
        move_frames.push(t.elapsed());
    }
    row(
        "`app.view_shown` → frame drawn, terminal 120x40 / `window.moved` → frame (baseline)",
        &mut view_frames,
        Some(("window.moved", &mut move_frames)),
    );
    println!(
        "\nMemory per running app (the timer, 200 running): {:.0} KiB resident each.",
        per_app as f64 / 1024.0
    );
}
