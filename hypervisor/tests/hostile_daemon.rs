//! A sandbox's daemon replaced by a hostile server (as a user can: the socket is in their own
//! data dir, and a server of theirs runs as their uid): it floods every SSH desktop of theirs
//! with screen bytes, trying to push the root hypervisor's memory up. SSH desktops are drawn
//! in the sandbox (`GET /term`) and the hypervisor only carries their bytes, one message at a
//! time, as each client's window allows: it holds next to nothing, passes every byte on, and
//! reports the exit status the stream ends with; another user keeps working.
//! (Needs root, as CI runs: elsewhere it says so.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use choir_test_support::procs::rss_kib;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{bash, needs_root, Hypervisor};
use russh::ChannelMsg;

/// The hostile server: on `argv[1]`, it answers a terminal stream's upgrade (`GET /term`) with
/// `argv[2]` binary messages of 64 KiB (the largest a daemon sends), then the exit status 3
/// and a close; any other request gets `{}`.
const SERVER: &str = r#"
import base64, hashlib, os, socket, struct, sys, threading
path, count = sys.argv[1], int(sys.argv[2])
def frame(opcode, payload):
    n = len(payload)
    if n < 126: head = struct.pack('!BB', 0x80 | opcode, n)
    elif n < 65536: head = struct.pack('!BBH', 0x80 | opcode, 126, n)
    else: head = struct.pack('!BBQ', 0x80 | opcode, 127, n)
    return head + payload
screen = b'x' * (64 << 10)
def serve(c):
    try:
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = c.recv(65536)
            if not chunk: return
            data += chunk
        lines = data.split(b'\r\n\r\n')[0].decode(errors='replace').split('\r\n')
        key = [l.split(':', 1)[1].strip() for l in lines if l.lower().startswith('sec-websocket-key:')]
        if not key or not lines[0].startswith('GET /term'):
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}')
            return
        accept = base64.b64encode(hashlib.sha1((key[0] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
        c.sendall(('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n' % accept).encode())
        for n in range(count):
            c.sendall(frame(2, screen))
        c.sendall(frame(1, b'{"exit":3}'))
        c.sendall(frame(8, struct.pack('!H', 1000)))
        c.recv(65536)
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

const DESKTOPS: usize = 4;
/// Messages of 64 KiB each desktop is sent: 512 MiB in all.
const MESSAGES: usize = 2048;
const MESSAGE: usize = 64 << 10;

/// Opens a desktop over SSH and reads it until the channel ends: the bytes it showed, and
/// the exit status it ended with.
async fn desktop(session: &russh::client::Handle<common::Client>) -> (usize, Option<u32>) {
    let mut channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm", 100, 30, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let (mut shown, mut status) = (0, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => shown += data.len(),
            Ok(Some(ChannelMsg::ExitStatus { exit_status })) => status = Some(exit_status),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("the desktop did not end within 60 s ({shown} bytes shown)"),
        }
    }
    (shown, status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_daemon_flooding_ssh_desktops_costs_the_hypervisor_nothing() {
    if needs_root("a_hostile_daemon_flooding_ssh_desktops_costs_the_hypervisor_nothing") {
        return;
    }
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let alice = hv.connect("alice").await;
    let bob = hv.connect("bob").await;
    assert_eq!(bash(&alice, "true").await.1, 0);
    assert_eq!(bash(&bob, "true").await.1, 0);
    let uid = hv.sandbox("alice")["uid"].as_u64().unwrap() as u32;
    let gid = std::fs::metadata(hv.sandbox_dir("alice"))
        .map(|meta| std::os::unix::fs::MetadataExt::gid(&meta))
        .unwrap();

    // The hostile server takes the daemon's socket, as Alice.
    let socket = hv.sandbox_dir("alice").join("daemon.sock");
    let mut server = Command::new("python3")
        .args(["-c", SERVER])
        .arg(&socket)
        .arg(MESSAGES.to_string())
        .uid(uid)
        .gid(gid)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
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

    // Every byte went through, and each desktop ended with the stream's exit status.
    for (bytes, status) in &shown {
        assert_eq!(
            *bytes,
            MESSAGES * MESSAGE,
            "a desktop was not shown every byte"
        );
        assert_eq!(
            *status,
            Some(3),
            "a desktop did not end with the stream's status"
        );
    }
    // The hypervisor held a message or so per desktop on its way (and the SSH layer's
    // buffers), not the flood: 512 MiB went through.
    let grown_mib = peak.load(Ordering::Relaxed).saturating_sub(before) / 1024;
    let allowed = DESKTOPS as u64 * 2 + 16;
    assert!(
        grown_mib <= allowed,
        "the hypervisor grew by {grown_mib} MiB (allowed {allowed})"
    );
    eprintln!("the hypervisor grew by {grown_mib} MiB at most (allowed {allowed})");

    // Bob was never in danger.
    let (output, code) = bash(&bob, "echo bob is fine").await;
    assert_eq!((output.as_str(), code), ("bob is fine\n", 0));
}
