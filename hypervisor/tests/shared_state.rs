//! Several hypervisors on one PostgreSQL database (`--database postgres://…`): what one
//! records — users, keys, passkeys, web sessions, invites, sandbox accounts, model use, the
//! SSH host key — the others see at once, and what both do at the same moment (preparing the
//! tables, giving out uids, spending an invite) comes out as if one had done it. A real
//! PostgreSQL server of the test's own (`common::postgres`), on a Unix socket only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};
use common::postgres::Postgres;
use hypervisor::db;
use hypervisor::gateway::Tokens;
use hypervisor::sandbox::{Accounts, IdPolicy};
use hypervisor::users::UserStore;
use hypervisor::web::invites::Invites;
use hypervisor::web::sessions::Sessions;
use russh::keys::{Algorithm, PrivateKey};

fn cookie(sessions: &Sessions, id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("{}={id}", sessions.cookie_name())).unwrap(),
    );
    headers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_one_hypervisor_records_another_sees_and_simultaneous_work_comes_out_whole() {
    let Some(pg) = Postgres::start("shared state") else {
        return;
    };
    let (a, b) = (
        db::connect(&pg.url()).await.unwrap(),
        db::connect(&pg.url()).await.unwrap(),
    );
    assert!(db::is_postgres(&a));
    // Two hypervisors starting at once both make the tables.
    let (users_a, users_b) = tokio::join!(UserStore::new(a.clone()), UserStore::new(b.clone()));
    let (users_a, users_b) = (users_a.unwrap(), users_b.unwrap());

    // Users and their SSH keys.
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    let text = key.public_key().to_openssh().unwrap();
    users_a.add("alice", &text).await.unwrap();
    users_a.add("alice", &text).await.unwrap();
    assert!(users_b.authorized("alice", key.public_key()).await.unwrap());
    assert_eq!(
        users_b.users_of_key(key.public_key()).await.unwrap(),
        ["alice"]
    );
    assert_eq!(
        users_a.handle("alice").await.unwrap(),
        users_b.handle("alice").await.unwrap()
    );
    assert!(users_b.handle("alice").await.unwrap().is_some());

    // A browser session made on one is honoured by the other, until the user goes.
    sqlx::query(
        "INSERT INTO passkeys (id, \"user\", label, created, credential) \
         VALUES ('pk1', 'alice', 'laptop', 0, '{}')",
    )
    .execute(&a)
    .await
    .unwrap();
    let day = Duration::from_secs(86_400);
    let sessions_a = Sessions::new(a.clone(), day, day, false);
    let sessions_b = Sessions::new(b.clone(), day, day, false);
    let id = sessions_a.create("alice", "pk1").await.unwrap();
    let seen = sessions_b
        .from_headers(&cookie(&sessions_b, &id))
        .await
        .unwrap()
        .expect("the other hypervisor honours the session");
    assert_eq!(seen.user, "alice");
    assert!(sessions_b
        .from_headers(&cookie(&sessions_b, "forged"))
        .await
        .unwrap()
        .is_none());

    // An invite is spent once, whichever hypervisor it is shown to.
    let invites_a = Invites::new(a.clone());
    let invites_b = Invites::new(b.clone());
    let token = invites_a.create("alice", day).await.unwrap();
    let (first, second) = tokio::join!(invites_a.consume(&token), invites_b.consume(&token));
    assert_eq!(
        [first.is_ok(), second.is_ok()]
            .iter()
            .filter(|ok| **ok)
            .count(),
        1,
        "{first:?} {second:?}"
    );

    // Sandbox accounts: one uid per user, never two users on one, from both at once.
    let range = 4_200_000_000..=4_200_000_999;
    let policy = || IdPolicy::PerUser {
        range: range.clone(),
    };
    let (accounts_a, accounts_b) = tokio::join!(
        Accounts::new(a.clone(), policy()),
        Accounts::new(b.clone(), policy())
    );
    let (accounts_a, accounts_b) = (accounts_a.unwrap(), accounts_b.unwrap());
    let (alice_a, alice_b) = tokio::join!(
        accounts_a.get_or_create("alice"),
        accounts_b.get_or_create("alice")
    );
    let (alice_a, alice_b) = (alice_a.unwrap(), alice_b.unwrap());
    assert_eq!(alice_a, alice_b, "one account, whoever asked first");
    let names: Vec<String> = (0..12).map(|n| format!("user{n}")).collect();
    let made = futures_util::future::join_all(names.iter().enumerate().map(|(n, name)| {
        let accounts = if n % 2 == 0 { &accounts_a } else { &accounts_b };
        accounts.get_or_create(name)
    }))
    .await;
    let uids: HashSet<u32> = made
        .iter()
        .map(|account| account.as_ref().unwrap().uid)
        .collect();
    assert_eq!(uids.len(), names.len(), "distinct uids: {made:?}");
    assert!(!uids.contains(&alice_a.uid));
    assert_eq!(accounts_b.all().await.unwrap().len(), names.len() + 1);

    // Model use through either gateway adds up in one day's figures.
    let limits = hypervisor::gateway::Limits::default();
    let (ledger_a, ledger_b) = tokio::join!(
        hypervisor::gateway::Ledger::open(a.clone(), limits),
        hypervisor::gateway::Ledger::open(b.clone(), limits)
    );
    let (ledger_a, ledger_b) = (
        std::sync::Arc::new(ledger_a.unwrap()),
        std::sync::Arc::new(ledger_b.unwrap()),
    );
    for ledger in [&ledger_a, &ledger_b, &ledger_a] {
        let admitted = ledger.admit("bob").await.unwrap();
        assert!(admitted.is_ok(), "{:?}", admitted.err());
    }
    ledger_b
        .record(
            "bob",
            Tokens {
                input: 100,
                output: 20,
            },
        )
        .await
        .unwrap();
    ledger_a
        .record(
            "bob",
            Tokens {
                input: 1,
                output: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        hypervisor::gateway::today_of(&b).await.get("bob"),
        Some(&(3, 123))
    );

    // The SSH host key: the first to start makes it, every other serves with it.
    let none = std::path::Path::new("/nonexistent/ssh_host_ed25519_key");
    let (key_a, key_b) = tokio::join!(
        hypervisor::hostkey::shared(&a, none),
        hypervisor::hostkey::shared(&b, none)
    );
    let (key_a, key_b) = (key_a.unwrap(), key_b.unwrap());
    assert_eq!(key_a.public_key(), key_b.public_key());

    // Removed through one, the user is gone for the other, and so is their session.
    users_b.remove("alice").await.unwrap();
    assert!(!users_a.exists("alice").await.unwrap());
    assert!(sessions_a
        .from_headers(&cookie(&sessions_a, &id))
        .await
        .unwrap()
        .is_none());
}

/// The SSH host key the server at `addr` shows, as OpenSSH's `ssh-keyscan` reads it.
fn host_key(addr: std::net::SocketAddr) -> String {
    let out = std::process::Command::new("ssh-keyscan")
        .args(["-T", "10", "-t", "ed25519", "-p"])
        .arg(addr.port().to_string())
        .arg(addr.ip().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|line| line.contains("ssh-ed25519"))
        .unwrap_or_else(|| panic!("no host key from {addr}: {out:?}"));
    line.split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hypervisors_on_one_database_serve_the_same_users_with_one_host_key() {
    let Some(pg) = Postgres::start("two hypervisors") else {
        return;
    };
    let url = pg.url();
    let env = [("CHOIR_HYPERVISOR_DATABASE", url.as_str())];
    // Alice is registered through the first; the second has data dirs of its own.
    let first = common::Hypervisor::start_with_env(&["alice"], &[], &env);
    let second = common::Hypervisor::start_with_env(&[], &[], &env);
    let shown = host_key(first.addr);
    assert_eq!(host_key(second.addr), shown, "clients see one host");
    assert!(!first.state_dir().join("ssh_host_ed25519_key").exists());
    assert!(!first.state_dir().join("users.db").exists());
    // She logs in through the second and works in her sandbox there.
    let alice = common::connect(second.addr, "alice", first.key("alice"))
        .await
        .expect("alice logs in through the second");
    let (out, code) = common::bash(&alice, "echo through the second").await;
    assert_eq!((out.trim(), code), ("through the second", 0));
    // A stranger's key is refused by both.
    let stranger = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    for hv in [&first, &second] {
        assert!(common::connect(hv.addr, "alice", &stranger).await.is_none());
    }
    // `user list` through either names her.
    let listed = second.run(&["user", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("alice"),
        "{listed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_the_database_is_away_logins_are_refused_and_they_work_again_once_it_is_back() {
    let Some(mut pg) = Postgres::start("database away") else {
        return;
    };
    let url = pg.url();
    let env = [("CHOIR_HYPERVISOR_DATABASE", url.as_str())];
    let hv = common::Hypervisor::start_with_env(&["alice"], &[], &env);
    assert!(common::connect(hv.addr, "alice", hv.key("alice"))
        .await
        .is_some());
    pg.stop();
    // Refused (nothing can be checked), said in the log, and the hypervisor stays up.
    assert!(common::connect(hv.addr, "alice", hv.key("alice"))
        .await
        .is_none());
    assert!(
        hv.output().contains("cannot check a key"),
        "{}",
        hv.output()
    );
    assert!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(hv.pid() as i32), None).is_ok(),
        "the hypervisor is still running"
    );
    pg.run();
    let alice = common::connect(hv.addr, "alice", hv.key("alice"))
        .await
        .expect("alice logs in again once the database is back");
    let (out, code) = common::bash(&alice, "echo back").await;
    assert_eq!((out.trim(), code), ("back", 0));
}
