//! What carrying a browser through the hypervisor costs, measured against going straight to
//! the sandbox in the same run, with the same WebSocket client (tokio-tungstenite):
//!
//! - command round trip: `window.move` sent, its `ack` back (the daemon appends an event);
//! - event fan-out: one client posts; eight others (four through the hypervisor, four straight
//!   to the daemon's socket, all connected at once) time each event's arrival; p50 and p99;
//! - memory: the hypervisor's resident memory per idle signed-in tab (an open socket through
//!   it) and per signed-in session without a tab.
//!
//! Run with scripts/bench-web-proxy.sh (release build; as root, like the service).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use choir_proto::Endpoint;
use choir_test_support::procs::rss_kib;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use support::web::{hello, move_window, open_window, round_trip, sign_in, socket_at, Socket};
use support::{ms, percentile, Server};
use tokio_tungstenite::tungstenite::Message;

const ROUND_TRIPS: usize = 400;
const FAN_OUT_EVENTS: usize = 300;
const RECEIVERS_EACH: usize = 4;
/// Within the 32 tabs a user may have open.
const IDLE_TABS: usize = 30;
const WAIT: Duration = Duration::from_secs(30);

/// A socket straight to the daemon's Unix socket, welcomed.
async fn direct(endpoint: &Endpoint) -> Socket {
    let mut socket = choir_client::transport::websocket(endpoint, WAIT)
        .await
        .unwrap();
    hello(&mut socket).await;
    socket
}

/// The `n`th place of the fan-out: each distinct from the others and from the one before,
/// and well inside the desktop (moves off it are clamped, and one that changes nothing is no
/// event).
fn place(n: usize) -> (u64, u64) {
    (10 + (n % 100) as u64, 2 + (n / 100) as u64)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = Server::start(
        &["alice".to_owned()],
        &["--http-listen", "127.0.0.1:0", "--limit-signin", "1000"],
    );
    let (origin, web) = server.web.clone().unwrap();
    let http = reqwest::Client::new();
    let cookie = sign_in(&server, &http, &origin, web).await;
    let mut through = socket_at(web, &origin, &cookie).await;
    let info = std::fs::read_to_string(server.dir.join("sandboxes/alice/daemon.json")).unwrap();
    let endpoint: Endpoint = serde_json::from_str(&info).unwrap();
    let mut straight = direct(&endpoint).await;

    // A window to move.
    let window = open_window(&mut straight).await;

    // Round trips, alternating so that drift hits both alike; the first 40 warm up.
    let (mut via, mut plain) = (Vec::new(), Vec::new());
    for n in 0..ROUND_TRIPS + 40 {
        // Each move goes somewhere new, so each appends an event (a move to where the window
        // is already changes nothing and writes nothing).
        let id = 2 * n as u64 + 1;
        let a = round_trip(&mut through, id, &window).await;
        let b = round_trip(&mut straight, id + 1, &window).await;
        if n >= 40 {
            via.push(a);
            plain.push(b);
        }
    }
    let rt = [
        (
            "through the hypervisor",
            percentile(&mut via, 0.5),
            percentile(&mut via, 0.99),
        ),
        (
            "straight to the sandbox",
            percentile(&mut plain, 0.5),
            percentile(&mut plain, 0.99),
        ),
    ];

    // Fan-out: receivers of both kinds at once; a direct client posts.
    let mut receivers = Vec::new();
    for _ in 0..RECEIVERS_EACH {
        receivers.push((true, socket_at(web, &origin, &cookie).await));
        receivers.push((false, direct(&endpoint).await));
    }
    let (sent_tx, _) = tokio::sync::broadcast::channel::<(u64, Instant)>(FAN_OUT_EVENTS * 2);
    let mut tasks = Vec::new();
    let counts: Vec<_> = (0..receivers.len())
        .map(|_| std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)))
        .collect();
    for (n, (via_proxy, mut socket)) in receivers.into_iter().enumerate() {
        let mut sent = sent_tx.subscribe();
        let count = counts[n].clone();
        tasks.push(tokio::spawn(async move {
            let mut delays = Vec::new();
            let mut pending = std::collections::HashMap::new();
            while delays.len() < FAN_OUT_EVENTS {
                tokio::select! {
                    Ok((x, at)) = sent.recv() => { pending.insert(x, at); }
                    message = socket.next() => {
                        let Some(Ok(Message::Text(text))) = message else { continue };
                        let arrived = Instant::now();
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        if frame["type"] == "event" && frame["event"]["type"] == "window.moved" {
                            let data = &frame["event"]["data"];
                            let x = data["x"].as_u64().unwrap() * 1000 + data["y"].as_u64().unwrap();
                            // The send time is known a moment after the send; wait for it.
                            let at = loop {
                                if let Some(at) = pending.remove(&x) { break at; }
                                let (y, at) = sent.recv().await.unwrap();
                                pending.insert(y, at);
                            };
                            delays.push(arrived - at);
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }
            (via_proxy, delays)
        }));
    }
    // The sender reads what it is sent too (a client that does not read is held back).
    let (mut poster, mut its_frames) = straight.split();
    let drain = tokio::spawn(async move { while its_frames.next().await.is_some() {} });
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 0..FAN_OUT_EVENTS {
        // A new place each time (it identifies the event); paced like a busy session.
        let (x, y) = place(n);
        let at = Instant::now();
        let _ = sent_tx.send((x * 1000 + y, at));
        poster
            .send(move_window(2_000_000 + n as u64, &window, x, y))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (mut fan_via, mut fan_plain) = (Vec::new(), Vec::new());
    for task in tasks {
        let Ok(done) = tokio::time::timeout(WAIT, task).await else {
            let counts: Vec<usize> = counts
                .iter()
                .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
                .collect();
            panic!("receivers did not see every event; they saw {counts:?} of {FAN_OUT_EVENTS}");
        };
        let (via_proxy, delays) = done.unwrap();
        if via_proxy {
            fan_via.extend(delays);
        } else {
            fan_plain.extend(delays);
        }
    }
    let fan = [
        (
            "through the hypervisor",
            percentile(&mut fan_via, 0.5),
            percentile(&mut fan_via, 0.99),
        ),
        (
            "straight to the sandbox",
            percentile(&mut fan_plain, 0.5),
            percentile(&mut fan_plain, 0.99),
        ),
    ];

    drain.abort();
    drop(through);

    // Memory: idle tabs (open sockets through the hypervisor), then sessions without a tab.
    let pid = server.pid();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let mut tabs = Vec::new();
    for _ in 0..IDLE_TABS {
        tabs.push(socket_at(web, &origin, &cookie).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_tabs = rss_kib(pid);
    drop(tabs);
    let mut sessions = Vec::new();
    let mid = rss_kib(pid);
    for _ in 0..20 {
        sessions.push(sign_in(&server, &http, &origin, web).await);
    }
    let with_sessions = rss_kib(pid);

    println!("web proxy benchmark ({ROUND_TRIPS} round trips, {FAN_OUT_EVENTS} events to {RECEIVERS_EACH}+{RECEIVERS_EACH} receivers)");
    println!("command round trip (window.move → ack):");
    for (what, p50, p99) in rt {
        println!(
            "  {what:<24} p50 {:>6.2} ms  p99 {:>6.2} ms",
            ms(p50),
            ms(p99)
        );
    }
    println!(
        "  ratio                    p50 {:.2}      p99 {:.2}",
        ms(rt[0].1) / ms(rt[1].1),
        ms(rt[0].2) / ms(rt[1].2)
    );
    println!("event fan-out (post → arrival at each receiver):");
    for (what, p50, p99) in fan {
        println!(
            "  {what:<24} p50 {:>6.2} ms  p99 {:>6.2} ms",
            ms(p50),
            ms(p99)
        );
    }
    println!(
        "  ratio                    p50 {:.2}      p99 {:.2}",
        ms(fan[0].1) / ms(fan[1].1),
        ms(fan[0].2) / ms(fan[1].2)
    );
    println!(
        "memory: {IDLE_TABS} idle signed-in tabs: +{} KiB ({:.1} KiB each); 20 signed-in sessions without a tab: +{} KiB",
        with_tabs.saturating_sub(before),
        with_tabs.saturating_sub(before) as f64 / IDLE_TABS as f64,
        with_sessions.saturating_sub(mid),
    );
}
