-- The starts of a thread's agent turns, for rebuilding the conversation a model is sent: a
-- message posted while a turn ran belongs after that turn's answer.
CREATE INDEX events_by_turn ON events (json_extract(data, '$.thread_id'), seq)
    WHERE type = 'chat.turn_started';
