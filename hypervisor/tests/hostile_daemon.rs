//! A sandbox's daemon replaced by a hostile server (as a user can: the socket is in their own
//! data dir, and a server of theirs runs as their uid): it floods every desktop the
//! hypervisor draws for them with large events, trying to push the root hypervisor's memory
//! up. Each desktop weighs what it holds against the user's budget (`--limit-held`) and ends,
//! saying so, before the hypervisor grows past it; another user keeps working.
//! (Needs root, as CI runs: elsewhere it says so.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use choir_proto::{DocId, Event, EventBody, ServerFrame};
use common::{bash, needs_root, Hypervisor};
use russh::ChannelMsg;

/// The hostile server: on `argv[1]`, it answers a WebSocket upgrade with the first line of its
/// stdin (a welcome) and then `argv[2]` events made from the second line, with `999999999`
/// replaced by 1, 2, 3…; any other request gets `{}`.
const SERVER: &str = r#"
import base64, hashlib, os, socket, struct, sys, threading
path, count = sys.argv[1], int(sys.argv[2])
welcome = sys.stdin.readline().strip().encode()
event = sys.stdin.readline().strip()
def frame(payload):
    n = len(payload)
    if n < 126: head = struct.pack('!BB', 0x81, n)
    elif n < 65536: head = struct.pack('!BBH', 0x81, 126, n)
    else: head = struct.pack('!BBQ', 0x81, 127, n)
    return head + payload
def serve(c):
    try:
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = c.recv(65536)
            if not chunk: return
            data += chunk
        lines = data.split(b'\r\n\r\n')[0].decode(errors='replace').split('\r\n')
        key = [l.split(':', 1)[1].strip() for l in lines if l.lower().startswith('sec-websocket-key:')]
        if not key:
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}')
            return
        accept = base64.b64encode(hashlib.sha1((key[0] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
        c.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' % accept).encode())
        c.recv(65536)  # the hello
        c.sendall(frame(welcome))
        for n in range(1, count + 1):
            c.sendall(frame(event.replace('999999999', str(n)).encode()))
    except OSError:
        pass
    finally:
        c.close()
try: os.unlink(path)
except FileNotFoundError: pass
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(64)
print('listening', flush=True)
while True:
    c, _ = server.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

const BUDGET_MIB: u64 = 32;
const DESKTOPS: usize = 4;
/// Events each desktop is sent, of 1 MiB each: far past the budget.
const EVENTS: usize = 300;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens a desktop over SSH and reads it until the channel ends; what it showed last.
async fn desktop(session: &russh::client::Handle<common::Client>) -> String {
    let mut channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm", 100, 30, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut tail = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => {
                tail.extend_from_slice(&data);
                if tail.len() > 8192 {
                    tail.drain(..tail.len() - 8192);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                return format!(
                    "(the desktop did not end) {}",
                    String::from_utf8_lossy(&tail)
                )
            }
        }
    }
    String::from_utf8_lossy(&tail).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_daemon_cannot_push_the_hypervisor_past_the_users_budget() {
    if needs_root("a_hostile_daemon_cannot_push_the_hypervisor_past_the_users_budget") {
        return;
    }
    let hv = Hypervisor::start(&["alice", "bob"], &["--limit-held", "32M"]);
    let alice = hv.connect("alice").await;
    let bob = hv.connect("bob").await;
    assert_eq!(bash(&alice, "true").await.1, 0);
    assert_eq!(bash(&bob, "true").await.1, 0);
    let uid = hv.sandbox("alice")["uid"].as_u64().unwrap() as u32;
    let gid = std::fs::metadata(hv.sandbox_dir("alice"))
        .map(|meta| std::os::unix::fs::MetadataExt::gid(&meta))
        .unwrap();

    // The hostile server takes the daemon's socket, as Alice.
    let welcome = ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: 0,
        snapshot: Some(Box::default()),
        read_only: false,
    };
    let event = ServerFrame::Event {
        event: Event {
            seq: 999_999_999,
            ts: 0,
            actor: "agent".into(),
            correlation: None,
            v: 1,
            body: EventBody::DocCreated {
                doc_id: DocId(999_999_999),
                title: "flood".into(),
                content: "x".repeat(1 << 20),
            },
        },
    };
    let socket = hv.sandbox_dir("alice").join("daemon.sock");
    let mut server = Command::new("python3")
        .args(["-c", SERVER])
        .arg(&socket)
        .arg(EVENTS.to_string())
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&welcome).unwrap()).unwrap();
    writeln!(stdin, "{}", serde_json::to_string(&event).unwrap()).unwrap();
    drop(stdin);
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening");

    // The hypervisor's memory, sampled while the desktops are flooded.
    let pid = hv.pid();
    let before = rss_kib(pid);
    let peak = Arc::new(AtomicU64::new(before));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let mut sessions = Vec::new();
    for _ in 0..DESKTOPS {
        sessions.push(hv.connect("alice").await);
    }
    let shown = futures_util::future::join_all(sessions.iter().map(desktop)).await;
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
    let _ = server.kill();
    let _ = server.wait();

    // What the desktops held is within the budget; on top of it, each connection may have a
    // few messages on their way (its queue of 16, and the one being read): 17 MiB each here,
    // and the allocator's slack. Without the budget the same flood holds 2 MiB per event
    // (the document and the event log's copy): over a GiB.
    let grown_mib = peak.load(Ordering::Relaxed).saturating_sub(before) / 1024;
    let allowed = BUDGET_MIB + DESKTOPS as u64 * 17 + 48;
    assert!(
        grown_mib <= allowed,
        "the hypervisor grew by {grown_mib} MiB (allowed {allowed})"
    );
    eprintln!("the hypervisor grew by {grown_mib} MiB at most (allowed {allowed})");

    for screen in &shown {
        assert!(
            screen.contains("than this host keeps for one user (32 MiB)")
                || screen.contains("than this host holds for one user (32 MiB)"),
            "a desktop did not say why it ended:\n{screen}"
        );
    }
    // Bob was never in danger.
    let (output, code) = bash(&bob, "echo bob is fine").await;
    assert_eq!((output.as_str(), code), ("bob is fine\n", 0));
}
