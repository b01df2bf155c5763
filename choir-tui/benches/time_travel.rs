//! Time-travel benchmark: `scripts/bench-time-travel.sh` (which builds the release
//! `choir-daemon` this starts).
//!
//! For a generated history (1,000,000 events by default, the history benchmark's mix of chat,
//! documents and desktop traffic), against a real `choir-daemon` process on 127.0.0.1:
//!
//! - the time to open the desktop at a random point of the history: a new `choir replay`
//!   session (the real TUI session loop, drawing a 120×40 screen in this process) from its
//!   start until it shows that moment, for 15 random points;
//! - the same figure for the live desktop (a new `choir` session until it shows the desktop):
//!   the baseline, measured in the same run;
//! - the daemon's part alone: a `world.at` query answered, over one open socket, for 15
//!   other random points;
//! - one step back while replaying, from the key to the moment drawn;
//! - what past snapshots save: the world at the same points folded from the first event;
//! - the first start (the whole log folded; the past snapshots are stored after it, in the
//!   background, and the figures above are taken once that is done);
//! - the snapshot file's size (the past snapshots it holds).
//!
//! `BENCH_SIZES=100000` picks other sizes; `BENCH_DIR` where the logs go.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use choir_client::connect::{find_endpoint, DaemonHttp};
use choir_daemon::store::{EventStore, StoreOptions};
use choir_proto::thousands;
use choir_proto::{ClientFrame, Query, Reply, Seek, ServerFrame, World, PROTOCOL_VERSION};
use choir_tui::desktop::Desktop;
use choir_tui::input::InputEvent;
use choir_tui::theme::Theme;
use futures_util::{SinkExt, StreamExt};
use support::{daemon_bin, fill, Daemon, History, Session, RUNS, WAIT};
use tokio_tungstenite::tungstenite::Message;

/// Random points a replay is opened at.
const POINTS: usize = 15;
/// Points folded from the first event (each costs a whole fold).
const FOLDS: usize = 2;
/// Steps back taken one at a time.
const STEPS: usize = 30;

fn replay(seq: u64) -> Desktop {
    Desktop::replay(Theme::monochrome(), 0, Seek::Seq { seq })
}

/// The moment a replay shows in its timeline bar.
fn at(seq: u64, head: u64) -> String {
    format!("seq {} of {}", thousands(seq), thousands(head))
}

/// `world.at` answered over one socket, for each of `seqs`.
async fn queries(dir: &Path, seqs: &[u64]) -> Vec<Duration> {
    let endpoint = find_endpoint(dir).unwrap();
    let url = format!("{}/ws", endpoint.url.replacen("http://", "ws://", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(endpoint.token),
        resume_from: Some(0),
        client: Some("bench".into()),
    };
    ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
        .await
        .unwrap();
    let mut times = Vec::new();
    for (id, &seq) in seqs.iter().enumerate() {
        let started = Instant::now();
        let query = ClientFrame::Query {
            id: id as u64,
            query: Query::Moment {
                at: Seek::Seq { seq },
            },
        };
        ws.send(Message::text(serde_json::to_string(&query).unwrap()))
            .await
            .unwrap();
        loop {
            let message = tokio::time::timeout(WAIT, ws.next())
                .await
                .expect("no reply")
                .expect("the socket closed")
                .unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            if let Ok(ServerFrame::Reply {
                reply: Reply::Moment { moment },
                ..
            }) = serde_json::from_str(&text)
            {
                assert_eq!(moment.seq, seq);
                times.push(started.elapsed());
                break;
            }
        }
    }
    times
}

/// The world at `seq` folded from the first event, as a daemon without past snapshots would.
async fn fold_from_start(dir: &Path, seq: u64) -> Duration {
    let store = EventStore::open(&dir.join("events.db"), StoreOptions::default())
        .await
        .unwrap();
    let started = Instant::now();
    let mut world = World::default();
    while world.head < seq {
        let want = usize::try_from(seq - world.head).unwrap().min(4096);
        let page = store.read(world.head + 1, want).await.unwrap();
        for event in &page {
            world.apply(event);
        }
        world.trim_chats(choir_daemon::actors::KEEP_MESSAGES);
    }
    let _ = world.welcome();
    let elapsed = started.elapsed();
    store.shutdown().await;
    elapsed
}

struct Summary {
    median: Duration,
    p95: Duration,
    max: Duration,
}

fn summary(mut values: Vec<Duration>) -> Summary {
    values.sort();
    let pick = |q: f64| values[((values.len() as f64 - 1.0) * q).round() as usize];
    Summary {
        median: pick(0.5),
        p95: pick(0.95),
        max: *values.last().unwrap(),
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

struct Figures {
    events: u64,
    cold: Duration,
    live: Summary,
    open: Summary,
    query: Summary,
    step: Summary,
    fold: Duration,
    snapshot_mib: f64,
}

fn measure(runtime: &tokio::runtime::Runtime, root: &Path, events: u64) -> Figures {
    let dir = tempfile::tempdir_in(root).unwrap();
    let mut history = History::new();
    let filled = Instant::now();
    runtime.block_on(fill(dir.path(), &mut history, events));
    eprintln!("{events} events written in {:.1?}", filled.elapsed());
    // The first start folds the whole log and then stores the past snapshots it met, in
    // the background: measured once that is done.
    let daemon = Daemon::start(dir.path());
    let cold = daemon.ready_after;
    std::thread::sleep(Duration::from_secs(1 + events / 200_000));
    // The log's head (the daemon may have appended: a turn the history left open ended).
    let head = runtime.block_on(async {
        let daemon = DaemonHttp::new(find_endpoint(dir.path()).unwrap()).unwrap();
        let moment = daemon.get("/api/moment?seq=0&world=false").await.unwrap();
        moment["head"].as_u64().unwrap()
    });

    // Deterministic random points: some to open, others to ask for (none met before).
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        1 + rng % head
    };
    let points: Vec<u64> = (0..POINTS).map(|_| random()).collect();
    let asked: Vec<u64> = (0..POINTS).map(|_| random()).collect();

    let live = runtime.block_on(async {
        let mut times = Vec::new();
        for _ in 0..RUNS {
            let session = Session::spawn(dir.path(), Desktop::new(Theme::monochrome(), 0));
            times.push(
                session
                    .shows(&["● live", "Thread 1", "Thread 2"], session.started)
                    .await,
            );
            session.close().await;
        }
        times
    });
    let open = runtime.block_on(async {
        let mut times = Vec::new();
        for &seq in &points {
            let session = Session::spawn(dir.path(), replay(seq));
            times.push(session.shows(&[&at(seq, head)], session.started).await);
            session.close().await;
        }
        times
    });
    let query = runtime.block_on(queries(dir.path(), &asked));
    let step = runtime.block_on(async {
        let start = points[0].max(STEPS as u64 + 1);
        let session = Session::spawn(dir.path(), replay(start));
        session.shows(&[&at(start, head)], Instant::now()).await;
        let mut times = Vec::new();
        for back in 1..=STEPS as u64 {
            let pressed = Instant::now();
            session
                .keys
                .send(InputEvent::Key(choir_tui::input::Key::plain(
                    choir_tui::input::KeyCode::Left,
                )))
                .unwrap();
            times.push(session.shows(&[&at(start - back, head)], pressed).await);
        }
        session.close().await;
        times
    });
    daemon.stop();
    let snapshot_mib = ["snapshot.db", "snapshot.db-wal"]
        .iter()
        .filter_map(|file| std::fs::metadata(dir.path().join(file)).ok())
        .map(|meta| meta.len() as f64 / (1 << 20) as f64)
        .sum::<f64>();
    let folds: Vec<Duration> = points
        .iter()
        .take(FOLDS)
        .map(|&seq| runtime.block_on(fold_from_start(dir.path(), seq)))
        .collect();
    Figures {
        events,
        cold,
        live: summary(live),
        open: summary(open),
        query: summary(query),
        step: summary(step),
        fold: summary(folds).median,
        snapshot_mib,
    }
}

fn main() {
    let Some(daemon) = daemon_bin() else {
        println!("time-travel benchmark skipped: no release choir-daemon; run scripts/bench-time-travel.sh");
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
        .unwrap_or_else(|| vec![1_000_000]);
    let root = std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "# Time-travel benchmark ({} cores; choir-daemon {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        daemon.display()
    );
    println!();
    println!("| events | open a past moment: median / p95 / max | open the live desktop (baseline): median | ratio | world.at answered: median / max | one step back: median / max | fold from the first event | first start (folds, stores past snapshots) | snapshot file |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for events in sizes {
        let f = measure(&runtime, &root, events);
        println!(
            "| {} | {} / {} / {} | {} | {:.2} | {} / {} | {} / {} | {} | {} | {:.1} MiB |",
            f.events,
            ms(f.open.median),
            ms(f.open.p95),
            ms(f.open.max),
            ms(f.live.median),
            f.open.median.as_secs_f64() / f.live.median.as_secs_f64(),
            ms(f.query.median),
            ms(f.query.max),
            ms(f.step.median),
            ms(f.step.max),
            ms(f.fold),
            ms(f.cold),
            f.snapshot_mib,
        );
    }
}
