//! Shell windows, measured against tmux in the same run: `cargo bench -p choir-tui --bench
//! shell_echo` (numbers in docs/BENCHMARKS.md).
//!
//! - Key → echo, local: the terminal desktop (`choir`, this build) runs in a PTY with a shell
//!   window focused; a key is written to that PTY and timed until the terminal bytes that
//!   come back contain it. The baseline is a tmux client in a PTY of the same size, attached
//!   to a session running the same shell. Both paths are whole: client, server, shell, and
//!   the screen update back.
//! - Log bytes per second of a flood: `yes | head -c 100000000` in a shell window, the log's
//!   growth (event payloads and the SQLite file) over the time it took.
//! - Memory per open shell window: the daemon's RSS growth per window (this process hosts
//!   it) and the shells' own RSS; against tmux's server growth per window.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use choir_test_support::procs::{children_rss_kib, rss_kib};
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{AppKind, Command, EventBody, Rect, WindowId};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

const KEYS: usize = 200;
const WAIT: Duration = Duration::from_secs(30);
const SHELL: &str = "/bin/bash";
const SIZE: (u16, u16) = (100, 30);

/// A program in a PTY of its own, its output arriving on a channel with arrival times.
struct Pty {
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    output: mpsc::Receiver<(Instant, Vec<u8>)>,
    seen: Vec<u8>,
}

impl Pty {
    fn spawn(command: CommandBuilder) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: SIZE.1,
                cols: SIZE.0,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let child = pair.slave.spawn_command(command).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        });
        Pty {
            master: pair.master,
            writer,
            child,
            output,
            seen: Vec::new(),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    /// Reads until the output since the last call contains `text`.
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !String::from_utf8_lossy(&self.seen).contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok((_, bytes)) => {
                    // Answer a cursor position request, as a terminal does.
                    if bytes.windows(4).any(|w| w == b"\x1b[6n") {
                        self.write(b"\x1b[1;1R");
                    }
                    self.seen.extend_from_slice(&bytes);
                }
                Err(_) => panic!(
                    "no {text:?} within {WAIT:?}; last output: {:?}",
                    String::from_utf8_lossy(&self.seen[self.seen.len().saturating_sub(400)..])
                ),
            }
        }
        self.seen.clear();
    }

    /// Lets output settle (nothing for 200 ms), dropping it.
    fn settle(&mut self) {
        while self.output.recv_timeout(Duration::from_millis(200)).is_ok() {}
        self.seen.clear();
    }

    /// Writes `key` and times it until the output contains it.
    fn echo(&mut self, key: u8) -> Duration {
        self.settle_quickly();
        let sent = Instant::now();
        self.write(&[key]);
        let mut seen = Vec::new();
        loop {
            let (at, bytes) = self.output.recv_timeout(WAIT).expect("no echo");
            seen.extend_from_slice(&bytes);
            if seen.contains(&key) {
                return at - sent;
            }
        }
    }

    fn settle_quickly(&mut self) {
        while self.output.try_recv().is_ok() {}
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.master;
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Types `KEYS` keys (20 ms apart, a line cleared every 40) and returns the echo times.
fn keystrokes(pty: &mut Pty) -> Vec<Duration> {
    let mut times = Vec::with_capacity(KEYS);
    for n in 0..KEYS {
        if n % 40 == 0 {
            // Ctrl-U clears the line typed so far.
            pty.write(b"\x15");
            pty.settle();
        }
        times.push(pty.echo(b'x'));
        std::thread::sleep(Duration::from_millis(20));
    }
    times
}

fn report(label: &str, times: &mut [Duration]) -> (Duration, Duration) {
    let (p50, p99) = (percentile(times, 0.5), percentile(times, 0.99));
    println!(
        "- {label}: key → echo p50 {:.2} ms, p99 {:.2} ms ({} keys)",
        ms(p50),
        ms(p99),
        times.len()
    );
    (p50, p99)
}

async fn start_daemon(dir: &std::path::Path) -> RunningDaemon {
    Daemon::start(DaemonConfig::local(dir)).await.unwrap()
}

async fn execute(daemon: &RunningDaemon, command: Command) -> Vec<u64> {
    daemon
        .world()
        .execute(command, "bench".into(), None)
        .await
        .unwrap()
}

/// Opens a shell window and waits for its shell to have written something (a prompt).
async fn open_shell(daemon: &RunningDaemon, rect: Rect) -> WindowId {
    let seqs = execute(
        daemon,
        Command::OpenWindow {
            app: AppKind::Shell,
            title: None,
            rect: Some(rect),
        },
    )
    .await;
    let id = daemon
        .world()
        .query(|world| *world.desktop.windows.keys().last().unwrap())
        .await
        .unwrap();
    assert!(!seqs.is_empty());
    let deadline = Instant::now() + WAIT;
    loop {
        let ready = daemon
            .world()
            .query(move |world| {
                world
                    .shells
                    .get(&id)
                    .is_some_and(|shell| !shell.terminal.text().trim().is_empty())
            })
            .await
            .unwrap();
        if ready {
            return id;
        }
        assert!(Instant::now() < deadline, "the shell did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tmux(socket: &str, args: &[&str]) {
    let status = std::process::Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "tmux {args:?}");
}

fn tmux_server_pid(socket: &str) -> u32 {
    let out = std::process::Command::new("tmux")
        .args(["-L", socket, "display-message", "-p", "#{pid}"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

fn main() {
    if std::process::Command::new("tmux")
        .arg("-V")
        .output()
        .is_err()
    {
        println!("shell_echo benchmark skipped: tmux is not installed (scripts/setup.sh)");
        return;
    }
    // Both sides run the same shell.
    std::env::set_var("SHELL", SHELL);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let daemon = runtime.block_on(start_daemon(dir.path()));
    println!(
        "# Shell windows ({} cores, {SHELL}, {}x{} terminal)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        SIZE.0,
        SIZE.1
    );

    // Key → echo: ChoirOS's terminal desktop, then tmux, then ChoirOS again (the order's
    // effect shows as the difference between the two ChoirOS runs).
    let choir = |runtime: &tokio::runtime::Runtime| {
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_choir"));
        command.env("CHOIR_DATA_DIR", dir.path());
        command.env("TERM", "xterm-256color");
        let mut pty = Pty::spawn(command);
        pty.wait_for("live");
        runtime.block_on(open_shell(&daemon, Rect::new(0, 0, SIZE.0, SIZE.1 - 2)));
        pty.settle();
        let mut times = keystrokes(&mut pty);
        runtime.block_on(async {
            let id = daemon
                .world()
                .query(|world| *world.desktop.windows.keys().last().unwrap())
                .await
                .unwrap();
            execute(&daemon, Command::CloseWindow { window_id: id }).await;
        });
        report("ChoirOS (`choir` in a PTY, shell window)", &mut times)
    };
    let first = choir(&runtime);
    let socket = format!("choir-echo-bench-{}", std::process::id());
    let (tmux_p50, tmux_p99) = {
        let mut command = CommandBuilder::new("tmux");
        let (w, h) = (SIZE.0.to_string(), SIZE.1.to_string());
        command.args([
            "-L",
            &socket,
            "-f",
            "/dev/null",
            "new-session",
            "-s",
            "bench",
            "-x",
            &w,
            "-y",
            &h,
            SHELL,
        ]);
        command.env("TERM", "xterm-256color");
        command.cwd(dir.path());
        let mut pty = Pty::spawn(command);
        std::thread::sleep(Duration::from_millis(500));
        pty.settle();
        let mut times = keystrokes(&mut pty);
        let result = report("tmux (client in a PTY, same shell)", &mut times);
        drop(pty);
        result
    };
    let second = choir(&runtime);
    let choir_p50 = first.0.max(second.0);
    let choir_p99 = first.1.max(second.1);
    println!(
        "- ratio ChoirOS / tmux (the slower ChoirOS run): p50 {:.2}, p99 {:.2}",
        choir_p50.as_secs_f64() / tmux_p50.as_secs_f64(),
        choir_p99.as_secs_f64() / tmux_p99.as_secs_f64()
    );

    // Memory per open shell window: 20 windows.
    const WINDOWS: usize = 20;
    let me = std::process::id();
    let before = rss_kib(me);
    let ids: Vec<WindowId> = runtime.block_on(async {
        let mut ids = Vec::new();
        for n in 0..WINDOWS {
            let rect = Rect::new(n as u16, n as u16, 82, 26);
            ids.push(open_shell(&daemon, rect).await);
        }
        ids
    });
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(me);
    let (shells, shells_rss) = children_rss_kib(me);
    println!(
        "- ChoirOS, {WINDOWS} shell windows (80x24): daemon RSS +{:.2} MiB per window; the shells {:.2} MiB each ({shells} processes)",
        (after.saturating_sub(before)) as f64 / 1024.0 / WINDOWS as f64,
        shells_rss as f64 / 1024.0 / shells.max(1) as f64
    );
    {
        tmux(
            &socket,
            &[
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "mem",
                "-x",
                "80",
                "-y",
                "24",
                SHELL,
            ],
        );
        let server = tmux_server_pid(&socket);
        std::thread::sleep(Duration::from_millis(300));
        let base = rss_kib(server);
        for _ in 1..WINDOWS {
            tmux(&socket, &["new-window", "-t", "mem", SHELL]);
        }
        std::thread::sleep(Duration::from_millis(500));
        let grown = rss_kib(server);
        let (shells, shells_rss) = children_rss_kib(server);
        println!(
            "- tmux, {WINDOWS} windows (80x24): server RSS +{:.2} MiB per window; the shells {:.2} MiB each ({shells} processes)",
            (grown.saturating_sub(base)) as f64 / 1024.0 / (WINDOWS - 1) as f64,
            shells_rss as f64 / 1024.0 / shells.max(1) as f64
        );
        tmux(&socket, &["kill-server"]);
    }
    runtime.block_on(async {
        for id in ids {
            execute(&daemon, Command::CloseWindow { window_id: id }).await;
        }
    });

    // A flood: 100 MB through one shell window.
    runtime.block_on(async {
        let id = open_shell(&daemon, Rect::new(0, 0, 82, 26)).await;
        let head = daemon.store.head();
        // The log file and its write-ahead log.
        let db_size = || {
            ["events.db", "events.db-wal"]
                .iter()
                .filter_map(|name| std::fs::metadata(dir.path().join(name)).ok())
                .map(|meta| meta.len())
                .sum::<u64>()
        };
        let db_before = db_size();
        let started = Instant::now();
        execute(
            &daemon,
            Command::ShellInput {
                window_id: id,
                data: "yes flood | head -c 100000000; echo flood-$((40+2))\r".into(),
            },
        )
        .await;
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let done = daemon
                .world()
                .query(move |world| world.shells[&id].terminal.text().contains("flood-42"))
                .await
                .unwrap();
            if done {
                break;
            }
            assert!(Instant::now() < deadline, "the flood did not end");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let events = daemon.store.read(head + 1, 1_000_000).await.unwrap();
        let shell_events: Vec<_> = events
            .iter()
            .filter(|event| matches!(event.body, EventBody::ShellOutput { .. } | EventBody::ShellScreen { .. }))
            .collect();
        let payload: usize = shell_events
            .iter()
            .map(|event| event.body.data_json().unwrap().len())
            .sum();
        let db_after = db_size();
        println!(
            "- flood: 100 MB of `yes` in {seconds:.1} s ({:.0} MB/s through the shell); log +{} events, {:.0} KiB of payload = {:.1} KiB/s; events.db and its WAL +{:.0} KiB",
            100.0 / seconds,
            shell_events.len(),
            payload as f64 / 1024.0,
            payload as f64 / 1024.0 / seconds,
            db_after.saturating_sub(db_before) as f64 / 1024.0,
        );
    });
    runtime.block_on(daemon.shutdown());
}
