CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  connection_id INTEGER NOT NULL,
  notebook_id INTEGER,
  question TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'degraded', 'failed')),
  provider TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  response TEXT,
  events TEXT,
  cell_id INTEGER,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  finished_at TEXT
);
CREATE INDEX runs_by_created ON runs (created_at);
