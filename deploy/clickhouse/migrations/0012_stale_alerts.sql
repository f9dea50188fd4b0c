-- Stale alerts (shared/kpi/staleness.ts): a series whose inputs stopped arriving alerts on its own, as a
-- breach with its own fingerprint beside the value's. `condition` tells the two apart ('stale', or ''
-- for a value breach), so open stale alerts are restored as such after the breach store lost its data.

ALTER TABLE breach_transitions
  ADD COLUMN IF NOT EXISTS condition LowCardinality(String) DEFAULT '';
