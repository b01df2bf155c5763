//! Mail against a real Dovecot (`scripts/mail-servers.sh`): `cargo bench -p choir-daemon
//! --bench mail`. A folder of 10,000 messages is opened (its newest 50 headers), scrolled (50
//! pages further back, one after the other) and searched (a word in 1 message of 100, and a
//! word in the headers of 1 in 50), p50 and p99 over 40 of each:
//!
//! - ChoirOS: the agent's `mail_search` through the daemon (`POST /api/tools/mail_search`, as
//!   `choir --exec` calls it): a login per call, headers read from MIME, the call recorded in
//!   the log.
//! - ChoirOS: a mail window (`mail.open_folder` through the world actor, as a client's command
//!   is, until the daemon committed the `mail.page_shown` it fetched): a login per request,
//!   the page recorded in the log.
//! - Baseline, same run: a plain IMAP client library (async-imap) in one logged-in session,
//!   the same IMAP commands (`EXAMINE`, `UID SEARCH`, `UID FETCH` of the 50 headers), the
//!   answers read but not parsed.
//!
//! `BENCH_MESSAGES=N` changes the folder's size (default 10,000); `CHOIR_MAIL_FTS=xapian` gives
//! Dovecot a full-text index (see `scripts/mail-servers.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_mail::{Account, Mailbox};
use choir_proto::{AppKind, Command, EventBody, WindowId};
use choir_test_support::MailServers;
use futures_util::TryStreamExt;
use serde_json::{json, Value};

const SAMPLES: usize = 40;
const PAGE: usize = 50;

fn messages() -> usize {
    std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The message numbered `n`: one in 100 says "needle" in its text, one in 50 has "quarterly"
/// in its subject.
fn message(n: usize) -> Vec<u8> {
    let subject = if n % 50 == 7 {
        format!("quarterly report {n}")
    } else {
        format!("message {n}")
    };
    let body = if n % 100 == 3 {
        "a haystack with a needle in it"
    } else {
        "just hay"
    };
    format!(
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: {subject}\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m{n}@example.test>\r\n\r\n{body} ({n})\r\n"
    )
    .into_bytes()
}

async fn tool(daemon: &RunningDaemon, args: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/tools/mail_search", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(args.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result: Value = response.json().await.unwrap();
    assert_eq!(result["ok"], true, "{result}");
    result
}

/// One logged-in session of the plain library.
type Plain = async_imap::Session<tokio::net::TcpStream>;

async fn plain_session(account: &Account) -> Plain {
    let tcp = tokio::net::TcpStream::connect((account.imap.host.as_str(), account.imap.port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    client
        .login(&account.user, &account.password)
        .await
        .map_err(|(err, _)| err)
        .unwrap()
}

/// The plain library doing what `mail_search` does on the server: the folder opened, the
/// search, the page's headers fetched. How many headers came back.
async fn plain(session: &mut Plain, criteria: &str, skip: usize) -> usize {
    session.examine("INBOX").await.unwrap();
    let mut uids: Vec<u32> = session
        .uid_search(criteria)
        .await
        .unwrap()
        .into_iter()
        .collect();
    uids.sort_unstable_by_key(|uid| std::cmp::Reverse(*uid));
    let set: Vec<String> = uids
        .iter()
        .skip(skip)
        .take(PAGE)
        .map(u32::to_string)
        .collect();
    if set.is_empty() {
        return 0;
    }
    let fetched: Vec<_> = session
        .uid_fetch(set.join(","), "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    fetched.len()
}

/// Asks mail window `window` for a page and waits for it: the headers it holds.
async fn window_page(
    daemon: &RunningDaemon,
    events: &mut choir_daemon::store::Subscription,
    window: WindowId,
    offset: usize,
    query: &str,
) -> usize {
    daemon
        .world()
        .execute(
            Command::OpenMailFolder {
                window_id: window,
                account: None,
                folder: "INBOX".into(),
                offset: offset as u32,
                query: query.to_owned(),
            },
            "bench".into(),
            None,
        )
        .await
        .unwrap();
    loop {
        let event = events.next().await.unwrap().unwrap();
        match &event.body {
            EventBody::MailPageShown {
                window_id, headers, ..
            } if *window_id == window => return headers.len(),
            EventBody::MailFailed { error, .. } => panic!("the window's page failed: {error}"),
            _ => {}
        }
    }
}

struct Row {
    what: &'static str,
    /// The agent's tool.
    choir: Vec<Duration>,
    /// A mail window.
    window: Vec<Duration>,
    plain: Vec<Duration>,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let count = messages();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(DaemonConfig::local(dir.path()))
        .await
        .unwrap();
    let servers = MailServers::start(dir.path());
    let settings: Value = [
        "CHOIR_IMAP_URL",
        "CHOIR_SMTP_URL",
        "CHOIR_MAIL_USER",
        "CHOIR_MAIL_PASSWORD",
        "CHOIR_MAIL_ADDRESS",
    ]
    .iter()
    .map(|name| ((*name).to_owned(), json!(servers.var(name))))
    .collect::<serde_json::Map<_, _>>()
    .into();
    let kept = reqwest::Client::new()
        .post(format!("{}/api/mail/accounts", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(settings.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 200);
    let account = Account::from_env(|name| settings[name].as_str().map(str::to_owned)).unwrap();

    let clock = Instant::now();
    let mut mailbox = Mailbox::open(&account).await.unwrap();
    for n in 0..count {
        mailbox.append("INBOX", &message(n), false).await.unwrap();
    }
    mailbox.close().await;
    eprintln!(
        "mail bench: {count} messages put in the INBOX in {:.1} s",
        clock.elapsed().as_secs_f64()
    );

    let mut session = plain_session(&account).await;
    let mut events = daemon.store.subscribe(daemon.store.head() + 1);
    daemon
        .world()
        .execute(
            Command::OpenWindow {
                app: AppKind::Mail,
                title: None,
                rect: None,
            },
            "bench".into(),
            None,
        )
        .await
        .unwrap();
    let window = WindowId(1);
    window_page(&daemon, &mut events, window, 0, "").await;
    // Warm both paths (Dovecot's index of the folder is made on the first look, and with
    // CHOIR_MAIL_FTS=xapian its full-text index catches up on the first search).
    tool(&daemon, &json!({ "limit": PAGE })).await;
    plain(&mut session, "ALL", 0).await;
    for word in ["needle", "quarterly"] {
        plain(&mut session, &format!("TEXT \"{word}\""), 0).await;
    }

    let mut rows = vec![
        Row {
            what: "open: the newest 50 headers",
            choir: Vec::new(),
            window: Vec::new(),
            plain: Vec::new(),
        },
        Row {
            what: "scroll: the next 50, page after page",
            choir: Vec::new(),
            window: Vec::new(),
            plain: Vec::new(),
        },
        Row {
            what: "search the text: \"needle\" (1 in 100)",
            choir: Vec::new(),
            window: Vec::new(),
            plain: Vec::new(),
        },
        Row {
            what: "search the subject: \"quarterly\" (1 in 50)",
            choir: Vec::new(),
            window: Vec::new(),
            plain: Vec::new(),
        },
    ];
    for sample in 0..SAMPLES {
        let cases: [(Value, &str, usize, &str); 4] = [
            (json!({ "limit": PAGE }), "ALL", 0, ""),
            (
                json!({ "limit": PAGE, "page": sample + 1 }),
                "ALL",
                (sample + 1) * PAGE,
                "",
            ),
            (
                json!({ "limit": PAGE, "query": "needle" }),
                "TEXT \"needle\"",
                0,
                "needle",
            ),
            (
                json!({ "limit": PAGE, "query": "quarterly" }),
                "TEXT \"quarterly\"",
                0,
                "quarterly",
            ),
        ];
        for (row, (args, criteria, skip, query)) in rows.iter_mut().zip(cases) {
            let started = Instant::now();
            let result = tool(&daemon, &args).await;
            row.choir.push(started.elapsed());
            let listed = result["output"].as_str().unwrap().lines().count() - 2;
            let started = Instant::now();
            let shown = window_page(&daemon, &mut events, window, skip, query).await;
            row.window.push(started.elapsed());
            assert_eq!(
                listed, shown,
                "{}: the tool and the window show the same",
                row.what
            );
            let started = Instant::now();
            let fetched = plain(&mut session, criteria, skip).await;
            row.plain.push(started.elapsed());
            assert_eq!(listed, fetched, "{}: both list the same", row.what);
        }
    }
    let _ = session.logout().await;

    println!("# Mail: a folder of {count} messages (Dovecot on loopback, 2 cores)");
    println!();
    println!("| operation | ChoirOS `mail_search` p50 / p99 (ms) | mail window p50 / p99 (ms) | plain IMAP library p50 / p99 (ms) | ratio p50 / p99 (tool; window) |");
    println!("| --- | --- | --- | --- | --- |");
    for row in &mut rows {
        let (c50, c99) = (
            percentile(&mut row.choir, 0.5),
            percentile(&mut row.choir, 0.99),
        );
        let (w50, w99) = (
            percentile(&mut row.window, 0.5),
            percentile(&mut row.window, 0.99),
        );
        let (p50, p99) = (
            percentile(&mut row.plain, 0.5),
            percentile(&mut row.plain, 0.99),
        );
        println!(
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.2} / {:.2}; {:.2} / {:.2} |",
            row.what,
            ms(c50),
            ms(c99),
            ms(w50),
            ms(w99),
            ms(p50),
            ms(p99),
            ms(c50) / ms(p50),
            ms(c99) / ms(p99),
            ms(w50) / ms(p50),
            ms(w99) / ms(p99)
        );
    }
    daemon.shutdown().await;
}
