-- The journal's database. Temporal's own (temporal, temporal_visibility) are created by the temporal-schema
-- service with temporal-sql-tool (docker/temporal-schema.sh).
CREATE DATABASE qt;
