-- What each app window received, in seq order: an app that starts again (a new version, the
-- daemon restarted) gets its window's inputs again to rebuild its state.
CREATE INDEX events_by_app_window ON events (json_extract(data, '$.window_id'), seq)
    WHERE type = 'app.input';
