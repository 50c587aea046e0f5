-- A worker heartbeats once per task queue it polls (its main queue and the
-- send queue of each provider it has), each with that queue's config hash.
ALTER TABLE worker_heartbeats DROP CONSTRAINT worker_heartbeats_pkey;
ALTER TABLE worker_heartbeats ADD PRIMARY KEY (worker_id, task_queue);
