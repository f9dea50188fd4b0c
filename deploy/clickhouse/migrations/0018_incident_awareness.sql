-- The incidents' awareness time in incident_state (issue 13: GDPR Art. 33's 72 hours run from awareness):
-- generated from shared/kpi/entity-state.ts (a unit test checks this file is exactly what it generates).
-- The state view's query is replaced in place and the new column back-filled from the stored facts.

ALTER TABLE incident_state
  ADD COLUMN IF NOT EXISTS awareness_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8);

ALTER TABLE incident_state_mv MODIFY QUERY
SELECT
  toString(incident_id) AS incident_id,
  maxState(__k) AS version,
  minState(event_time) AS first_event_at,
  maxState(event_time) AS last_event_at,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(toString(status), __k) AS status,
  argMaxState(toString(severity), __k) AS severity,
  argMaxState(toString(category), __k) AS category,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(notifiable, __k) AS notifiable,
  argMaxState(detected_at, __k) AS detected_at,
  argMaxState(records_affected, __k) AS records_affected,
  argMaxState(data_subjects_affected, __k) AS data_subjects_affected,
  argMaxState(ai_system_id, __k) AS ai_system_id,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(occurred_at) + 1, 0)), __k, occurred_at IS NOT NULL) AS occurred_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(contained_at) + 1, 0)), __k, (contained_at IS NOT NULL) OR __rank < 2) AS contained_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(resolved_at) + 1, 0)), __k, (resolved_at IS NOT NULL) OR __rank < 4) AS resolved_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(closed_at) + 1, 0)), __k, (closed_at IS NOT NULL) OR __rank < 5) AS closed_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(regulator_notified_at) + 1, 0)), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(awareness_at) + 1, 0)), __k, awareness_at IS NOT NULL) AS awareness_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;

INSERT INTO incident_state (incident_id, awareness_at)
SELECT
  toString(incident_id) AS incident_id,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(awareness_at) + 1, 0)), __k, awareness_at IS NOT NULL) AS awareness_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;
