-- Lookups into the log for what is no longer kept whole in memory: a thread's messages and
-- tool calls (paging back through a chat), a tool call's later events, a document's events
-- (loading its text, rebasing an edit made against an old version). Partial expression
-- indexes: only the rows they are for, keyed as the queries in store/lookup.rs ask.
CREATE INDEX events_by_thread ON events (json_extract(data, '$.thread_id'), seq)
    WHERE type IN ('chat.user_message', 'chat.assistant_message', 'chat.turn_cancelled',
                   'chat.turn_failed', 'tool.requested', 'tool.started');
CREATE INDEX events_by_call ON events (json_extract(data, '$.call_id'), seq)
    WHERE type IN ('tool.requested', 'tool.approved', 'tool.denied', 'tool.started',
                   'tool.finished');
CREATE INDEX events_by_doc ON events (json_extract(data, '$.doc_id'), seq)
    WHERE type IN ('doc.created', 'doc.edited', 'doc.renamed', 'doc.deleted');
