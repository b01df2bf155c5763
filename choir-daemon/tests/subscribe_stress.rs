//! Many producers append concurrently while subscribers join mid-stream: every subscriber
//! sees exactly the seqs from where it joined up to N, in order, with no gap or duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use choir_daemon::store::{EventStore, StoreOptions};
use choir_proto::{EventBody, NewEvent, ThreadId};
use pretty_assertions::assert_eq;

struct Plan {
    durable: bool,
    producers: u64,
    appends_each: u64,
    subscribers: u64,
    /// Subscribers that stall now and then, so the live channel overflows for them.
    slow: bool,
}

fn message(producer: u64, n: u64) -> NewEvent {
    NewEvent::new(
        format!("producer-{producer}"),
        EventBody::ChatUserMessage {
            thread_id: ThreadId(producer),
            text: format!("{producer}/{n}"),
        },
    )
}

async fn run(plan: Plan) {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        durable: plan.durable,
        ..StoreOptions::default()
    };
    let store = EventStore::open(&dir.path().join("events.db"), options)
        .await
        .unwrap();

    let mut producers = Vec::new();
    let mut expected_total = 0;
    for producer in 0..plan.producers {
        // Batches of 1 to 3 events.
        let batches: Vec<u64> = (0..plan.appends_each)
            .map(|n| 1 + (n + producer) % 3)
            .collect();
        expected_total += batches.iter().sum::<u64>();
        let store = store.clone();
        producers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for (n, size) in batches.into_iter().enumerate() {
                let events = (0..size)
                    .map(|i| message(producer, n as u64 * 10 + i))
                    .collect();
                let committed = store.append(events).await.unwrap();
                let seqs: Vec<u64> = committed.iter().map(|e| e.seq).collect();
                // One append is contiguous.
                assert_eq!(seqs, (seqs[0]..seqs[0] + size).collect::<Vec<_>>());
                acked.extend(seqs);
            }
            acked
        }));
    }

    let mut subscribers = Vec::new();
    for index in 0..plan.subscribers {
        let store = store.clone();
        subscribers.push(tokio::spawn(async move {
            // Join at staggered moments while producers run; start from the beginning, the
            // current head, or somewhere in between.
            tokio::time::sleep(Duration::from_millis(index * 7)).await;
            let head = store.head();
            let from = match index % 3 {
                0 => 1,
                1 => head + 1,
                _ => head / 2 + 1,
            };
            let mut sub = store.subscribe(from);
            let mut seen = Vec::new();
            while seen.len() as u64 + from <= expected_total {
                let event = tokio::time::timeout(Duration::from_secs(30), sub.next())
                    .await
                    .expect("subscriber starved")
                    .unwrap()
                    .unwrap();
                seen.push(event.seq);
                if plan.slow && index % 2 == 0 && event.seq % 1000 == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            (from, seen)
        }));
    }

    let mut all_acked = Vec::new();
    for producer in producers {
        all_acked.extend(producer.await.unwrap());
    }
    all_acked.sort_unstable();
    assert_eq!(all_acked, (1..=expected_total).collect::<Vec<_>>());
    assert_eq!(store.head(), expected_total);

    for subscriber in subscribers {
        let (from, seen) = subscriber.await.unwrap();
        assert_eq!(
            seen,
            (from..=expected_total).collect::<Vec<_>>(),
            "subscriber from {from}"
        );
    }
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn durable_group_commit_with_subscribers_joining_mid_stream() {
    run(Plan {
        durable: true,
        producers: 32,
        appends_each: 40,
        subscribers: 12,
        slow: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_subscribers_overflow_the_live_channel_and_still_see_everything() {
    run(Plan {
        durable: false,
        producers: 16,
        appends_each: 600,
        subscribers: 9,
        slow: true,
    })
    .await;
}
