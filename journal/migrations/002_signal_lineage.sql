-- Signal rows are keyed per run lineage. A symbol workflow started again (terminate + `qt start`, or a
-- reset) counts its ticks from 1 again: under the old (symbol, seq) key every such row collided with
-- an earlier one and was dropped. The run id separates lineages; the instance id says which loop
-- instance (the id its orders carry) made the decision. Rows from before this migration keep ''.
ALTER TABLE signals ADD COLUMN instance_id text NOT NULL DEFAULT '';
ALTER TABLE signals ADD COLUMN run_id text NOT NULL DEFAULT '';
ALTER TABLE signals DROP CONSTRAINT signals_symbol_seq_key;
ALTER TABLE signals ADD CONSTRAINT signals_lineage_key UNIQUE (symbol, run_id, seq);

-- Reconciliation, orphan adoption, key collisions and dropped records are risk events; find them by symbol.
CREATE INDEX risk_events_symbol_at ON risk_events (symbol, at DESC);
