//! Following the log: the one loop of every actor that reacts to committed events (the world,
//! the agent, the shells, the document files), with the same order and the same ways to stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::{Committed, StoreError, Subscription};

/// What a follower is to handle next.
pub(crate) enum Step<M> {
    /// The next committed event, in seq order.
    Event(Arc<Committed>),
    /// A message from the follower's handle.
    Message(M),
    /// Its clock ticked.
    Tick,
}

/// Where a follower's messages come from.
enum Messages<M> {
    None,
    Bounded(mpsc::Receiver<M>),
    Unbounded(mpsc::UnboundedReceiver<M>),
}

/// A follower's inputs: the log from some seq on, its messages, an optional clock, and the
/// daemon's shutdown.
pub(crate) struct Follow<M> {
    name: &'static str,
    events: Subscription,
    messages: Messages<M>,
    tick: Option<Interval>,
    shutdown: CancellationToken,
    /// A message that came while committed events were still to be delivered: it waits
    /// for them.
    held: Option<M>,
    /// Stop once every sender of its messages is gone, rather than go on with the log alone.
    stop_without_messages: bool,
}

impl<M> Follow<M> {
    /// Follows `events`; `name` says who, in the log when it stops for an error.
    pub(crate) fn new(
        name: &'static str,
        events: Subscription,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            name,
            events,
            messages: Messages::None,
            tick: None,
            shutdown,
            held: None,
            stop_without_messages: false,
        }
    }

    /// Stops once every sender of its messages is gone: for an actor whose handles are why it
    /// runs.
    pub(crate) fn stop_without_messages(mut self) -> Self {
        self.stop_without_messages = true;
        self
    }

    /// Also takes messages from `messages`.
    pub(crate) fn with_messages(mut self, messages: mpsc::Receiver<M>) -> Self {
        self.messages = Messages::Bounded(messages);
        self
    }

    /// Also takes messages from `messages`, a queue without a bound.
    pub(crate) fn with_unbounded_messages(mut self, messages: mpsc::UnboundedReceiver<M>) -> Self {
        self.messages = Messages::Unbounded(messages);
        self
    }

    /// Also ticks every `period` (a tick that is late is not made up).
    pub(crate) fn with_tick(mut self, period: Duration) -> Self {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.tick = Some(tick);
        self
    }

    /// The log, to read ahead of the next step (a follower that must see everything
    /// committed before it acts).
    pub(crate) fn events(&mut self) -> &mut Subscription {
        &mut self.events
    }

    /// A message already waiting, without waiting for one (to gather a batch).
    pub(crate) fn try_message(&mut self) -> Option<M> {
        if let Some(message) = self.held.take() {
            return Some(message);
        }
        match &mut self.messages {
            Messages::Bounded(messages) => messages.try_recv().ok(),
            Messages::Unbounded(messages) => messages.try_recv().ok(),
            Messages::None => None,
        }
    }

    /// Gives back a message taken by [`try_message`](Self::try_message): it is the next
    /// message [`next`](Self::next) returns.
    pub(crate) fn put_back(&mut self, message: M) {
        debug_assert!(self.held.is_none());
        self.held = Some(message);
    }

    /// The next step, `None` once the follower should stop: the daemon shuts down, the store
    /// closed, or the log cannot be read (said in the log). Every event committed before a
    /// message was taken is handled before that message (a restart asked for after a shell
    /// ended finds it ended); the clock comes last. Once every sender of its messages is gone
    /// it goes on with the log alone.
    pub(crate) async fn next(&mut self) -> Option<Step<M>> {
        loop {
            if let Some(message) = self.held.take() {
                if !self.events.is_behind() {
                    return Some(Step::Message(message));
                }
                self.held = Some(message);
                return tokio::select! {
                    biased;
                    () = self.shutdown.cancelled() => None,
                    next = self.events.next() => self.event(next),
                };
            }
            let messages = async {
                match &mut self.messages {
                    Messages::Bounded(messages) => messages.recv().await,
                    Messages::Unbounded(messages) => messages.recv().await,
                    Messages::None => std::future::pending().await,
                }
            };
            let tick = async {
                match self.tick.as_mut() {
                    Some(tick) => {
                        tick.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return None,
                next = self.events.next() => return self.event(next),
                message = messages => match message {
                    Some(message) => self.held = Some(message),
                    None if self.stop_without_messages => return None,
                    None => self.messages = Messages::None,
                },
                () = tick => return Some(Step::Tick),
            }
        }
    }

    fn event(&self, next: Result<Option<Arc<Committed>>, StoreError>) -> Option<Step<M>> {
        match next {
            Ok(Some(event)) => Some(Step::Event(event)),
            Ok(None) => None,
            Err(err) => {
                tracing::error!(%err, follower = self.name, "stopped following the log");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventStore, StoreOptions};
    use choir_proto::{EventBody, NewEvent, ThreadId};

    async fn store() -> (tempfile::TempDir, EventStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(&dir.path().join("events.db"), StoreOptions::default())
            .await
            .unwrap();
        (dir, store)
    }

    fn post(n: u64) -> NewEvent {
        NewEvent::new(
            "test",
            EventBody::ChatCancelRequested {
                thread_id: ThreadId(n),
            },
        )
    }

    #[tokio::test]
    async fn the_log_comes_before_messages_and_shutdown_ends_it() {
        let (_dir, store) = store().await;
        store.append(vec![post(1), post(2)]).await.unwrap();
        let (send, messages) = mpsc::channel(4);
        let shutdown = CancellationToken::new();
        let mut follow =
            Follow::new("test", store.subscribe(1), shutdown.clone()).with_messages(messages);
        send.send("after").await.unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(match follow.next().await {
                Some(Step::Event(event)) => format!("event {}", event.seq),
                Some(Step::Message(text)) => text.to_owned(),
                Some(Step::Tick) => "tick".into(),
                None => "end".into(),
            });
        }
        assert_eq!(seen, ["event 1", "event 2", "after"]);
        shutdown.cancel();
        store.append(vec![post(3)]).await.unwrap();
        assert!(follow.next().await.is_none(), "a shut-down follower stops");
    }

    #[tokio::test]
    async fn without_senders_a_follower_goes_on_with_the_log_and_its_clock() {
        let (_dir, store) = store().await;
        let (send, messages) = mpsc::channel::<()>(1);
        let mut follow = Follow::new("test", store.subscribe(1), CancellationToken::new())
            .with_messages(messages)
            .with_tick(Duration::from_millis(10));
        assert!(matches!(follow.next().await, Some(Step::Tick)));
        drop(send);
        store.append(vec![post(1)]).await.unwrap();
        assert!(matches!(follow.next().await, Some(Step::Event(event)) if event.seq == 1));
        assert!(matches!(follow.next().await, Some(Step::Tick)));
    }

    #[tokio::test]
    async fn a_batch_takes_what_waits_and_a_message_given_back_comes_next() {
        let (_dir, store) = store().await;
        let (send, messages) = mpsc::channel(8);
        let mut follow = Follow::new("test", store.subscribe(1), CancellationToken::new())
            .with_messages(messages)
            .stop_without_messages();
        for text in ["a", "b", "c"] {
            send.send(text).await.unwrap();
        }
        assert!(matches!(follow.next().await, Some(Step::Message("a"))));
        assert_eq!(follow.try_message(), Some("b"));
        let c = follow.try_message().unwrap();
        assert_eq!(follow.try_message(), None, "nothing else waits");
        follow.put_back(c);
        // An event committed meanwhile comes before the message given back.
        store.append(vec![post(1)]).await.unwrap();
        assert!(matches!(follow.next().await, Some(Step::Event(event)) if event.seq == 1));
        assert!(matches!(follow.next().await, Some(Step::Message("c"))));
        drop(send);
        assert!(
            follow.next().await.is_none(),
            "it stops once its last sender is gone"
        );
    }
}
