//! Users spread over two Docker engines (started by scripts/e2e-docker.sh): new users go to
//! the least-loaded engine and stay there; when one engine goes away, its users get a clear
//! error and the others keep working. Stops one of the engines, so it runs on its own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::docker::{containers, engine_pids, engines, start};
use common::{bash, exec};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_spread_over_two_engines_and_losing_one_spares_the_other() {
    let Some(engines) = engines("docker engines") else {
        return;
    };
    assert_eq!(engines.len(), 2, "two engines");
    let users = ["alice", "bob", "carol", "dave"];
    let hv = start(&users, &engines, &[]);
    for user in users {
        let ssh = hv.connect(user).await;
        assert_eq!(
            bash(&ssh, "echo hi").await,
            ("hi\n".to_owned(), 0),
            "{user}"
        );
    }
    let on_a = containers(&engines[0], &hv);
    let on_b = containers(&engines[1], &hv);
    assert_eq!((on_a.len(), on_b.len()), (2, 2), "{on_a:?} {on_b:?}");

    // Engine B goes away.
    let pid = nix::unistd::Pid::from_raw(engine_pids()[1]);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while nix::sys::signal::kill(pid, None).is_ok() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user_of = |name: &str| {
        users
            .iter()
            .find(|user| name.ends_with(&format!("-{user}")))
            .unwrap()
            .to_string()
    };
    for name in &on_b {
        let user = user_of(name);
        let ssh = hv.connect(&user).await;
        let run = exec(&ssh, "choir status").await;
        assert_ne!(run.status, Some(0), "{user}: {run:?}");
        assert!(
            run.err.contains("Docker engine") && run.err.contains("does not answer"),
            "{user}: {}",
            run.err
        );
    }
    for name in &on_a {
        let user = user_of(name);
        let ssh = hv.connect(&user).await;
        assert_eq!(
            bash(&ssh, "echo still").await,
            ("still\n".to_owned(), 0),
            "{user}"
        );
    }
}
