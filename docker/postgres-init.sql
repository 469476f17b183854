-- The journal's database, next to the ones Temporal's auto-setup creates (temporal, temporal_visibility).
CREATE DATABASE qt;
