//! Concurrent SSH desktop sessions against a real `choir-hypervisor serve` process:
//! memory per session (the RSS growth of the server and of the user's sandbox daemon) and keystroke-to-screen latency (a key sent
//! into a chat window until the first screen bytes come back). Run with scripts/bench-ssh.sh,
//! which builds the release binaries this uses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use choir_test_support::procs::rss_of_named;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::ChannelMsg;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(60);
const KEYSTROKES: usize = 200;

use choir_test_support::procs::rss_kib;
use support::{percentile, Client, Server};

/// One open desktop: its channel for sending, and arrival times of screen bytes.
struct Desktop {
    channel: russh::ChannelWriteHalf<client::Msg>,
    /// Screen bytes as they arrive, with the time.
    arrivals: mpsc::UnboundedReceiver<(Instant, Vec<u8>)>,
    _session: client::Handle<Client>,
}

/// Where sessions go: the hypervisor (a shell), or OpenSSH's sshd running tmux (the baseline).
#[derive(Clone, Copy)]
enum Target {
    Choir,
    SshdTmux,
}

async fn open(port: u16, key: &PrivateKey, target: Target) -> Desktop {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(WAIT),
        ..Default::default()
    });
    let mut session = client::connect(config, ("127.0.0.1", port), Client)
        .await
        .unwrap();
    let auth = session
        .authenticate_publickey(
            match target {
                Target::Choir => "alice",
                Target::SshdTmux => "root",
            },
            PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None),
        )
        .await
        .unwrap();
    assert!(auth.success());
    let channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm-256color", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    match target {
        Target::Choir => channel.request_shell(true).await.unwrap(),
        // Every session attaches to one shared tmux session, as every choir session shares
        // one desktop; the status line shows "bench" once it is drawn.
        Target::SshdTmux => channel
            .exec(true, "tmux -L choirbench new-session -A -s bench")
            .await
            .unwrap(),
    }
    let ready = match target {
        Target::Choir => "live",
        Target::SshdTmux => "bench",
    };
    let (mut read, write) = channel.split();
    let (tx, mut arrivals) = mpsc::unbounded_channel();
    let (live_tx, mut live_rx) = mpsc::unbounded_channel::<()>();
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut live = false;
        while let Some(msg) = read.wait().await {
            if let ChannelMsg::Data { data } = msg {
                if !live {
                    seen.extend_from_slice(&data);
                    if String::from_utf8_lossy(&seen).contains(ready) {
                        live = true;
                        let _ = live_tx.send(());
                    }
                }
                let _ = tx.send((Instant::now(), data.to_vec()));
            }
        }
    });
    tokio::time::timeout(WAIT, live_rx.recv()).await.unwrap();
    while arrivals.try_recv().is_ok() {}
    Desktop {
        channel: write,
        arrivals,
        _session: session,
    }
}

/// Sessions opened in turn, and whether keystrokes are timed at that count (at 1,000 every
/// key redraws a thousand screens of one shared desktop: memory only).
const CHOIR_COUNTS: &[(usize, bool)] = &[(1, true), (50, true), (200, true), (1000, false)];
const SSHD_COUNTS: &[(usize, bool)] = &[(1, true), (50, true), (200, true)];

/// Opens sessions against `target` in steps, printing memory and keystroke latency. `rss`
/// gives the server's RSS and, apart, that of the user's sandbox daemon (0 for sshd).
async fn measure(
    label: &str,
    port: u16,
    key: &PrivateKey,
    target: Target,
    rss: impl Fn() -> (u64, u64),
) {
    println!("## {label}");
    let mut desktops = vec![open(port, key, target).await];
    if let Target::Choir = target {
        // A chat window every desktop shows (one shared desktop), to type into.
        desktops[0].channel.data(&b"\x01c"[..]).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = rss();
    let counts = match target {
        Target::Choir => CHOIR_COUNTS,
        Target::SshdTmux => SSHD_COUNTS,
    };
    for &(count, keys) in counts {
        while desktops.len() < count {
            desktops.push(open(port, key, target).await);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = rss();
        let mut latencies = Vec::with_capacity(KEYSTROKES);
        for n in 0..if keys { KEYSTROKES } else { 0 } {
            let desktop = &mut desktops[n % count];
            while desktop.arrivals.try_recv().is_ok() {}
            let sent = Instant::now();
            desktop.channel.data(&b"x"[..]).await.unwrap();
            let (arrived, _) = tokio::time::timeout(WAIT, desktop.arrivals.recv())
                .await
                .unwrap()
                .unwrap();
            latencies.push(arrived - sent);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        latencies.sort();
        let per_session = |now: u64, base: u64| {
            if count > 1 {
                now.saturating_sub(base) as f64 / (count - 1) as f64 / 1024.0
            } else {
                0.0
            }
        };
        let mib = |kib: u64| kib as f64 / 1024.0;
        let keys = if keys {
            format!(
                "keystroke-to-screen p50 {:.2} ms, p99 {:.2} ms",
                percentile(&mut latencies, 0.5).as_secs_f64() * 1000.0,
                percentile(&mut latencies, 0.99).as_secs_f64() * 1000.0,
            )
        } else {
            "keys not timed".to_owned()
        };
        let daemon = match target {
            Target::Choir => format!(
                "; the user's daemon {:.1} MiB ({:.2} MiB per added session); together {:.2} MiB per added session",
                mib(now.1),
                per_session(now.1, base.1),
                per_session(now.0 + now.1, base.0 + base.1),
            ),
            Target::SshdTmux => String::new(),
        };
        println!(
            "- {count} sessions: RSS {:.1} MiB ({:.2} MiB per added session){daemon}; {keys}",
            mib(now.0),
            per_session(now.0, base.0),
        );
    }
    // Leave the sessions open until the end of the measurement, then let them go.
    drop(desktops);
}

/// Key → echo in a shell: a ChoirOS shell window (one session, the window focused), or the
/// baseline's tmux pane; a key typed until the screen bytes that come back contain it.
async fn measure_echo(label: &str, port: u16, key: &PrivateKey, target: Target) {
    let mut desktop = open(port, key, target).await;
    if let Target::Choir = target {
        desktop.channel.data(&b"\x01s"[..]).await.unwrap();
    }
    // Let the shell start and draw its prompt.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while desktop.arrivals.try_recv().is_ok() {}
    let mut latencies = Vec::with_capacity(KEYSTROKES);
    for n in 0..KEYSTROKES {
        if n % 40 == 0 {
            // Ctrl-U clears what was typed so far.
            desktop.channel.data(&b"\x15"[..]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        while desktop.arrivals.try_recv().is_ok() {}
        let sent = Instant::now();
        desktop.channel.data(&b"x"[..]).await.unwrap();
        loop {
            let (arrived, data) = tokio::time::timeout(WAIT, desktop.arrivals.recv())
                .await
                .unwrap()
                .unwrap();
            if data.contains(&b'x') {
                latencies.push(arrived - sent);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "- {label}: shell key → echo p50 {:.2} ms, p99 {:.2} ms ({KEYSTROKES} keys)",
        percentile(&mut latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&mut latencies, 0.99).as_secs_f64() * 1000.0,
    );
    if let Target::Choir = target {
        // Close the shell window (C-a x): the next run starts from the same desktop.
        desktop.channel.data(&b"\x01x"[..]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn main() {
    // Room for a thousand desktops of one user.
    let server = Server::start(&["alice".to_owned()], &["--limit-channels", "1100"]);
    let (port, key, pid) = (server.port, server.key.clone(), server.pid());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# SSH desktop sessions ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        measure(
            "choir-hypervisor (server process RSS)",
            port,
            &key,
            Target::Choir,
            || (rss_kib(pid), rss_of_named(&["choir-daemon"])),
        )
        .await;
        measure_echo(
            "choir-hypervisor, a shell window",
            port,
            &key,
            Target::Choir,
        )
        .await;
        // The baseline, when scripts/bench-ssh.sh could start an sshd that trusts this key.
        if let Some(sshd_port) = std::env::var("BENCH_SSHD_PORT")
            .ok()
            .and_then(|p| p.parse().ok())
        {
            let key_file = std::env::var("BENCH_SSHD_KEY").expect("BENCH_SSHD_KEY");
            let sshd_key =
                PrivateKey::from_openssh(std::fs::read_to_string(&key_file).unwrap()).unwrap();
            measure_echo(
                "OpenSSH sshd + tmux",
                sshd_port,
                &sshd_key,
                Target::SshdTmux,
            )
            .await;
            measure_echo(
                "choir-hypervisor, a shell window, again",
                port,
                &key,
                Target::Choir,
            )
            .await;
            let key_file = std::env::var("BENCH_SSHD_KEY").expect("BENCH_SSHD_KEY");
            let sshd_key =
                PrivateKey::from_openssh(std::fs::read_to_string(key_file).unwrap()).unwrap();
            measure(
                "OpenSSH sshd + tmux (RSS of every sshd and tmux process)",
                sshd_port,
                &sshd_key,
                Target::SshdTmux,
                || {
                    let all = rss_of_named(&[
                        "sshd",
                        "sshd-session",
                        "sshd-auth",
                        "tmux",
                        "tmux: server",
                        "tmux: client",
                    ]);
                    (all, 0)
                },
            )
            .await;
        } else {
            println!("(no sshd baseline: BENCH_SSHD_PORT is not set)");
        }
    });
    // Dropping the server stops it (and its sandbox).
    drop(server);
}
