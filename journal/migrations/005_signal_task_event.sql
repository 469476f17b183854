-- Where in its run's history the workflow task that decided a tick started (the history length then). A task run
-- again after its worker died starts later in the history than the attempt that was lost, even when both read the
-- same clock from history: the later one is the decision history keeps. NULL for rows written before it was kept.
ALTER TABLE signals ADD COLUMN task_event integer;
