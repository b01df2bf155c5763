//! Reading parts of the log by what they are about, for what the daemon no longer holds
//! whole: a page of a thread's messages with their tool calls, a thread's latest messages for
//! the agent, a document's events. Each query repeats the predicate of its partial index
//! (migrations/0002_lookups.sql) word for word, so SQLite uses the index.

use std::collections::BTreeSet;

use choir_proto::{ChatThread, DocId, Event, EventBody, ThreadId, ThreadPage, World};

use super::{decode_page, EventStore, StoreError};

/// The predicate of `events_by_thread`.
const BY_THREAD: &str = "type IN ('chat.user_message', 'chat.assistant_message', \
    'chat.turn_cancelled', 'chat.turn_failed', 'tool.requested', 'tool.started')";
/// What among those is a message.
const MESSAGES: &str = "type IN ('chat.user_message', 'chat.assistant_message', \
    'chat.turn_cancelled', 'chat.turn_failed')";
/// An assistant step with no text only carries tool calls: not a message.
const NOT_EMPTY_STEP: &str =
    "NOT (type = 'chat.assistant_message' AND json_extract(data, '$.text') = '')";
/// The predicate of `events_by_call`.
const BY_CALL: &str = "type IN ('tool.requested', 'tool.approved', 'tool.denied', \
    'tool.started', 'tool.finished')";
/// The predicate of `events_by_turn`.
const BY_TURN: &str = "type = 'chat.turn_started'";
/// The predicate of `events_by_doc`.
const BY_DOC: &str = "type IN ('doc.created', 'doc.edited', 'doc.renamed', 'doc.deleted')";

/// The predicate of `events_by_app_window`.
const BY_APP_WINDOW: &str = "type = 'app.input'";

/// The predicate of `events_by_app_store`.
const BY_APP_STORE: &str = "type = 'app.stored'";

/// The predicate of `events_marks`: what time travel jumps between.
const MARKS: &str = "type IN ('chat.user_message', 'chat.assistant_message', 'tool.requested')";

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl EventStore {
    /// The events matching `filter` (an SQL condition on `events` with `?1`, `?2`... bound to
    /// `binds`), in seq order.
    async fn select(&self, filter: &str, binds: &[i64]) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT json_group_array(json_array(seq, ts, actor, correlation, type, version, data)) \
             FROM (SELECT * FROM events WHERE {filter} ORDER BY seq)"
        );
        let mut query = sqlx::query_scalar(&sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        let page: Option<String> = query.fetch_one(self.reader()).await?;
        decode_page(page, 0)
    }

    /// The thread's messages with seq `< before`, the latest `limit` of them, with the tool
    /// calls made among them (each as it stands now).
    pub async fn thread_page(
        &self,
        thread_id: ThreadId,
        before: u64,
        limit: usize,
    ) -> Result<ThreadPage, StoreError> {
        let thread = int(thread_id.0);
        // The seqs of the page's messages, newest first, and one more to know if there are
        // older ones.
        let seqs: Vec<i64> = sqlx::query_scalar(&format!(
            "SELECT seq FROM events WHERE json_extract(data, '$.thread_id') = ?1 AND {BY_THREAD} \
             AND {MESSAGES} AND {NOT_EMPTY_STEP} AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
        ))
        .bind(thread)
        .bind(int(before))
        .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
        .fetch_all(self.reader())
        .await?;
        let more = seqs.len() > limit;
        let from = if more {
            seqs.get(limit.saturating_sub(1)).copied().unwrap_or(0)
        } else {
            0
        };
        if limit == 0 {
            return Ok(ThreadPage {
                thread_id,
                messages: Vec::new(),
                tools: Vec::new(),
                more: !seqs.is_empty(),
            });
        }
        let mut events = self
            .select(
                &format!(
                    "json_extract(data, '$.thread_id') = ?1 AND {BY_THREAD} \
                     AND seq >= ?2 AND seq < ?3"
                ),
                &[thread, from, int(before)],
            )
            .await?;
        // Where the page's tool calls stand now: their later events.
        let calls: BTreeSet<String> = events
            .iter()
            .filter_map(|event| match &event.body {
                EventBody::ToolRequested { call_id, .. }
                | EventBody::ToolStarted { call_id, .. } => Some(call_id.0.clone()),
                _ => None,
            })
            .collect();
        if !calls.is_empty() {
            events.extend(self.call_events(&calls, from, i64::MAX, "1").await?);
            events.sort_by_key(|event| event.seq);
            events.dedup_by_key(|event| event.seq);
        }
        // The reducer makes the page, as it makes every client's thread.
        let mut world = World::default();
        world
            .chats
            .insert(thread_id, ChatThread::new(thread_id, ""));
        for event in &events {
            world.apply(event);
        }
        let thread = world
            .chats
            .remove(&thread_id)
            .unwrap_or_else(|| ChatThread::new(thread_id, ""));
        let tools = thread
            .tools
            .into_iter()
            .filter(|card| card.seq < before)
            .collect();
        Ok(ThreadPage {
            thread_id,
            messages: thread.messages,
            tools,
            more,
        })
    }

    /// What a model is sent of a thread: its events up to seq `up_to` from the `limit`-th
    /// latest message on (user messages, assistant steps, turn starts and ends, tool
    /// requests) and the later events of the tool calls among them, in seq order.
    pub async fn thread_conversation(
        &self,
        thread_id: ThreadId,
        up_to: u64,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let thread = int(thread_id.0);
        let from: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT MIN(seq) FROM (SELECT seq FROM events WHERE json_extract(data, '$.thread_id') = ?1 \
             AND {BY_THREAD} AND {MESSAGES} AND seq <= ?2 ORDER BY seq DESC LIMIT ?3)"
        ))
        .bind(thread)
        .bind(int(up_to))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_one(self.reader())
        .await?;
        let Some(from) = from else {
            return Ok(Vec::new());
        };
        let range = [thread, from, int(up_to)];
        let mut events = self
            .select(
                &format!(
                    "json_extract(data, '$.thread_id') = ?1 AND {BY_THREAD} \
                     AND seq >= ?2 AND seq <= ?3"
                ),
                &range,
            )
            .await?;
        events.extend(
            self.select(
                &format!(
                    "json_extract(data, '$.thread_id') = ?1 AND {BY_TURN} \
                     AND seq >= ?2 AND seq <= ?3"
                ),
                &range,
            )
            .await?,
        );
        let calls: BTreeSet<String> = events
            .iter()
            .filter_map(|event| match &event.body {
                EventBody::ChatAssistantMessage { tool_calls, .. } => Some(tool_calls),
                _ => None,
            })
            .flatten()
            .map(|call| call.call_id.0.clone())
            .collect();
        if !calls.is_empty() {
            let ends = "type IN ('tool.denied', 'tool.finished')";
            events.extend(self.call_events(&calls, from, int(up_to), ends).await?);
        }
        events.sort_by_key(|event| event.seq);
        events.dedup_by_key(|event| event.seq);
        Ok(events)
    }

    /// The events of the tool calls `calls` with seq `from..=up_to` that also match `filter`
    /// (an SQL condition), in seq order.
    async fn call_events(
        &self,
        calls: &BTreeSet<String>,
        from: i64,
        up_to: i64,
        filter: &str,
    ) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT json_group_array(json_array(seq, ts, actor, correlation, type, version, data)) \
             FROM (SELECT * FROM events WHERE json_extract(data, '$.call_id') IN \
             (SELECT value FROM json_each(?1)) AND {BY_CALL} AND seq >= ?2 AND seq <= ?3 \
             AND {filter} ORDER BY seq)"
        );
        let page: Option<String> = sqlx::query_scalar(&sql)
            .bind(serde_json::to_string(calls)?)
            .bind(from)
            .bind(up_to)
            .fetch_one(self.reader())
            .await?;
        decode_page(page, 0)
    }

    /// Every event of the document after seq `after` and up to `until`, in order.
    pub async fn doc_events(
        &self,
        doc_id: DocId,
        after: u64,
        until: u64,
    ) -> Result<Vec<Event>, StoreError> {
        self.select(
            &format!("json_extract(data, '$.doc_id') = ?1 AND {BY_DOC} AND seq > ?2 AND seq <= ?3"),
            &[int(doc_id.0), int(after), int(until)],
        )
        .await
    }

    /// What app window `window_id` received (`app.input`), the latest `limit` inputs, in
    /// seq order.
    pub async fn app_inputs(
        &self,
        window_id: choir_proto::WindowId,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select(
            &format!(
                "seq IN (SELECT seq FROM events WHERE json_extract(data, '$.window_id') = ?1 \
                 AND {BY_APP_WINDOW} ORDER BY seq DESC LIMIT ?2)"
            ),
            &[int(window_id.0), limit],
        )
        .await
    }

    /// App `name`'s store writes (`app.stored`), the latest `limit`, in seq order.
    pub async fn app_writes(&self, name: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT json_group_array(json_array(seq, ts, actor, correlation, type, version, data)) \
             FROM (SELECT * FROM events WHERE seq IN (SELECT seq FROM events \
             WHERE json_extract(data, '$.name') = ?1 AND {BY_APP_STORE} ORDER BY seq DESC \
             LIMIT ?2) ORDER BY seq)"
        );
        let page: Option<String> = sqlx::query_scalar(&sql)
            .bind(name)
            .bind(limit)
            .fetch_one(self.reader())
            .await?;
        decode_page(page, 0)
    }

    /// The seq of the last event at or before `ts` (0 when the first is later). Event times
    /// never go back within a log written by one daemon; across a clock set back the answer
    /// is one of the events at that time.
    pub async fn seq_at_time(&self, ts: i64) -> Result<u64, StoreError> {
        // Binary search over seqs: the log has no holes and `seq` is its primary key.
        let (mut low, mut high) = (0, self.head());
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            let at: Option<i64> = sqlx::query_scalar("SELECT ts FROM events WHERE seq = ?")
                .bind(int(middle))
                .fetch_optional(self.reader())
                .await?;
            if at.is_some_and(|at| at <= ts) {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        Ok(low)
    }

    /// The time of event `seq` (0 for seq 0 or beyond the log).
    pub async fn ts_of(&self, seq: u64) -> Result<i64, StoreError> {
        let ts: Option<i64> = sqlx::query_scalar("SELECT ts FROM events WHERE seq = ?")
            .bind(int(seq))
            .fetch_optional(self.reader())
            .await?;
        Ok(ts.unwrap_or(0))
    }

    /// The seq of the first chat message or tool call after `from` (before it, when not
    /// `forward`), if there is one.
    pub async fn mark(&self, from: u64, forward: bool) -> Result<Option<u64>, StoreError> {
        let sql = if forward {
            format!("SELECT seq FROM events WHERE {MARKS} AND seq > ? ORDER BY seq LIMIT 1")
        } else {
            format!("SELECT seq FROM events WHERE {MARKS} AND seq < ? ORDER BY seq DESC LIMIT 1")
        };
        let seq: Option<i64> = sqlx::query_scalar(&sql)
            .bind(int(from))
            .fetch_optional(self.reader())
            .await?;
        Ok(seq.and_then(|seq| u64::try_from(seq).ok()))
    }
}
