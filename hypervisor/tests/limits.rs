//! A fork bomb and memory hogs in Alice's sandbox hit her limits, and Bob's sandbox and the
//! hypervisor keep answering meanwhile. (Needs root, as CI runs: elsewhere it says so.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{bash, needs_root, Hypervisor};

/// Bob runs a command and the hypervisor lists its sandboxes, each within a few seconds.
async fn others_still_answer(hv: &Hypervisor, bob: &russh::client::Handle<common::Client>) {
    let started = Instant::now();
    let (output, code) = bash(bob, "echo bob is fine").await;
    assert_eq!((output.as_str(), code), ("bob is fine\n", 0));
    assert!(hv.run(&["sandbox", "list"]).status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "Bob waited {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fork_bomb_and_memory_hogs_stay_inside_their_sandbox() {
    if needs_root("a_fork_bomb_and_memory_hogs_stay_inside_their_sandbox") {
        return;
    }
    let hv = Hypervisor::start(
        &["alice", "bob"],
        &["--limit-procs", "64", "--limit-memory", "256M"],
    );
    let bob = hv.connect("bob").await;
    let alice = hv.connect("alice").await;
    bash(&alice, "true").await;
    let alice_uid = hv.sandbox("alice")["uid"].as_u64().unwrap() as u32;

    // A bounded fork bomb: 300 sleeping children wanted, far more than the 64 allowed, each
    // in a process group of its own so that the bash tool does not end them.
    let bomb = r#"perl -e 'my $n = 0; for (1..300) { my $pid = fork(); if (!defined $pid) { print "refused after $n: $!\n"; last } if ($pid == 0) { setpgrp(0, 0); close STDOUT; close STDERR; sleep 60; exit 0 } $n++ } print "forked $n\n"'"#;
    let (output, _) = bash(&alice, bomb).await;
    assert!(output.contains("refused after"), "{output}");
    let forked: usize = output
        .lines()
        .find_map(|line| line.strip_prefix("forked "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(forked < 64, "{forked} children");
    let alices = hv
        .sandbox_processes()
        .into_iter()
        .filter(|(_, uid, _)| *uid == alice_uid)
        .count();
    assert!(
        (forked..=64).contains(&alices),
        "{alices} processes run as alice"
    );
    others_still_answer(&hv, &bob).await;

    // Her sandbox stopped: every one of those processes is gone.
    let stop = hv.run(&["sandbox", "stop", "alice"]);
    assert!(stop.status.success(), "{stop:?}");
    let left: Vec<_> = hv
        .sandbox_processes()
        .into_iter()
        .filter(|(_, uid, _)| *uid == alice_uid)
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");

    // One process asking for more than the memory limit is refused...
    let (output, code) = bash(
        &alice,
        r#"perl -e '$x = "a" x ($ARGV[0] * 1048576); print "got it\n"' 1024"#,
    )
    .await;
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("Out of memory"), "{output}");
    others_still_answer(&hv, &bob).await;

    // ...and so are several that each stay under it but together go over (the sandbox's
    // memory cgroup), where the host has cgroups.
    let isolation = hv.run(&["sandbox", "list"]);
    if String::from_utf8_lossy(&isolation.stdout).contains("cgroup") {
        let hogs = r#"for i in 1 2 3 4; do perl -e '$x = "a" x ($ARGV[0] * 1048576); sleep 3; print "survived\n"' 100 & done; wait"#;
        let (output, _) = bash(&alice, hogs).await;
        assert!(
            output.lines().filter(|line| *line == "survived").count() < 4,
            "four 100 MiB processes fit in 256 MiB:\n{output}"
        );
        others_still_answer(&hv, &bob).await;
    } else {
        eprintln!("no cgroups here: the sandbox-wide memory bound is not tested");
    }
    // Alice's own sandbox survived all of it.
    let (output, code) = bash(&alice, "echo still here").await;
    assert_eq!((output.as_str(), code), ("still here\n", 0));
}
