-- The model registry: every model the agent may score with, its card and gate evidence, and which one is
-- ACTIVE. At most one row is ACTIVE (partial unique index); promotion and rollback swap it in one
-- transaction. The ONNX files live in the model store directory (`dir`); the row is the record.
CREATE TABLE models (
  version       text PRIMARY KEY,                -- the card's name: what every signal row's `model` carries
  status        text        NOT NULL CHECK (status IN ('CANDIDATE', 'ACTIVE', 'REJECTED', 'RETIRED')),
  dir           text        NOT NULL,            -- model.onnx, card.json, parity-sample.json
  card          jsonb       NOT NULL,
  metrics       jsonb       NOT NULL DEFAULT '{}'::jsonb, -- the gate's evidence (candidate, active, baselines, control)
  data_hash     text,
  code_version  text,
  reason        text,                            -- why REJECTED, or how it became ACTIVE
  candidate_of  text,                            -- the retrain workflow that produced it (one row per candidate)
  created_at    timestamptz NOT NULL DEFAULT now(),
  promoted_by   text,
  promoted_at   timestamptz,
  retired_at    timestamptz
);
CREATE UNIQUE INDEX models_one_active ON models ((true)) WHERE status = 'ACTIVE';
CREATE UNIQUE INDEX models_candidate_of ON models (candidate_of) WHERE candidate_of IS NOT NULL;

-- What a position was entered on: the model version that produced the entry signal and the open time of the
-- candle it scored (with the symbol, the reference to the feature row at entry: features are a pure function
-- of the candles up to it, recomputed by the dataset builder from the same market data). Rows from before
-- this migration keep NULL.
ALTER TABLE positions ADD COLUMN model_version text;
ALTER TABLE positions ADD COLUMN entry_candle_time timestamptz;
