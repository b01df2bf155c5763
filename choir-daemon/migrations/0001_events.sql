-- The append-only event log. `seq` is assigned by the single writer, from 1, without holes.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    correlation TEXT,
    type        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT    NOT NULL
);
