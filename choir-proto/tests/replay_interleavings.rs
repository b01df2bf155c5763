//! A replay lands where the keys said, whatever the timing: a replica travelling in time is
//! driven by key moves, its queries go through a client that holds them until it is
//! connected (as the terminal's and the browser's do), a daemon answers the queries on their
//! way in any order (it answers them side by side), connections drop and come back, and the
//! clock ticks. Once everything has been answered, the moment shown is the one the moves
//! aimed at.

use choir_proto::client::Replica;
use choir_proto::{Moment, Query, Reply, Seek, ServerFrame, World, PROTOCOL_VERSION};
use proptest::prelude::*;

const HEAD: u64 = 1_000;

#[derive(Debug, Clone)]
enum Step {
    /// `←`/`→` (and shifted): events back or forward.
    Move(i64),
    /// A click on the bar.
    Go(u64),
    /// End.
    Live,
    /// The client takes the replica's queries into its queue.
    Flush,
    /// The client sends what it holds, if connected.
    Send,
    /// The daemon answers one of the queries on their way.
    Answer(usize),
    /// The connection drops (answers on their way are lost), then comes back with a welcome.
    Reconnect,
    /// A second of the clock.
    Tick,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (-3i64..=3).prop_map(Step::Move),
        1 => (0..HEAD + 50).prop_map(Step::Go),
        1 => Just(Step::Live),
        4 => Just(Step::Flush),
        3 => Just(Step::Send),
        5 => any::<usize>().prop_map(Step::Answer),
        1 => Just(Step::Reconnect),
        1 => Just(Step::Tick),
    ]
}

/// The client between the replica and the daemon.
struct Wire {
    connected: bool,
    /// Taken from the replica, not sent yet (the client's queue outlives a connection).
    queued: Vec<Query>,
    /// Sent, not answered yet.
    on_the_way: Vec<Query>,
}

fn welcome() -> ServerFrame {
    ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: HEAD,
        snapshot: None,
        read_only: true,
    }
}

/// What the daemon answers a `world.at` with: the seek resolved within the log.
fn answer(at: Seek) -> ServerFrame {
    let seq = match at {
        Seek::Seq { seq } => seq.min(HEAD),
        other => panic!("only moves by seq here, not {other:?}"),
    };
    ServerFrame::Reply {
        id: 0,
        reply: Reply::Moment {
            moment: Moment {
                seq,
                ts: seq as i64 * 1_000,
                head: HEAD,
                world: Box::new(World::default()),
                at: Some(at),
            },
        },
    }
}

impl Wire {
    fn flush(&mut self, replica: &mut Replica) {
        self.queued.extend(replica.take_queries());
    }

    fn send(&mut self) {
        if self.connected {
            self.on_the_way.append(&mut self.queued);
        }
    }

    fn answer(&mut self, replica: &mut Replica, index: usize) {
        if self.on_the_way.is_empty() {
            return;
        }
        let query = self.on_the_way.remove(index % self.on_the_way.len());
        if let Query::Moment { at } = query {
            replica.on_frame(answer(at));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_move_lands_where_the_keys_said(
        start in 0..HEAD,
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let mut replica = Replica::replay(Seek::Seq { seq: start });
        let mut wire = Wire { connected: false, queued: Vec::new(), on_the_way: Vec::new() };
        // Queries asked before the first welcome wait in the client's queue.
        wire.flush(&mut replica);
        wire.connected = true;
        replica.on_frame(welcome());
        // Where the keys aim: each move counts from the latest one.
        let mut target = start;
        for step in steps {
            match step {
                Step::Move(events) => {
                    replica.travel(|t| t.step(events));
                    target = if events < 0 {
                        target.saturating_sub(events.unsigned_abs())
                    } else {
                        (target + events as u64).min(HEAD)
                    };
                }
                Step::Go(seq) => {
                    replica.travel(|t| t.go(seq));
                    target = seq.min(HEAD);
                }
                Step::Live => {
                    replica.travel(|t| t.live());
                    target = HEAD;
                }
                Step::Flush => wire.flush(&mut replica),
                Step::Send => wire.send(),
                Step::Answer(index) => wire.answer(&mut replica, index),
                Step::Reconnect => {
                    wire.on_the_way.clear();
                    replica.on_frame(welcome());
                }
                Step::Tick => replica.tick(),
            }
        }
        // Then nothing more from the user: everything is sent and answered, oldest first.
        for _ in 0..100 {
            wire.flush(&mut replica);
            wire.send();
            while !wire.on_the_way.is_empty() {
                wire.answer(&mut replica, 0);
            }
            if wire.queued.is_empty() && !replica.timeline().unwrap().is_moving() {
                break;
            }
        }
        let timeline = replica.timeline().unwrap();
        prop_assert!(!timeline.is_moving(), "still moving: {timeline:?}");
        prop_assert_eq!(timeline.shown().map(|(seq, _)| seq), Some(target));
    }
}
