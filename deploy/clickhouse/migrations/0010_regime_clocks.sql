-- Regulatory notification clocks (issue 13 item 6): generated from shared/kpi/regime-state.ts (a unit
-- test checks this file is exactly what it generates). privacy_incident_events gains the optional fields
-- of the incident contract that the clocks need; incident_clock_state keeps, per incident, what the clocks
-- read, fed by a materialized view and back-filled once from the facts stored before it existed.

ALTER TABLE privacy_incident_events
  ADD COLUMN IF NOT EXISTS awareness_at Nullable(DateTime64(3, 'UTC')),
  ADD COLUMN IF NOT EXISTS classified_at Nullable(DateTime64(3, 'UTC')),
  ADD COLUMN IF NOT EXISTS regimes Array(String),
  ADD COLUMN IF NOT EXISTS jurisdictions Array(String),
  ADD COLUMN IF NOT EXISTS report_steps Array(String),
  ADD COLUMN IF NOT EXISTS report_sent_at Array(DateTime64(3, 'UTC'));

CREATE TABLE IF NOT EXISTS incident_clock_state (
  incident_id String,
  version AggregateFunction(max, UInt128),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  status AggregateFunction(argMax, String, UInt128),
  severity AggregateFunction(argMax, String, UInt128),
  category AggregateFunction(argMax, String, UInt128),
  business_unit AggregateFunction(argMax, String, UInt128),
  notifiable AggregateFunction(argMax, Bool, UInt128),
  detected_at AggregateFunction(argMax, DateTime64(3, 'UTC'), UInt128),
  regulator_notified_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  awareness_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  classified_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  regimes AggregateFunction(argMaxIf, Array(String), UInt128, UInt8),
  jurisdictions AggregateFunction(argMaxIf, Array(String), UInt128, UInt8),
  reports AggregateFunction(groupUniqArrayArray, Array(Tuple(String, Int64)))
) ENGINE = AggregatingMergeTree
ORDER BY (incident_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS incident_clock_state_mv TO incident_clock_state AS
SELECT
  toString(incident_id) AS incident_id,
  maxState(__k) AS version,
  maxState(event_time) AS last_event_at,
  argMaxState(toString(status), __k) AS status,
  argMaxState(toString(severity), __k) AS severity,
  argMaxState(toString(category), __k) AS category,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(notifiable, __k) AS notifiable,
  argMaxState(detected_at, __k) AS detected_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(regulator_notified_at) + 1, 0)), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(awareness_at) + 1, 0)), __k, awareness_at IS NOT NULL) AS awareness_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(classified_at) + 1, 0)), __k, classified_at IS NOT NULL) AS classified_at,
  argMaxIfState(regimes, __k, notEmpty(regimes)) AS regimes,
  argMaxIfState(jurisdictions, __k, notEmpty(jurisdictions)) AS jurisdictions,
  groupUniqArrayArrayState(arrayMap((s, t) -> (s, toUnixTimestamp64Milli(t)), report_steps, report_sent_at)) AS reports
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;

INSERT INTO incident_clock_state
SELECT
  toString(incident_id) AS incident_id,
  maxState(__k) AS version,
  maxState(event_time) AS last_event_at,
  argMaxState(toString(status), __k) AS status,
  argMaxState(toString(severity), __k) AS severity,
  argMaxState(toString(category), __k) AS category,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(notifiable, __k) AS notifiable,
  argMaxState(detected_at, __k) AS detected_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(regulator_notified_at) + 1, 0)), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(awareness_at) + 1, 0)), __k, awareness_at IS NOT NULL) AS awareness_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(classified_at) + 1, 0)), __k, classified_at IS NOT NULL) AS classified_at,
  argMaxIfState(regimes, __k, notEmpty(regimes)) AS regimes,
  argMaxIfState(jurisdictions, __k, notEmpty(jurisdictions)) AS jurisdictions,
  groupUniqArrayArrayState(arrayMap((s, t) -> (s, toUnixTimestamp64Milli(t)), report_steps, report_sent_at)) AS reports
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;
