-- Playlists: the pass over the list a task is in (RepeatNumber counts against it), and the
-- playlist item event a callback carries (JSON: kind, file_index, source, detail).
ALTER TABLE tasks ADD COLUMN current_loop INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN item TEXT;
