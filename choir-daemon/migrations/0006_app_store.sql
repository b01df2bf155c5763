-- An app's store writes, in seq order: an app given its window's inputs again reads its store
-- as it was at each.
CREATE INDEX events_by_app_store ON events (json_extract(data, '$.name'), seq)
    WHERE type = 'app.stored';
