//! History benchmark: `scripts/bench-history.sh` (which builds the release `choir-daemon` this
//! starts).
//!
//! For generated histories of 10,000, 100,000 and 1,000,000 events (chat, documents and
//! desktop traffic mixed, written straight into the log through the store), against a real
//! `choir-daemon` process on 127.0.0.1:
//!
//! - start to ready (spawn until it prints where it listens): with the snapshot a clean stop
//!   left, with that snapshot and the most events a daemon can commit between two snapshots
//!   after it, and without a snapshot (the first start on an old log, or a corrupt snapshot);
//! - the bytes of a new client's welcome;
//! - the time until a new desktop session (the real TUI session loop, drawing a 120×40 screen
//!   in this process) shows the desktop live, and until it shows the document in its writer
//!   window;
//! - the daemon's resident memory once that session has drawn, and its peak; the peak of the
//!   daemon that started without a snapshot.
//!
//! Each figure is compared with the same figure at 10,000 events, measured in the same run.
//! `BENCH_SIZES=10000,100000` picks the sizes; `BENCH_DIR` where the logs go (default: the
//! system's temporary directory).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use choir_client::connect::find_endpoint;
use choir_daemon::actors::SNAPSHOT_EVERY;
use choir_proto::{ClientFrame, PROTOCOL_VERSION};
use choir_tui::desktop::Desktop;
use choir_tui::theme::Theme;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

mod support;

use support::{daemon_bin, fill, Daemon, History, Session, RUNS, WAIT};

/// The size of the welcome a new client gets.
async fn welcome_bytes(dir: &Path) -> usize {
    let endpoint = find_endpoint(dir).unwrap();
    let url = format!("{}/ws", endpoint.url.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(endpoint.token),
        resume_from: None,
        client: Some("bench".into()),
    };
    ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no welcome")
            .expect("the socket closed")
            .unwrap();
        if let Message::Text(text) = message {
            assert!(text.contains("\"welcome\""), "not a welcome: {text:.200}");
            return text.len();
        }
    }
}

/// A new desktop session: the time until it shows the desktop live (both chat windows
/// drawn), and until it shows the text of the writer window's document.
async fn session_draws(dir: &Path) -> (Duration, Duration) {
    let session = Session::spawn(dir, Desktop::new(Theme::monochrome(), 0));
    let live = session
        .shows(&["● live", "Thread 1", "Thread 2"], session.started)
        .await;
    let doc = session
        .shows(&["Notes of the history benchmark"], session.started)
        .await;
    session.close().await;
    (live, doc)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

struct Figures {
    events: u64,
    fill: Duration,
    warm: Duration,
    tail: Duration,
    cold: Duration,
    welcome: usize,
    live: Duration,
    doc: Duration,
    rss: f64,
    peak: f64,
    cold_peak: f64,
}

fn measure(runtime: &tokio::runtime::Runtime, root: &Path, events: u64) -> Figures {
    let dir = tempfile::tempdir_in(root).unwrap();
    let mut history = History::new();
    let filled = Instant::now();
    runtime.block_on(fill(dir.path(), &mut history, events));
    let fill_time = filled.elapsed();
    eprintln!("{events} events written in {fill_time:.1?}");

    // No snapshot yet: the whole log is folded (and the snapshot stored).
    let daemon = Daemon::start(dir.path());
    let cold = daemon.ready_after;
    // Its peak: the fold, and whatever it did next (writing the documents' files).
    std::thread::sleep(Duration::from_millis(500));
    let (_, cold_peak) = daemon.memory();
    daemon.stop();

    let mut warm = Vec::new();
    for _ in 0..RUNS - 1 {
        let daemon = Daemon::start(dir.path());
        warm.push(daemon.ready_after);
        daemon.stop();
    }
    let daemon = Daemon::start(dir.path());
    warm.push(daemon.ready_after);
    let welcome = runtime.block_on(welcome_bytes(dir.path()));
    let mut live = Vec::new();
    let mut doc = Vec::new();
    for _ in 0..RUNS {
        let (shown, text) = runtime.block_on(session_draws(dir.path()));
        live.push(shown);
        doc.push(text);
    }
    let (rss, peak) = daemon.memory();
    daemon.stop();

    // The most a daemon killed just before its next snapshot leaves to replay.
    runtime.block_on(fill(dir.path(), &mut history, SNAPSHOT_EVERY - 1));
    let daemon = Daemon::start(dir.path());
    let tail = daemon.ready_after;
    daemon.stop();

    Figures {
        events,
        fill: fill_time,
        warm: median(warm),
        tail,
        cold,
        welcome,
        live: median(live),
        doc: median(doc),
        rss,
        peak,
        cold_peak,
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    let Some(daemon) = daemon_bin() else {
        println!(
            "history benchmark skipped: no release choir-daemon; run scripts/bench-history.sh"
        );
        return;
    };
    let sizes: Vec<u64> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|sizes| {
            sizes
                .split(',')
                .map(|size| {
                    size.trim()
                        .parse()
                        .expect("BENCH_SIZES: numbers separated by commas")
                })
                .collect()
        })
        .unwrap_or_else(|| vec![10_000, 100_000, 1_000_000]);
    let root = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# History benchmark ({} cores; choir-daemon {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        daemon.display()
    );
    println!();
    println!("| events | start (snapshot) | start (snapshot + {} events) | start (no snapshot) | welcome | desktop drawn | document drawn | daemon RSS | peak RSS | peak RSS (no snapshot) | fill |", SNAPSHOT_EVERY - 1);
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut all = Vec::new();
    for events in sizes {
        let f = measure(&runtime, &root, events);
        println!(
            "| {} | {} | {} | {} | {:.1} KiB | {} | {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} s |",
            f.events,
            ms(f.warm),
            ms(f.tail),
            ms(f.cold),
            f.welcome as f64 / 1024.0,
            ms(f.live),
            ms(f.doc),
            f.rss,
            f.peak,
            f.cold_peak,
            f.fill.as_secs_f64()
        );
        all.push(f);
    }
    if let (Some(first), Some(last)) = (all.first(), all.last()) {
        if first.events != last.events {
            let ratio = |a: f64, b: f64| b / a;
            let s = |d: Duration| d.as_secs_f64();
            println!();
            println!("Ratios, {} events / {} events:", last.events, first.events);
            println!(
                "- start (snapshot): {:.2}",
                ratio(s(first.warm), s(last.warm))
            );
            println!(
                "- start (snapshot + tail): {:.2}",
                ratio(s(first.tail), s(last.tail))
            );
            println!(
                "- start (no snapshot): {:.2}",
                ratio(s(first.cold), s(last.cold))
            );
            println!(
                "- welcome: {:.2}",
                ratio(first.welcome as f64, last.welcome as f64)
            );
            println!("- desktop drawn: {:.2}", ratio(s(first.live), s(last.live)));
            println!("- document drawn: {:.2}", ratio(s(first.doc), s(last.doc)));
            println!("- daemon RSS: {:.2}", ratio(first.rss, last.rss));
            println!("- peak RSS: {:.2}", ratio(first.peak, last.peak));
            println!(
                "- peak RSS (no snapshot): {:.2}",
                ratio(first.cold_peak, last.cold_peak)
            );
        }
    }
}
