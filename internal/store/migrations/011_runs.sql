-- Issue 18: pause, resume and stop a journey run. runs holds each run's
-- state; a send reads its run's row FOR SHARE inside the recipient's fence,
-- and a pause or stop updates it (so waits for sends in flight). seq grows
-- with every change, so journeys can order the signals that tell them.
-- run_events is the audit log of the commands: who, when, note.
-- active_journeys gains the run, to find a run's journeys; rows registered
-- before this migration have none (found through visibility instead).
CREATE TABLE runs (
    run_id     text        PRIMARY KEY,
    state      text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'stopped')),
    seq        bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE run_events (
    id         bigserial   PRIMARY KEY,
    run_id     text        NOT NULL,
    command    text        NOT NULL,
    from_state text        NOT NULL,
    to_state   text        NOT NULL,
    actor      text        NOT NULL,
    note       text        NOT NULL DEFAULT '',
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX run_events_run ON run_events (run_id, id);
ALTER TABLE active_journeys ADD COLUMN run_id text;
CREATE INDEX active_journeys_run ON active_journeys (run_id) WHERE run_id IS NOT NULL;
