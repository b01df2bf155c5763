//! The supervisor with real processes: a killed sandbox comes back on next use with nothing
//! acknowledged lost, a crash loop is marked failed and the user is told why, an idle sandbox
//! stops (but not under a connected desktop), SIGTERM stops everything, `sandbox stop` and
//! `restart` work, accounts survive a restart, and without root a second user needs the flag
//! that names the risk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::num::NonZeroU16;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{bash, exec, needs_root, program, Client, Hypervisor, WAIT};
use russh::client;
use russh::ChannelMsg;

fn kill9(pid: u64) {
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
}

/// Waits until process `pid` has ended (gone, or a zombie waiting for its parent).
fn wait_until_dead(pid: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} lives on");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A desktop over a pty, read until `needle` shows (or panics after `within`).
struct Desktop {
    channel: russh::Channel<client::Msg>,
    screen: vt100::Parser,
}

impl Desktop {
    async fn open(session: &client::Handle<Client>) -> Self {
        let channel = session.channel_open_session().await.unwrap();
        channel
            .request_pty(true, "xterm", 80, 24, 0, 0, &[])
            .await
            .unwrap();
        channel.request_shell(true).await.unwrap();
        let screen = vt100::Parser::new(
            NonZeroU16::new(24).unwrap(),
            NonZeroU16::new(80).unwrap(),
            0,
        );
        Self { channel, screen }
    }

    /// Ends the session the way a terminal does when it is closed.
    async fn close(self) {
        let _ = self.channel.eof().await;
        let _ = self.channel.close().await;
    }

    async fn wait_for(&mut self, needle: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !self.screen.screen().contents().contains(needle) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.channel.wait()).await {
                // What a terminal shows: stdout and stderr alike.
                Ok(Some(ChannelMsg::Data { data } | ChannelMsg::ExtendedData { data, .. })) => {
                    self.screen.process(&data)
                }
                Ok(Some(_)) => {}
                _ => panic!(
                    "never showed {needle:?}:\n{}",
                    self.screen.screen().contents()
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_sandbox_comes_back_on_next_use_with_nothing_acknowledged_lost() {
    let hv = Hypervisor::start(&["alice"], &[]);
    let alice = hv.connect("alice").await;
    let mut desktop = Desktop::open(&alice).await;
    desktop.wait_for("● live", WAIT).await;
    for i in 0..10 {
        let (output, code) = bash(&alice, &format!("echo acknowledged {i}")).await;
        assert_eq!((output, code), (format!("acknowledged {i}\n"), 0));
    }
    let before = exec(&alice, "choir events").await.out;
    let acknowledged: Vec<&str> = before.lines().collect();
    assert!(acknowledged.len() >= 20, "{before}");

    let pid = hv.sandbox("alice")["pid"].as_u64().unwrap();
    kill9(pid);
    wait_until_dead(pid);
    // The desktop (drawn by the sandbox) lost its stream: the hypervisor says so where the
    // taskbar was, and tries again.
    desktop.wait_for("reconnecting to your sandbox", WAIT).await;
    assert!(!desktop.screen.screen().contents().contains("● live"));

    // The next exec finds it gone and starts it again.
    let after = exec(&alice, "choir events").await;
    assert_eq!(after.status, Some(0), "{after:?}");
    let lines: Vec<&str> = after.out.lines().collect();
    assert_eq!(
        &lines[..acknowledged.len()],
        &acknowledged[..],
        "every acknowledged event is there"
    );
    let sandbox = hv.sandbox("alice");
    assert_eq!(sandbox["state"], "running");
    assert_ne!(sandbox["pid"].as_u64(), Some(pid));
    assert_eq!(sandbox["note"], "crashed: killed by SIGKILL");
    // The desktop that was connected found the new daemon on its own.
    desktop.wait_for("● live", WAIT).await;
    let (output, code) = bash(&alice, "echo after the crash").await;
    assert_eq!((output.as_str(), code), ("after the crash\n", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sandbox_that_keeps_failing_is_marked_failed_and_the_user_is_told_why() {
    let hv = Hypervisor::start(
        &["alice"],
        &["--crash-loop", "3", "--restart-backoff", "50ms"],
    );
    // A log that is not a ChoirOS database: the daemon refuses it at every start.
    let dir = hv.sandbox_dir("alice");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("events.db"), "certainly not sqlite").unwrap();
    let alice = hv.connect("alice").await;
    for attempt in 1..=2 {
        let run = exec(&alice, "choir status").await;
        assert_eq!(run.status, Some(1), "attempt {attempt}: {run:?}");
        assert!(run.err.contains("could not start"), "{}", run.err);
        assert!(run.err.contains("last lines of its log"), "{}", run.err);
        assert!(
            run.err.contains("events.db"),
            "the log says what is wrong: {}",
            run.err
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let run = exec(&alice, "choir status").await;
    assert_eq!(run.status, Some(1));
    assert!(
        run.err.contains("failed to start 3 times in a row"),
        "{}",
        run.err
    );
    assert!(
        run.err.contains("choir-hypervisor sandbox restart alice"),
        "{}",
        run.err
    );
    // Failed stays failed, at once, and says so on the desktop too.
    let started = Instant::now();
    let run = exec(&alice, "choir status").await;
    assert!(run.err.contains("failed to start 3 times"), "{}", run.err);
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut desktop = Desktop::open(&alice).await;
    desktop.wait_for("failed to start", WAIT).await;
    let sandbox = hv.sandbox("alice");
    assert_eq!(sandbox["state"], "failed");
    assert!(
        sandbox["note"].as_str().unwrap().starts_with("failed:"),
        "{sandbox}"
    );
    // The bad file was reported, never replaced.
    assert_eq!(
        std::fs::read_to_string(dir.join("events.db")).unwrap(),
        "certainly not sqlite"
    );

    // Fixed by the administrator, restarted, working.
    std::fs::remove_file(dir.join("events.db")).unwrap();
    let restart = hv.run(&["sandbox", "restart", "alice"]);
    assert!(restart.status.success(), "{restart:?}");
    let (output, code) = bash(&alice, "echo back").await;
    assert_eq!((output.as_str(), code), ("back\n", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_sandbox_stops_but_not_under_a_connected_desktop() {
    let hv = Hypervisor::start(&["alice"], &["--idle-timeout", "1s"]);
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;
    let sandbox = hv.wait_for_state("alice", "stopped", WAIT);
    assert_eq!(sandbox["note"], "stopped when idle");
    assert!(hv.daemons().is_empty(), "{:?}", hv.daemons());

    // A desktop keeps it running...
    let mut desktop = Desktop::open(&alice).await;
    desktop.wait_for("● live", WAIT).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(hv.sandbox("alice")["state"], "running");
    assert_eq!(hv.sandbox("alice")["clients"], 1);
    // ...and so does a long tool call, with no client at all.
    desktop.close().await;
    let (output, code) = bash(&alice, "sleep 3; echo slept").await;
    assert_eq!((output.as_str(), code), ("slept\n", 0));
    // When both are gone, it stops again, and comes back on next use.
    hv.wait_for_state("alice", "stopped", WAIT);
    assert!(hv.daemons().is_empty());
    let (output, code) = bash(&alice, "echo again").await;
    assert_eq!((output.as_str(), code), ("again\n", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_stops_every_sandbox_and_what_runs_in_them_then_the_hypervisor() {
    let mut hv = Hypervisor::start(&["alice", "bob"], &[]);
    let alice = hv.connect("alice").await;
    let bob = hv.connect("bob").await;
    let _desktop = Desktop::open(&bob).await;
    // A process that left its session and group: it must not outlive the sandbox.
    let (output, code) = bash(
        &alice,
        "setsid sleep 300 >/dev/null 2>&1 < /dev/null & echo started",
    )
    .await;
    assert_eq!((output.as_str(), code), ("started\n", 0));
    bash(&bob, "true").await;
    assert_eq!(hv.daemons().len(), 2);

    let status = hv.terminate(WAIT);
    assert!(status.success(), "{status:?}\n{}", hv.output());
    assert!(hv.daemons().is_empty(), "daemons left: {:?}", hv.daemons());
    if common::root() {
        let left = hv.sandbox_processes();
        assert!(left.is_empty(), "left running: {left:?}");
    }
    assert!(!hv.state_dir().join("control.sock").exists());
    assert!(
        hv.output().contains("stopping every sandbox"),
        "{}",
        hv.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sandboxes_are_listed_stopped_and_restarted_from_the_command_line() {
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;
    let list = hv.run(&["sandbox", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    assert!(text.contains("USER") && text.contains("CLIENTS"), "{text}");
    let alice_row = text.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(alice_row.contains("running"), "{text}");
    let bob_row = text.lines().find(|l| l.starts_with("bob")).unwrap();
    assert!(bob_row.contains("stopped"), "{text}");
    let running = hv.sandbox("alice");
    assert!(running["memory_bytes"].as_u64().unwrap() > 0, "{running}");
    assert!(running["uptime_secs"].is_u64());

    let stop = hv.run(&["sandbox", "stop", "alice"]);
    assert!(stop.status.success());
    assert_eq!(
        String::from_utf8_lossy(&stop.stdout).trim(),
        "alice: stopped"
    );
    assert_eq!(hv.sandbox("alice")["state"], "stopped");
    assert!(hv.daemons().is_empty());
    let again = hv.run(&["sandbox", "stop", "alice"]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "alice: was not running"
    );

    let restart = hv.run(&["sandbox", "restart", "alice"]);
    assert!(restart.status.success(), "{restart:?}");
    let restarted = hv.sandbox("alice");
    assert_eq!(restarted["state"], "running");
    assert_ne!(restarted["pid"], running["pid"]);
    let restart = hv.run(&["sandbox", "restart", "alice"]);
    assert!(restart.status.success());
    assert_ne!(hv.sandbox("alice")["pid"], restarted["pid"]);

    let nobody = hv.run(&["sandbox", "restart", "mallory"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user named `mallory`"));
    let unknown = hv.run(&["sandbox", "frobnicate"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn without_a_hypervisor_the_sandbox_commands_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(program("choir-hypervisor"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["sandbox", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is `choir-hypervisor serve` running"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_data_and_modes_survive_a_restart_of_the_hypervisor() {
    if needs_root("accounts_data_and_modes_survive_a_restart_of_the_hypervisor") {
        return;
    }
    let mut hv = Hypervisor::start(&["alice", "bob"], &[]);
    let (alice, bob) = (hv.connect("alice").await, hv.connect("bob").await);
    bash(&bob, "echo kept > notes.txt").await;
    bash(&alice, "true").await;
    let uids = (
        hv.sandbox("alice")["uid"].clone(),
        hv.sandbox("bob")["uid"].clone(),
    );

    hv.restart();
    assert_eq!(
        (
            hv.sandbox("alice")["uid"].clone(),
            hv.sandbox("bob")["uid"].clone()
        ),
        uids
    );
    let bob = hv.connect("bob").await;
    let (output, _) = bash(&bob, "cat notes.txt").await;
    assert_eq!(output, "kept\n");
    let dir = hv.sandbox_dir("bob");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().uid() as u64,
        uids.1.as_u64().unwrap()
    );
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(
        std::fs::metadata(dir.join("workspace/notes.txt"))
            .unwrap()
            .mode()
            & 0o077,
        0
    );
}

#[test]
fn without_root_a_second_user_needs_the_flag_that_names_the_risk() {
    if needs_root("without_root_a_second_user_needs_the_flag_that_names_the_risk") {
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The programs where nobody can reach them (the build may sit under a closed home).
    for name in ["choir-hypervisor", "choir-daemon", "choir"] {
        let to = dir.path().join(name);
        if std::fs::hard_link(program(name), &to).is_err() {
            std::fs::copy(program(name), &to).unwrap();
        }
    }
    let hypervisor = dir.path().join("choir-hypervisor");
    let data = dir.path().join("data");
    for name in ["alice", "bob"] {
        let key =
            russh::keys::PrivateKey::random(&mut rand::rng(), russh::keys::Algorithm::Ed25519)
                .unwrap();
        let file = dir.path().join(format!("{name}.pub"));
        std::fs::write(&file, key.public_key().to_openssh().unwrap()).unwrap();
        let out = std::process::Command::new(&hypervisor)
            .arg("--data-dir")
            .arg(&data)
            .args(["user", "add", name, "--ssh-key"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    chown_tree(&data, NOBODY);
    let serve = |extra: &[&str]| {
        std::process::Command::new(&hypervisor)
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--ssh-listen", "127.0.0.1:0"])
            .args(extra)
            .uid(NOBODY)
            .gid(NOBODY)
            .env_remove("CHOIR_HYPERVISOR_DIR")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = serve(&[]).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--unsafe-shared-uid"), "{err}");
    assert!(err.contains("reach each other's data"), "{err}");

    let mut accepted = serve(&["--unsafe-shared-uid"]);
    let mut first = String::new();
    let stdout = accepted.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut first).unwrap();
    assert!(first.starts_with("ChoirOS hypervisor: SSH on"), "{first}");
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(accepted.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let out = accepted.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("WARNING: not root"), "said loudly: {err}");
}

fn chown_tree(path: &std::path::Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_server_on_the_same_data_dir_is_refused_and_harms_nothing() {
    let hv = Hypervisor::start(&["alice"], &[]);
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;
    let pid = hv.sandbox("alice")["pid"].clone();
    let second = hv.run(&["serve", "--ssh-listen", "127.0.0.1:0"]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("another choir-hypervisor is serving"), "{err}");
    assert_eq!(
        hv.sandbox("alice")["pid"],
        pid,
        "the running sandbox was left alone"
    );
    let (output, code) = bash(&alice, "echo still served").await;
    assert_eq!((output.as_str(), code), ("still served\n", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_user_is_disconnected_and_their_sandbox_stopped() {
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let bob = hv.connect("bob").await;
    let mut desktop = Desktop::open(&bob).await;
    desktop.wait_for("● live", WAIT).await;
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;

    let removed = hv.run(&["user", "remove", "bob"]);
    assert!(removed.status.success(), "{removed:?}");
    assert_eq!(
        String::from_utf8_lossy(&removed.stdout).trim(),
        "bob: removed"
    );
    // Bob's session ends, his sandbox stops, and he cannot come back.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bob.is_closed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob is still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hv.wait_for_state("bob", "stopped", WAIT);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !hv.daemons()
            .iter()
            .any(|(_, _, cmdline)| cmdline.contains("sandboxes/bob")),
        "nothing brought bob's sandbox back: {:?}",
        hv.daemons()
    );
    assert!(common::connect(hv.addr, "bob", hv.key("bob"))
        .await
        .is_none());
    // Alice is not affected.
    let (output, code) = bash(&alice, "echo unaffected").await;
    assert_eq!((output.as_str(), code), ("unaffected\n", 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_server_in_place_of_a_daemon_costs_the_hypervisor_nothing() {
    let hv = Hypervisor::start(&["alice", "bob"], &["--idle-timeout", "2s"]);
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;
    // Alice takes her daemon's socket over with a server that answers every request with an
    // endless body; her daemon keeps running on the unlinked socket.
    let server = r#"setsid perl -MIO::Socket::UNIX -e 'unlink "../daemon.sock"; my $s = IO::Socket::UNIX->new(Local => "../daemon.sock", Listen => 50) or die "$!"; $SIG{CHLD} = "IGNORE"; while (my $c = $s->accept) { next if fork; print $c "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"; my $chunk = sprintf("%x\r\n%s\r\n", 65536, "a" x 65536); while (print $c $chunk) {} exit }' >/dev/null 2>&1 </dev/null & sleep 0.5; echo listening"#;
    let (output, code) = bash(&alice, server).await;
    assert_eq!((output.as_str(), code), ("listening\n", 0));
    // A desktop of hers, and the idle checks, now talk to that server.
    let mut desktop = Desktop::open(&alice).await;
    let rss = || {
        std::fs::read_to_string(format!("/proc/{}/status", hv.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
    };
    let before = rss();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while tokio::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(200), desktop.channel.wait()).await;
        assert!(
            rss() < before + 100 * 1024,
            "the hypervisor grew from {before} to {} KiB",
            rss()
        );
    }
    assert!(!desktop.screen.screen().contents().contains("● live"));
    let bob = hv.connect("bob").await;
    let (output, code) = bash(&bob, "echo bob is fine").await;
    assert_eq!((output.as_str(), code), ("bob is fine\n", 0));
    // A sandbox that cannot say it is busy is stopped after the idle timeout, and what ran in
    // it with it.
    hv.wait_for_state("alice", "stopped", WAIT);
    if common::root() {
        let uid = hv.sandbox("alice")["uid"].as_u64().unwrap() as u32;
        let left: Vec<_> = hv
            .sandbox_processes()
            .into_iter()
            .filter(|(_, u, _)| *u == uid)
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
