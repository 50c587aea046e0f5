-- One row per running worker process, refreshed every few seconds, so a
-- worker can tell that its configuration differs from its live peers'
-- (they would silently split the work of one task queue).
CREATE TABLE worker_heartbeats (
    worker_id   text        PRIMARY KEY,
    task_queue  text        NOT NULL,
    config_hash text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_heartbeats_queue ON worker_heartbeats (task_queue, seen_at);
