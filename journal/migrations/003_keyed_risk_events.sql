-- Risk events raised by retried activities (a position's alerts, written once Postgres is reachable again)
-- carry a key, so a retry books them once.
ALTER TABLE risk_events ADD COLUMN event_key text;
CREATE UNIQUE INDEX risk_events_event_key ON risk_events (event_key) WHERE event_key IS NOT NULL;
