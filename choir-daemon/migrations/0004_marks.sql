-- The events a time-travelling client jumps between (a chat message, a tool call), in seq
-- order across every thread: a partial index, only those rows.
CREATE INDEX events_marks ON events (seq)
    WHERE type IN ('chat.user_message', 'chat.assistant_message', 'tool.requested');
