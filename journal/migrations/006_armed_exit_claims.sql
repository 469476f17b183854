-- Armed exits sent from a worker's mark stream (event-driven mode): a worker claims the exit's client order id here
-- before it sends it, so an id a worker sent before it died is never sent again by the worker that replaced it
-- (the position's own send looks the id up at the exchange instead).
CREATE TABLE armed_exit_claims (
  client_order_id text PRIMARY KEY,
  claimed_at timestamptz NOT NULL DEFAULT now()
);
