-- Journal of everything the trading core does. Amounts are NUMERIC (exact); times are timestamptz.

CREATE TABLE signals (
  id            bigserial PRIMARY KEY,
  workflow_id   text        NOT NULL,
  symbol        text        NOT NULL,
  seq           bigint      NOT NULL,  -- tick sequence of the symbol workflow
  candle_time   timestamptz NOT NULL,
  signal        text        NOT NULL,  -- BUY | SELL | HOLD
  confidence    double precision NOT NULL,
  prob_hold     double precision,
  prob_buy      double precision,
  prob_sell     double precision,
  model         text        NOT NULL,
  price         numeric     NOT NULL,
  decision      text        NOT NULL,  -- ENTER | SKIP | WOULD_TRADE | ...
  reason        text,
  at            timestamptz NOT NULL,
  UNIQUE (symbol, seq)                 -- a retried activity books the tick once
);
CREATE INDEX signals_at ON signals (at DESC);
CREATE INDEX signals_symbol_at ON signals (symbol, at DESC);

CREATE TABLE positions (
  position_id       text PRIMARY KEY,
  workflow_id       text        NOT NULL,
  symbol            text        NOT NULL,
  side              text        NOT NULL CHECK (side IN ('LONG', 'SHORT')),
  quantity          numeric     NOT NULL,
  entry_price       numeric     NOT NULL,
  entry_fee         numeric     NOT NULL DEFAULT 0,
  opened_at         timestamptz NOT NULL,
  stop_price        numeric,
  take_profit_price numeric,
  status            text        NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'CLOSED')),
  exit_price        numeric,
  exit_reason       text,
  exit_fee          numeric,
  gross_pnl         numeric,
  net_pnl           numeric,
  closed_at         timestamptz
);
CREATE INDEX positions_open ON positions (symbol) WHERE status = 'OPEN';
CREATE INDEX positions_closed_at ON positions (closed_at DESC) WHERE status = 'CLOSED';
CREATE INDEX positions_opened_at ON positions (opened_at DESC);

CREATE TABLE orders (
  client_order_id   text PRIMARY KEY,
  symbol            text        NOT NULL,
  position_id       text,
  purpose           text        NOT NULL CHECK (purpose IN ('ENTRY', 'EXIT', 'PROTECTIVE_STOP')),
  side              text        NOT NULL,
  type              text        NOT NULL,
  quantity          numeric,
  status            text        NOT NULL,
  exchange_order_id text,
  avg_price         numeric,
  executed_qty      numeric,
  reduce_only       boolean     NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL
);
CREATE INDEX orders_updated_at ON orders (updated_at DESC);
CREATE INDEX orders_symbol_updated_at ON orders (symbol, updated_at DESC);
CREATE INDEX orders_position ON orders (position_id);

CREATE TABLE fills (
  symbol           text        NOT NULL,
  trade_id         bigint      NOT NULL,
  order_id         bigint      NOT NULL,
  client_order_id  text        NOT NULL,
  position_id      text,
  side             text        NOT NULL,
  price            numeric     NOT NULL,
  qty              numeric     NOT NULL,
  quote_qty        numeric     NOT NULL,
  commission       numeric     NOT NULL,
  commission_asset text        NOT NULL,
  realized_pnl     numeric     NOT NULL,
  time             timestamptz NOT NULL,
  PRIMARY KEY (symbol, trade_id)
);
CREATE INDEX fills_position ON fills (position_id);
CREATE INDEX fills_client_order ON fills (client_order_id);

-- Small persisted switches (the global kill switch) as JSON under a key.
CREATE TABLE risk_state (
  key        text PRIMARY KEY,
  value      jsonb       NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Audit trail of risk decisions: kill/resume, rejected entries, loss-limit halts.
CREATE TABLE risk_events (
  id     bigserial PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  kind   text        NOT NULL,
  symbol text,
  detail jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX risk_events_at ON risk_events (at DESC);
