//! Commands sent at once by many clients: the world actor commits chat posts together (one
//! append for many), and each command still gets its own events or its own refusal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use choir_daemon::actors::CommandError;
use choir_proto::{AppKind, Command, EventBody, Rejection, ThreadId};
use pretty_assertions::assert_eq;

const CLIENTS: usize = 12;
const EACH: usize = 40;

/// What client `client` sends as its `n`th command, and whether it should commit.
fn command(client: usize, n: usize) -> (Command, Option<Rejection>) {
    match n % 8 {
        // Refused, between accepted posts of the same batch.
        3 => (
            Command::PostChat {
                thread_id: ThreadId(1),
                text: "   ".into(),
            },
            Some(Rejection::EmptyMessage),
        ),
        5 => (
            Command::PostChat {
                thread_id: ThreadId(99),
                text: format!("lost {client}/{n}"),
            },
            Some(Rejection::UnknownThread(ThreadId(99))),
        ),
        // Not batched: decided alone, between batches.
        7 => (
            Command::OpenWindow {
                app: AppKind::EventLog,
                title: Some(format!("log {client}/{n}")),
                rect: None,
            },
            None,
        ),
        _ => (
            Command::PostChat {
                thread_id: ThreadId(1 + (n % 2) as u64),
                text: format!("post {client}/{n}"),
            },
            None,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_sent_at_once_each_commit_their_own_event_or_get_their_own_refusal() {
    let (_dir, daemon) = common::start().await;
    for _ in 0..2 {
        daemon
            .world()
            .execute(
                Command::OpenWindow {
                    app: AppKind::Chat,
                    title: None,
                    rect: None,
                },
                "setup".into(),
                None,
            )
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let world = daemon.world().clone();
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in 0..EACH {
                let (command, _) = command(client, n);
                let thread = match &command {
                    Command::PostChat { thread_id, .. } => Some(*thread_id),
                    _ => None,
                };
                let result = world
                    .execute(command, format!("client:{client}"), None)
                    .await;
                // Acked means committed and seen: what the client asks next sees its post
                // (the actor queues batches without waiting for them).
                if let (Ok(seqs), Some(thread)) = (&result, thread) {
                    let seq = seqs[0];
                    let seen = world
                        .query(move |world| {
                            world.head >= seq
                                && world.chats[&thread].messages.iter().any(|m| m.seq == seq)
                        })
                        .await
                        .unwrap();
                    assert!(seen, "{client}/{n}: post {seq} acked but not in the world");
                }
                results.push((n, result));
            }
            (client, results)
        }));
    }
    let mut acked = BTreeMap::new();
    for task in tasks {
        let (client, results) = task.await.unwrap();
        let mut last_seq = 0;
        for (n, result) in results {
            if let Ok(seqs) = &result {
                assert!(seqs[0] > last_seq, "{client}/{n}: committed out of order");
                last_seq = seqs[0];
            }
            let (_, refusal) = command(client, n);
            match (result, refusal) {
                (Ok(seqs), None) => {
                    assert_eq!(seqs.len(), 1, "{client}/{n}");
                    assert!(
                        acked.insert(seqs[0], (client, n)).is_none(),
                        "seq acked twice"
                    );
                }
                (Err(CommandError::Rejected(rejection)), Some(expected)) => {
                    assert_eq!(rejection, expected, "{client}/{n}");
                }
                (other, expected) => panic!("{client}/{n}: {other:?}, expected {expected:?}"),
            }
        }
    }

    // Each acked seq holds that command's event; no other client event was committed.
    let log = daemon.store.read(1, 100_000).await.unwrap();
    let mut from_clients = 0;
    for event in &log {
        let Some(client) = event.actor.strip_prefix("client:") else {
            continue;
        };
        from_clients += 1;
        let (acked_client, n) = acked[&event.seq];
        assert_eq!(client, acked_client.to_string());
        match (&event.body, command(acked_client, n).0) {
            (
                EventBody::ChatUserMessage { thread_id, text },
                Command::PostChat {
                    thread_id: sent_thread,
                    text: sent,
                },
            ) => assert_eq!((thread_id, text), (&sent_thread, &sent)),
            (EventBody::WindowOpened { title, .. }, Command::OpenWindow { title: sent, .. }) => {
                assert_eq!(Some(title), sent.as_ref())
            }
            (body, command) => panic!("seq {} holds {body:?} for {command:?}", event.seq),
        }
    }
    assert_eq!(from_clients, acked.len());
    // Of every 8 commands, 5 posts and a window commit.
    assert_eq!(acked.len(), CLIENTS * EACH * 6 / 8);
    daemon.shutdown().await;
}
