//! Event store and fan-out benchmark: `cargo bench -p choir-daemon`.
//!
//! Each figure is printed next to a baseline measured in the same run on the same disk:
//! raw SQLite (rusqlite, prepared statement) inserting the same rows with the same pragmas.
//! Set `BENCH_QUICK=1` for a short smoke run, `BENCH_ONLY=1,5` for some sections alone (a
//! profile of one path: `perf record` around a run of that section).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use choir_daemon::store::{EventStore, StoreOptions};
use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{ClientFrame, EventBody, NewEvent, ServerFrame, ThreadId, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some()
}

fn event(text: String) -> NewEvent {
    NewEvent::new(
        "bench",
        EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text,
        },
    )
}

/// The row the store writes for `event`, for the raw SQLite baseline.
const ROW_DATA: &str = r#"{"thread_id":1,"text":"payload-000000"}"#;

/// A fresh database with the store's schema (its table and its lookup indexes).
fn raw_sqlite(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        .unwrap();
    conn.execute_batch(include_str!("../migrations/0001_events.sql"))
        .unwrap();
    conn.execute_batch(include_str!("../migrations/0002_lookups.sql"))
        .unwrap();
    conn
}

fn insert_raw(tx: &rusqlite::Connection, seq: u64) {
    let mut statement = tx
        .prepare_cached(
            "INSERT INTO events (seq, ts, actor, correlation, type, version, data) VALUES (?,?,?,?,?,?,?)",
        )
        .unwrap();
    statement
        .execute(rusqlite::params![
            seq as i64,
            0i64,
            "bench",
            None::<String>,
            "chat.user_message",
            1,
            ROW_DATA
        ])
        .unwrap();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Baseline 1: one durable transaction per event, back to back.
fn raw_one_tx_per_event(dir: &Path, events: u64) -> f64 {
    let mut conn = raw_sqlite(&dir.join("raw1.db"));
    let start = Instant::now();
    for seq in 1..=events {
        let tx = conn.transaction().unwrap();
        insert_raw(&tx, seq);
        tx.commit().unwrap();
    }
    events as f64 / start.elapsed().as_secs_f64()
}

/// Baseline 2: one durable transaction per batch.
fn raw_one_tx_per_batch(dir: &Path, batches: u64, batch: u64) -> f64 {
    let mut conn = raw_sqlite(&dir.join("raw2.db"));
    let start = Instant::now();
    let mut seq = 0;
    for _ in 0..batches {
        let tx = conn.transaction().unwrap();
        for _ in 0..batch {
            seq += 1;
            insert_raw(&tx, seq);
        }
        tx.commit().unwrap();
    }
    (batches * batch) as f64 / start.elapsed().as_secs_f64()
}

async fn open(dir: &Path, name: &str, durable: bool) -> EventStore {
    EventStore::open(
        &dir.join(name),
        StoreOptions {
            durable,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap()
}

/// Events per second, each append's wait, and how many commits (fsyncs) they took.
async fn concurrent_producers(
    dir: &Path,
    producers: usize,
    each: usize,
) -> (f64, Vec<Duration>, u64) {
    let store = open(dir, &format!("group-{producers}.db"), true).await;
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(each);
                for _ in 0..each {
                    let sent = Instant::now();
                    store
                        .append(vec![event("payload-000000".into())])
                        .await
                        .unwrap();
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let rate = (producers * each) as f64 / start.elapsed().as_secs_f64();
    let commits = store.commits();
    store.shutdown().await;
    latencies.sort();
    (rate, latencies, commits)
}

async fn one_producer_batches(dir: &Path, batches: u64, batch: u64) -> f64 {
    let store = open(dir, "batches.db", true).await;
    // The rows exist before the clock starts, as they do for the baseline.
    let prepared: Vec<Vec<NewEvent>> = (0..batches)
        .map(|_| (0..batch).map(|_| event("payload-000000".into())).collect())
        .collect();
    let start = Instant::now();
    for events in prepared {
        store.append(events).await.unwrap();
    }
    let rate = (batches * batch) as f64 / start.elapsed().as_secs_f64();
    store.shutdown().await;
    rate
}

async fn catch_up(dir: &Path, total: u64) -> f64 {
    let store = open(dir, "catchup.db", false).await;
    let mut written = 0;
    while written < total {
        let n = (total - written).min(10_000);
        store
            .append((0..n).map(|_| event("payload-000000".into())).collect())
            .await
            .unwrap();
        written += n;
    }
    let start = Instant::now();
    let mut subscription = store.subscribe(0);
    let mut seen = 0;
    while seen < total {
        subscription.next().await.unwrap().unwrap();
        seen += 1;
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    store.shutdown().await;
    rate
}

/// A daemon on 127.0.0.1 with the offline agent.
async fn start_daemon(data_dir: &Path) -> RunningDaemon {
    Daemon::start(DaemonConfig::local(data_dir)).await.unwrap()
}

/// 100 WebSocket subscribers; events appended at a steady rate carry their send time.
async fn fan_out(dir: &Path, subscribers: usize, rate: u64, seconds: u64) -> Vec<Duration> {
    let daemon = start_daemon(&dir.join("fanout")).await;
    let epoch = Arc::new(Instant::now());
    let total = rate * seconds;
    let url = format!("ws://{}/ws", daemon.addr);
    let mut clients = Vec::new();
    for _ in 0..subscribers {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(daemon.token.clone()),
            resume_from: Some(0),
            client: Some("bench".into()),
        };
        ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
            .await
            .unwrap();
        let epoch = epoch.clone();
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while (latencies.len() as u64) < total {
                let Some(Ok(Message::Text(text))) = ws.next().await else {
                    break;
                };
                if let Ok(ServerFrame::Event { event }) = serde_json::from_str(&text) {
                    if let EventBody::ChatUserMessage { text, .. } = event.body {
                        let sent = Duration::from_nanos(text.parse().unwrap());
                        latencies.push(epoch.elapsed() - sent);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for _ in 0..total {
        tick.tick().await;
        let store = daemon.store.clone();
        let sent = epoch.elapsed().as_nanos().to_string();
        // Appends are not awaited in turn, so a slow commit does not slow the send rate.
        tokio::spawn(async move { store.append(vec![event(sent)]).await.unwrap() });
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    daemon.shutdown().await;
    latencies.sort();
    latencies
}

/// What section 5 measured.
struct ChatRun {
    posts_per_second: f64,
    /// Events committed meanwhile (the posts and the agent's answers), and in how many commits.
    events: u64,
    commits: u64,
}

/// `clients` WebSocket clients post to one chat thread (the offline agent answering each
/// post), each waiting for its ack before the next.
async fn chat_posts(dir: &Path, clients: usize, each: usize) -> ChatRun {
    let daemon = start_daemon(&dir.join("chat")).await;
    daemon
        .world()
        .execute(
            choir_proto::Command::OpenWindow {
                app: choir_proto::AppKind::Chat,
                title: None,
                rect: None,
            },
            "bench".into(),
            None,
        )
        .await
        .unwrap();
    let url = format!("ws://{}/ws", daemon.addr);
    let head = daemon.store.head();
    let mut sockets = Vec::new();
    for _ in 0..clients {
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .unwrap();
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(daemon.token.clone()),
            resume_from: Some(head),
            client: Some("bench".into()),
        };
        ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
            .await
            .unwrap();
        sockets.push(ws);
    }
    let start = Instant::now();
    let commits_before = daemon.store.commits();
    let mut tasks = Vec::new();
    for (n, mut ws) in sockets.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for id in 0..each as u64 {
                let command = ClientFrame::Command {
                    id,
                    command: choir_proto::Command::PostChat {
                        thread_id: ThreadId(1),
                        text: format!("post {id} from client {n}"),
                    },
                };
                ws.send(Message::text(serde_json::to_string(&command).unwrap()))
                    .await
                    .unwrap();
                loop {
                    let Some(Ok(Message::Text(text))) = ws.next().await else {
                        panic!("the socket closed")
                    };
                    match serde_json::from_str(&text) {
                        Ok(ServerFrame::Ack { id: acked, .. }) if acked == id => break,
                        Ok(ServerFrame::Error { message, .. }) => panic!("{message}"),
                        _ => {}
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let posts_per_second = (clients * each) as f64 / start.elapsed().as_secs_f64();
    let run = ChatRun {
        posts_per_second,
        events: daemon.store.head() - head,
        commits: daemon.store.commits() - commits_before,
    };
    daemon.shutdown().await;
    run
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir =
        tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| ".".into())).unwrap();
    let quick = quick();

    println!(
        "# choir-daemon store benchmark ({} cores)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let runs =
        |section: u8| only.is_empty() || only.split(',').any(|s| s.trim() == section.to_string());
    store_sections(&runtime, dir.path(), quick, &runs);
    if !runs(5) {
        return;
    }

    let clients = 8;
    let each = if quick { 50 } else { 250 };
    let (ceiling, _, _) = runtime.block_on(concurrent_producers(dir.path(), clients, each));
    let run = runtime.block_on(chat_posts(dir.path(), clients, each));
    let posts = (clients * each) as f64;
    println!("## 5. chat.post: {clients} clients on one thread, each awaiting its ack");
    println!(
        "- {:.0} posts/s (the offline agent answering every post)",
        run.posts_per_second
    );
    println!(
        "- baseline, the store with {clients} producers, 1 event per append: {ceiling:.0} events/s"
    );
    println!("- ratio: {:.2}", run.posts_per_second / ceiling);
    println!(
        "- where the time goes: {:.1} events and {:.2} commits (fsyncs) per post; the \
         posts of a batch wait for the commit before theirs and their own",
        run.events as f64 / posts,
        run.commits as f64 / posts
    );
}

/// Sections 1 to 4: the store and the live fan-out.
fn store_sections(
    runtime: &tokio::runtime::Runtime,
    dir: &Path,
    quick: bool,
    runs: &dyn Fn(u8) -> bool,
) {
    let (producers, each) = (64, if quick { 50 } else { 500 });
    let (batches, batch) = (if quick { 10 } else { 100 }, 1000);
    let catch_up_total = if quick { 100_000 } else { 1_000_000 };
    let fan_seconds = if quick { 2 } else { 10 };

    if runs(1) {
        let baseline = raw_one_tx_per_event(dir, if quick { 100 } else { 500 });
        let (rate, latencies, commits) =
            runtime.block_on(concurrent_producers(dir, producers, each));
        println!("## 1. {producers} concurrent producers, 1 event per append, synchronous=FULL");
        println!(
            "- group commit: {rate:.0} events/s, ack p50 {} p99 {}",
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99))
        );
        println!("- baseline raw SQLite, one transaction per event: {baseline:.0} events/s");
        println!("- ratio: {:.1}x", rate / baseline);
        println!(
            "- where the time goes: {:.1} events per commit; each commit one fsync and the \
             rows' inserts into the table and its lookup indexes",
            (producers * each) as f64 / commits.max(1) as f64
        );
        println!();
    }

    if runs(2) {
        let baseline = raw_one_tx_per_batch(dir, batches, batch);
        let rate = runtime.block_on(one_producer_batches(dir, batches, batch));
        println!("## 2. one producer, batches of {batch}, synchronous=FULL");
        println!("- EventStore::append: {rate:.0} events/s");
        println!("- baseline raw SQLite, one transaction per batch: {baseline:.0} events/s");
        println!("- ratio: {:.2}", rate / baseline);
        println!();
    }

    if runs(3) {
        let rate = runtime.block_on(catch_up(dir, catch_up_total));
        println!("## 3. catch-up: subscribe(0) over {catch_up_total} stored events");
        println!("- {rate:.0} events/s");
        println!(
            "- where the time goes (perf): pages of 4096 rows read row by row from SQLite \
             (a quarter), allocating (a fifth), each payload decoded by serde (a sixth)"
        );
        println!();
    }

    if runs(4) {
        let latencies = runtime.block_on(fan_out(dir, 100, 500, fan_seconds));
        println!("## 4. live fan-out: 100 WebSocket subscribers, 500 events/s for {fan_seconds} s");
        println!(
            "- append-to-receive over {} deliveries: p50 {} p99 {} max {}",
            latencies.len(),
            ms(percentile(&latencies, 0.5)),
            ms(percentile(&latencies, 0.99)),
            ms(latencies.last().copied().unwrap_or_default())
        );
        println!(
            "- where the time goes: each event encoded once, then one WebSocket write per \
             subscriber (frames that wait together share a write)"
        );
        println!();
    }
}
