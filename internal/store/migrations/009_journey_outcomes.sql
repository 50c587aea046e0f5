-- How each journey ended, written by the journey in the transaction that
-- deregisters it: the run report (starter report) reads it with the send
-- ledger. Journeys that ended before this table existed have no row.
CREATE TABLE journey_outcomes (
    workflow_id       text        PRIMARY KEY,
    run_id            text        NOT NULL,
    journey           text        NOT NULL,
    recipient_key     text        NOT NULL,
    state             text        NOT NULL,
    reason            text        NOT NULL DEFAULT '',
    step              integer     NOT NULL, -- where it ended: index into the journey's steps
    sent              integer     NOT NULL,
    unknown           integer     NOT NULL,
    deferrals         integer     NOT NULL DEFAULT 0,
    stop_committed_at timestamptz,          -- the STOP that asked it to close, if one did
    ended_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX journey_outcomes_run ON journey_outcomes (run_id);

-- The STOP (its commit time) whose opt-out signalled a running journey to
-- cancel: when the last journey a STOP signalled closes, the STOP is
-- honoured in full (stopline_optout_closed_seconds).
ALTER TABLE active_journeys ADD COLUMN stop_committed_at timestamptz;
