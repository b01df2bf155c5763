//! `ssh user@host choir --exec bash --arg cmd=true`, timed from the client's TCP connect to
//! the exit status, against a real `choir-hypervisor serve` (release build):
//!
//! - cold: the first exec of a user whose sandbox has never run (account, data dir, cgroups,
//!   confinement, daemon start, readiness, then the command);
//! - warm: the same command against a running sandbox.
//!
//! The baseline, in the same run and with the same client: OpenSSH's sshd running the same
//! `choir` command as root, unconfined: cold starts a `choir-daemon` on a fresh data dir first
//! (the same work without the sandbox), warm runs against a daemon already up. Run with
//! scripts/bench-ssh.sh, which starts the sshd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use russh::keys::PrivateKey;

const WAIT: Duration = Duration::from_secs(60);
const COLD_USERS: usize = 12;
const WARM_RUNS: usize = 60;

use support::{ms, percentile, ssh_exec, Server};

fn report(label: &str, mut ours: Vec<Duration>, mut base: Vec<Duration>) {
    let (o50, o90) = (percentile(&mut ours, 0.5), percentile(&mut ours, 0.9));
    if base.is_empty() {
        println!(
            "- {label}: choir-hypervisor p50 {:.1} ms, p90 {:.1} ms ({} runs)",
            ms(o50),
            ms(o90),
            ours.len()
        );
        return;
    }
    let (b50, b90) = (percentile(&mut base, 0.5), percentile(&mut base, 0.9));
    println!(
        "- {label}: choir-hypervisor p50 {:.1} ms, p90 {:.1} ms; sshd p50 {:.1} ms, p90 {:.1} ms; ratio p50 {:.2} ({} runs each)",
        ms(o50),
        ms(o90),
        ms(b50),
        ms(b90),
        o50.as_secs_f64() / b50.as_secs_f64(),
        ours.len()
    );
}

fn main() {
    let mut users: Vec<String> = (0..COLD_USERS).map(|i| format!("user{i:02}")).collect();
    users.push("warm".into());
    let server = Server::start(&users, &["--uid-range", "3900000000-3900000999"]);
    let (port, key, bins) = (server.port, server.key.clone(), server.bins.clone());
    users.pop();

    let sshd = std::env::var("BENCH_SSHD_PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .map(|port| {
            let key_file = std::env::var("BENCH_SSHD_KEY").expect("BENCH_SSHD_KEY");
            (
                port,
                PrivateKey::from_openssh(std::fs::read_to_string(key_file).unwrap()).unwrap(),
            )
        });
    let baseline_dirs = tempfile::tempdir().unwrap();
    let choir = bins.join("choir").display().to_string();
    let daemon = bins.join("choir-daemon").display().to_string();
    let exec = "choir --exec bash --arg cmd=true";

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "# SSH exec into a sandbox ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        // Cold, alternating between the two so that both see the same machine.
        let (mut cold, mut cold_base) = (Vec::new(), Vec::new());
        for (i, user) in users.iter().enumerate() {
            cold.push(ssh_exec(port, user, &key, exec).await);
            if let Some((sshd_port, sshd_key)) = &sshd {
                let data = baseline_dirs.path().join(format!("cold{i}"));
                let d = data.display();
                let script = format!(
                    "mkdir -p {d} && ({daemon} --data-dir {d} --listen unix:{d}/daemon.sock >/dev/null 2>&1 &) && \
                     until [ -f {d}/daemon.json ]; do sleep 0.002; done && \
                     {choir} --data-dir {d} --exec bash --arg cmd=true"
                );
                cold_base.push(ssh_exec(*sshd_port, "root", sshd_key, &script).await);
            }
        }
        report("cold start (first exec of a new user)", cold, cold_base);

        ssh_exec(port, "warm", &key, exec).await;
        let warm_dir = baseline_dirs.path().join("warm");
        let mut warm_daemon = None;
        if sshd.is_some() {
            std::fs::create_dir_all(&warm_dir).unwrap();
            warm_daemon = Some(
                Command::new(bins.join("choir-daemon"))
                    .arg("--data-dir")
                    .arg(&warm_dir)
                    .arg("--listen")
                    .arg(format!("unix:{}/daemon.sock", warm_dir.display()))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let deadline = Instant::now() + WAIT;
            while !warm_dir.join("daemon.json").exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let (mut warm, mut warm_base) = (Vec::new(), Vec::new());
        for _ in 0..WARM_RUNS {
            warm.push(ssh_exec(port, "warm", &key, exec).await);
            if let Some((sshd_port, sshd_key)) = &sshd {
                let script = format!("{choir} --data-dir {} --exec bash --arg cmd=true", warm_dir.display());
                warm_base.push(ssh_exec(*sshd_port, "root", sshd_key, &script).await);
            }
        }
        report("warm exec (sandbox running)", warm, warm_base);
        if sshd.is_none() {
            println!("(no sshd baseline: BENCH_SSHD_PORT is not set)");
        }
        if let Some(mut daemon) = warm_daemon {
            let _ = Command::new("kill").arg(daemon.id().to_string()).status();
            let _ = daemon.wait();
        }
    });
    // The cold baseline's daemons, started in the background through sshd.
    let _ = Command::new("pkill")
        .arg("-f")
        .arg(baseline_dirs.path().display().to_string())
        .status();
    drop(server);
}
