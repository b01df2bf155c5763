//! Alice attacks Bob, the hypervisor and the host from inside her sandbox, the way a hostile
//! user would: shell commands through the bash tool over SSH, the file tools through
//! `choir --exec`, flags that would point `choir` elsewhere, Bob's socket, Bob's processes,
//! and a symbolic link meant to turn the hypervisor's own connection towards Bob. Each road
//! must be refused, and Bob's data must be intact afterwards.
//!
//! The sandboxes get uids of their own only when the hypervisor runs as root, as CI does;
//! elsewhere these tests say so and do nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use common::{bash, exec, needs_root, Hypervisor};
use russh::ChannelMsg;

/// Bob's sandbox with a secret in it; returns the secret.
async fn bob_with_a_secret(hv: &Hypervisor) -> String {
    let bob = hv.connect("bob").await;
    let secret = format!("bob-secret-{}", rand::random::<u64>());
    let (_, code) = bash(&bob, &format!("echo {secret} > secret.txt")).await;
    assert_eq!(code, 0);
    secret
}

fn events_of(out: &str) -> usize {
    out.lines().filter(|line| line.starts_with('{')).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alice_cannot_reach_bob_or_the_hypervisor_by_any_road() {
    if needs_root("alice_cannot_reach_bob_or_the_hypervisor_by_any_road") {
        return;
    }
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    let secret = bob_with_a_secret(&hv).await;
    let bob_dir = hv.sandbox_dir("bob");
    let bob_pid = hv.sandbox("bob")["pid"].as_u64().unwrap();
    let bob_token: String = {
        let text = std::fs::read_to_string(bob_dir.join("daemon.json")).unwrap();
        let endpoint: serde_json::Value = serde_json::from_str(&text).unwrap();
        endpoint["token"].as_str().unwrap().to_owned()
    };
    let bob = hv.connect("bob").await;
    let bob_events_before = events_of(&exec(&bob, "choir events").await.out);
    // A file any user of the host may read: only Landlock keeps the sandbox from it.
    let public = hv.dir.path().join("public.txt");
    std::fs::write(&public, "readable by everyone").unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();

    let alice = hv.connect("alice").await;
    let b = bob_dir.display();
    let state = hv.state_dir();
    let s = state.display();
    let root = hv.dir.path().display();
    let attacks = [
        ("read Bob's workspace", format!("cat {b}/workspace/secret.txt")),
        ("read through a relative path", "cat ../../bob/workspace/secret.txt".to_owned()),
        ("read Bob's token", format!("cat {b}/daemon.json")),
        ("read Bob's event log", format!("head -c 4096 {b}/events.db")),
        ("read Bob's write-ahead log", format!("cat {b}/events.db-wal")),
        ("list Bob's data dir", format!("ls {b}")),
        ("read Bob's daemon's environment", format!("cat /proc/{bob_pid}/environ")),
        ("follow a link into Bob's dir", format!("ln -sf {b}/workspace/secret.txt mine && cat mine")),
        ("write into Bob's workspace", format!("echo pwned > {b}/workspace/pwned")),
        ("delete Bob's log", format!("rm {b}/events.db")),
        ("move Bob's file away", format!("mv {b}/workspace/secret.txt /tmp/stolen")),
        ("read the host key", format!("cat {s}/ssh_host_ed25519_key")),
        ("read the users database", format!("cat {s}/users.db")),
        ("list the hypervisor's state", format!("ls {s}")),
        ("list every sandbox", format!("ls {root}/sandboxes")),
        ("read the hypervisor's logs", format!("cat {s}/logs/bob.log")),
        ("reach the control socket", format!("perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => q({s}/control.sock)) or die qq(refused: $!\\n)'")),
        ("connect to Bob's daemon", format!("perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Peer => q({b}/daemon.sock)) or die qq(refused: $!\\n)'")),
        ("signal Bob's daemon", format!("kill -TERM {bob_pid}")),
        ("kill Bob's daemon", format!("kill -KILL {bob_pid}")),
        ("write to the shared /tmp", "echo x > /tmp/alice-was-here".to_owned()),
        ("read a world-readable file outside the sandbox", format!("cat {}", public.display())),
    ];
    for (what, script) in &attacks {
        let (output, code) = bash(&alice, script).await;
        assert_ne!(code, 0, "{what}: `{script}` succeeded:\n{output}");
        for leak in [
            secret.as_str(),
            bob_token.as_str(),
            "readable by everyone",
            "OPENSSH PRIVATE KEY",
            "SQLite format",
        ] {
            assert!(
                !output.contains(leak),
                "{what}: `{script}` leaked {leak:?}:\n{output}"
            );
        }
    }

    // The file tools and `choir` itself, by every path that leads out.
    let tries = [
        "choir --exec read_file --arg path=../../bob/workspace/secret.txt".to_owned(),
        format!("choir --exec read_file --arg path={b}/workspace/secret.txt"),
        "choir --exec write_file --arg path=../../bob/workspace/pwned --arg content=x".to_owned(),
        "choir --exec list_files --arg path=../../bob".to_owned(),
        format!("choir --url unix:{b}/daemon.sock --token {bob_token} status"),
        format!("choir --data-dir={b} events"),
        format!("choir --connect unix:{b}/daemon.sock"),
        "sh -c 'cat /etc/shadow'".to_owned(),
    ];
    for command in &tries {
        let run = exec(&alice, command).await;
        assert_ne!(run.status, Some(0), "`{command}` succeeded: {run:?}");
        assert!(
            !run.out.contains(&secret) && !run.err.contains(&secret),
            "`{command}` leaked: {run:?}"
        );
    }

    // Bob's sandbox is as it was: same daemon, same file, same log, nothing new.
    let after = hv.sandbox("bob");
    assert_eq!(
        after["pid"].as_u64(),
        Some(bob_pid),
        "Bob's daemon was not touched"
    );
    assert_eq!(
        std::fs::read_to_string(bob_dir.join("workspace/secret.txt"))
            .unwrap()
            .trim(),
        secret
    );
    assert!(!bob_dir.join("workspace/pwned").exists());
    assert!(bob_dir.join("events.db").exists());
    assert!(!std::path::Path::new("/tmp/alice-was-here").exists());
    assert_eq!(
        events_of(&exec(&bob, "choir events").await.out),
        bob_events_before
    );

    // And what made it so: each sandbox its own uid, private data dirs and files, root-only
    // state.
    let (alice_uid, bob_uid) = (
        hv.sandbox("alice")["uid"].as_u64().unwrap() as u32,
        after["uid"].as_u64().unwrap() as u32,
    );
    assert_ne!(alice_uid, bob_uid);
    assert!(hv.uids.contains(&alice_uid) && hv.uids.contains(&bob_uid));
    for (dir, uid) in [
        (hv.sandbox_dir("alice"), alice_uid),
        (bob_dir.clone(), bob_uid),
    ] {
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o777),
            (uid, 0o700),
            "{}",
            dir.display()
        );
        for file in ["events.db", "events.db-wal", "daemon.json", "daemon.sock"] {
            let meta = std::fs::metadata(dir.join(file)).unwrap();
            assert_eq!(
                (meta.uid(), meta.mode() & 0o077),
                (uid, 0),
                "{file} is private"
            );
        }
    }
    let meta = std::fs::metadata(&state).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o700));
    for file in ["ssh_host_ed25519_key", "users.db", "control.sock"] {
        let meta = std::fs::metadata(state.join(file)).unwrap();
        assert_eq!(
            (meta.uid(), meta.mode() & 0o077),
            (0, 0),
            "{file} is root's alone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_sandbox_runs_as() {
    if needs_root("what_a_sandbox_runs_as") {
        return;
    }
    let hv = Hypervisor::start(&["alice"], &[]);
    let alice = hv.connect("alice").await;
    let (status, _) = bash(
        &alice,
        "grep -E '^(Uid|Gid|Groups|NoNewPrivs):' /proc/self/status; env | sort",
    )
    .await;
    let uid = hv.sandbox("alice")["uid"].as_u64().unwrap();
    assert!(
        status.contains(&format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}")),
        "{status}"
    );
    assert!(
        status.contains(&format!("Gid:\t{uid}\t{uid}\t{uid}\t{uid}")),
        "{status}"
    );
    let groups = status
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap_or_default();
    assert_eq!(
        groups.trim(),
        "Groups:",
        "no supplementary groups: {status}"
    );
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    // A clean environment: nothing of the hypervisor's, no token.
    assert!(status.contains("USER=alice"), "{status}");
    assert!(
        status.contains(&format!("TMPDIR={}/tmp", hv.sandbox_dir("alice").display())),
        "{status}"
    );
    // Cargo's files for app builds are the sandbox's own; nothing else of cargo's is there.
    let own_cargo = format!(
        "CARGO_HOME={}/apps/cargo",
        hv.sandbox_dir("alice").display()
    );
    let env: Vec<&str> = status.lines().filter(|line| *line != own_cargo).collect();
    for leaked in ["CHOIR_DAEMON_TOKEN", "CARGO", "RUST", "SSH_", "SUDO"] {
        assert!(
            !env.iter().any(|line| line.contains(leaked)),
            "{leaked} reached the sandbox: {status}"
        );
    }
    // setuid programs cannot lift it back up.
    let (output, code) = bash(
        &alice,
        "su -c id root </dev/null 2>&1; mount -t tmpfs none tmp 2>&1",
    )
    .await;
    assert_ne!(code, 0, "{output}");
    assert!(!output.contains("uid=0"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socket_link_cannot_turn_the_hypervisor_towards_bob() {
    if needs_root("a_socket_link_cannot_turn_the_hypervisor_towards_bob") {
        return;
    }
    let hv = Hypervisor::start(&["alice", "bob"], &[]);
    bob_with_a_secret(&hv).await;
    let bob = hv.connect("bob").await;
    let bob_events = events_of(&exec(&bob, "choir events").await.out);

    // Alice swaps her daemon's socket for a link to Bob's: her daemon keeps listening on the
    // unlinked socket, and the hypervisor, which connects as root, would follow the link.
    let alice = hv.connect("alice").await;
    let bob_socket = hv.sandbox_dir("bob").join("daemon.sock");
    let (output, code) = bash(
        &alice,
        &format!(
            "ln -sf {} ../daemon.sock && ls -l ../daemon.sock",
            bob_socket.display()
        ),
    )
    .await;
    assert_eq!(code, 0, "{output}");

    // Her desktop over SSH must not come up on Bob's daemon.
    let mut channel = alice.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut screen = vt100::Parser::new(
        std::num::NonZeroU16::new(24).unwrap(),
        std::num::NonZeroU16::new(80).unwrap(),
        0,
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(ChannelMsg::Data { data })) =
            tokio::time::timeout(Duration::from_millis(200), channel.wait()).await
        {
            screen.process(&data);
        }
        // A keystroke that would open a window on whichever daemon it reached.
        let _ = channel.data_bytes(&b"\x01e"[..]).await;
    }
    let contents = screen.screen().contents();
    assert!(
        !contents.contains("● live"),
        "the desktop went live:\n{contents}"
    );
    assert_eq!(
        events_of(&exec(&bob, "choir events").await.out),
        bob_events,
        "nothing reached Bob's log"
    );
    assert_eq!(hv.sandbox("bob")["clients"].as_u64(), Some(0));
}
