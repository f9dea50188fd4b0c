-- Entity state kept by ClickHouse at insert: generated from shared/kpi/entity-state.ts (a unit test
-- checks this file is exactly what that module generates). Each state table is an AggregatingMergeTree
-- of argMax states over the events' order key, fed by a materialized view and back-filled once from the
-- facts stored before it existed. Inserting the same event twice changes nothing.

ALTER TABLE model_group_counts
  ADD COLUMN IF NOT EXISTS selected UInt64,
  ADD COLUMN IF NOT EXISTS total UInt64,
  ADD COLUMN IF NOT EXISTS cell_attributes Array(String);

CREATE TABLE IF NOT EXISTS incident_state (
  incident_id String,
  version AggregateFunction(max, UInt128),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  status AggregateFunction(argMax, String, UInt128),
  severity AggregateFunction(argMax, String, UInt128),
  category AggregateFunction(argMax, String, UInt128),
  business_unit AggregateFunction(argMax, String, UInt128),
  notifiable AggregateFunction(argMax, Bool, UInt128),
  detected_at AggregateFunction(argMax, DateTime64(3, 'UTC'), UInt128),
  records_affected AggregateFunction(argMax, UInt64, UInt128),
  data_subjects_affected AggregateFunction(argMax, UInt64, UInt128),
  ai_system_id AggregateFunction(argMax, String, UInt128),
  occurred_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  contained_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  resolved_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  closed_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  regulator_notified_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8)
) ENGINE = AggregatingMergeTree
ORDER BY (incident_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS incident_state_mv TO incident_state AS
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
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(regulator_notified_at) + 1, 0)), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;

INSERT INTO incident_state
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
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(regulator_notified_at) + 1, 0)), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;

CREATE TABLE IF NOT EXISTS finding_state (
  finding_id String,
  version AggregateFunction(max, UInt128),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  audit_id AggregateFunction(argMax, String, UInt128),
  audit_type AggregateFunction(argMax, String, UInt128),
  standard AggregateFunction(argMax, String, UInt128),
  clause AggregateFunction(argMax, String, UInt128),
  kind AggregateFunction(argMax, String, UInt128),
  status AggregateFunction(argMax, String, UInt128),
  business_unit AggregateFunction(argMax, String, UInt128),
  title AggregateFunction(argMax, String, UInt128),
  owner AggregateFunction(argMax, String, UInt128),
  raised_at AggregateFunction(argMax, DateTime64(3, 'UTC'), UInt128),
  due_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  closed_at AggregateFunction(argMaxIf, Int64, UInt128, UInt8),
  repeat_of AggregateFunction(argMaxIf, String, UInt128, UInt8)
) ENGINE = AggregatingMergeTree
ORDER BY (finding_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS finding_state_mv TO finding_state AS
SELECT
  toString(finding_id) AS finding_id,
  maxState(__k) AS version,
  minState(event_time) AS first_event_at,
  maxState(event_time) AS last_event_at,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(audit_id, __k) AS audit_id,
  argMaxState(toString(audit_type), __k) AS audit_type,
  argMaxState(toString(standard), __k) AS standard,
  argMaxState(toString(clause), __k) AS clause,
  argMaxState(toString(kind), __k) AS kind,
  argMaxState(toString(status), __k) AS status,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(title, __k) AS title,
  argMaxState(owner, __k) AS owner,
  argMaxState(raised_at, __k) AS raised_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(due_at) + 1, 0)), __k, due_at IS NOT NULL) AS due_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(closed_at) + 1, 0)), __k, (closed_at IS NOT NULL) OR __rank < 3) AS closed_at,
  argMaxIfState(if(repeat_of != '', toString(repeat_of), ''), __k, repeat_of != '') AS repeat_of
FROM (SELECT *, multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM audit_finding_events WHERE 1)
GROUP BY finding_id;

INSERT INTO finding_state
SELECT
  toString(finding_id) AS finding_id,
  maxState(__k) AS version,
  minState(event_time) AS first_event_at,
  maxState(event_time) AS last_event_at,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(audit_id, __k) AS audit_id,
  argMaxState(toString(audit_type), __k) AS audit_type,
  argMaxState(toString(standard), __k) AS standard,
  argMaxState(toString(clause), __k) AS clause,
  argMaxState(toString(kind), __k) AS kind,
  argMaxState(toString(status), __k) AS status,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(title, __k) AS title,
  argMaxState(owner, __k) AS owner,
  argMaxState(raised_at, __k) AS raised_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(due_at) + 1, 0)), __k, due_at IS NOT NULL) AS due_at,
  argMaxIfState(toInt64(ifNull(toUnixTimestamp64Milli(closed_at) + 1, 0)), __k, (closed_at IS NOT NULL) OR __rank < 3) AS closed_at,
  argMaxIfState(if(repeat_of != '', toString(repeat_of), ''), __k, repeat_of != '') AS repeat_of
FROM (SELECT *, multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0) AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM audit_finding_events WHERE 1)
GROUP BY finding_id;

CREATE TABLE IF NOT EXISTS model_version_state (
  model_id String,
  environment LowCardinality(String),
  model_version String,
  version AggregateFunction(max, UInt128),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  business_unit AggregateFunction(argMax, String, UInt128),
  sample_size AggregateFunction(argMax, UInt64, UInt128),
  window_end AggregateFunction(argMax, DateTime64(3, 'UTC'), UInt128),
  baseline_version AggregateFunction(argMaxIf, String, UInt128, UInt8),
  accuracy AggregateFunction(argMaxIf, Float64, UInt128, UInt8),
  accuracy_given AggregateFunction(max, UInt8),
  precision AggregateFunction(argMaxIf, Float64, UInt128, UInt8),
  precision_given AggregateFunction(max, UInt8),
  recall AggregateFunction(argMaxIf, Float64, UInt128, UInt8),
  recall_given AggregateFunction(max, UInt8),
  f1 AggregateFunction(argMaxIf, Float64, UInt128, UInt8),
  f1_given AggregateFunction(max, UInt8),
  auc AggregateFunction(argMaxIf, Float64, UInt128, UInt8),
  auc_given AggregateFunction(max, UInt8)
) ENGINE = AggregatingMergeTree
ORDER BY (model_id, environment, model_version);

CREATE MATERIALIZED VIEW IF NOT EXISTS model_version_state_mv TO model_version_state AS
SELECT
  toString(model_id) AS model_id,
  toString(environment) AS environment,
  toString(model_version) AS model_version,
  maxState(__k) AS version,
  minState(event_time) AS first_event_at,
  maxState(event_time) AS last_event_at,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(sample_size, __k) AS sample_size,
  argMaxState(window_end, __k) AS window_end,
  argMaxIfState(if(baseline_version != '', toString(baseline_version), ''), __k, baseline_version != '') AS baseline_version,
  argMaxIfState(toFloat64(metrics['accuracy']), __k, mapContains(metrics, 'accuracy')) AS accuracy,
  maxIfState(toUInt8(1), mapContains(metrics, 'accuracy')) AS accuracy_given,
  argMaxIfState(toFloat64(metrics['precision']), __k, mapContains(metrics, 'precision')) AS precision,
  maxIfState(toUInt8(1), mapContains(metrics, 'precision')) AS precision_given,
  argMaxIfState(toFloat64(metrics['recall']), __k, mapContains(metrics, 'recall')) AS recall,
  maxIfState(toUInt8(1), mapContains(metrics, 'recall')) AS recall_given,
  argMaxIfState(toFloat64(metrics['f1']), __k, mapContains(metrics, 'f1')) AS f1,
  maxIfState(toUInt8(1), mapContains(metrics, 'f1')) AS f1_given,
  argMaxIfState(toFloat64(metrics['auc']), __k, mapContains(metrics, 'auc')) AS auc,
  maxIfState(toUInt8(1), mapContains(metrics, 'auc')) AS auc_given
FROM (SELECT *, 0 AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM model_metric_events WHERE 1)
GROUP BY model_id, environment, model_version;

INSERT INTO model_version_state
SELECT
  toString(model_id) AS model_id,
  toString(environment) AS environment,
  toString(model_version) AS model_version,
  maxState(__k) AS version,
  minState(event_time) AS first_event_at,
  maxState(event_time) AS last_event_at,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(toString(business_unit), __k) AS business_unit,
  argMaxState(sample_size, __k) AS sample_size,
  argMaxState(window_end, __k) AS window_end,
  argMaxIfState(if(baseline_version != '', toString(baseline_version), ''), __k, baseline_version != '') AS baseline_version,
  argMaxIfState(toFloat64(metrics['accuracy']), __k, mapContains(metrics, 'accuracy')) AS accuracy,
  maxIfState(toUInt8(1), mapContains(metrics, 'accuracy')) AS accuracy_given,
  argMaxIfState(toFloat64(metrics['precision']), __k, mapContains(metrics, 'precision')) AS precision,
  maxIfState(toUInt8(1), mapContains(metrics, 'precision')) AS precision_given,
  argMaxIfState(toFloat64(metrics['recall']), __k, mapContains(metrics, 'recall')) AS recall,
  maxIfState(toUInt8(1), mapContains(metrics, 'recall')) AS recall_given,
  argMaxIfState(toFloat64(metrics['f1']), __k, mapContains(metrics, 'f1')) AS f1,
  maxIfState(toUInt8(1), mapContains(metrics, 'f1')) AS f1_given,
  argMaxIfState(toFloat64(metrics['auc']), __k, mapContains(metrics, 'auc')) AS auc,
  maxIfState(toUInt8(1), mapContains(metrics, 'auc')) AS auc_given
FROM (SELECT *, 0 AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM model_metric_events WHERE 1)
GROUP BY model_id, environment, model_version;

CREATE TABLE IF NOT EXISTS fairness_group_state (
  model_id String,
  environment LowCardinality(String),
  model_version String,
  attribute LowCardinality(String),
  group_name String,
  version AggregateFunction(max, UInt128),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  tp AggregateFunction(argMax, UInt64, UInt128),
  fp AggregateFunction(argMax, UInt64, UInt128),
  tn AggregateFunction(argMax, UInt64, UInt128),
  fn AggregateFunction(argMax, UInt64, UInt128),
  selected AggregateFunction(argMax, UInt64, UInt128),
  total AggregateFunction(argMax, UInt64, UInt128),
  cell_attributes AggregateFunction(argMax, Array(String), UInt128)
) ENGINE = AggregatingMergeTree
ORDER BY (model_id, environment, model_version, attribute, group_name);

CREATE MATERIALIZED VIEW IF NOT EXISTS fairness_group_state_mv TO fairness_group_state AS
SELECT
  toString(model_id) AS model_id,
  toString(environment) AS environment,
  toString(model_version) AS model_version,
  toString(attribute) AS attribute,
  toString(group_name) AS group_name,
  maxState(__k) AS version,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(tp, __k) AS tp,
  argMaxState(fp, __k) AS fp,
  argMaxState(tn, __k) AS tn,
  argMaxState(fn, __k) AS fn,
  argMaxState(selected, __k) AS selected,
  argMaxState(total, __k) AS total,
  argMaxState(cell_attributes, __k) AS cell_attributes
FROM (SELECT *, 0 AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM model_group_counts WHERE 1)
GROUP BY model_id, environment, model_version, attribute, group_name;

INSERT INTO fairness_group_state
SELECT
  toString(model_id) AS model_id,
  toString(environment) AS environment,
  toString(model_version) AS model_version,
  toString(attribute) AS attribute,
  toString(group_name) AS group_name,
  maxState(__k) AS version,
  maxState(ingested_at) AS last_ingested_at,
  argMaxState(tp, __k) AS tp,
  argMaxState(fp, __k) AS fp,
  argMaxState(tn, __k) AS tn,
  argMaxState(fn, __k) AS fn,
  argMaxState(selected, __k) AS selected,
  argMaxState(total, __k) AS total,
  argMaxState(cell_attributes, __k) AS cell_attributes
FROM (SELECT *, 0 AS __rank, bitShiftLeft(toUInt128(toUnixTimestamp64Milli(event_time)), 72) + bitShiftLeft(toUInt128(toUInt8(__rank)), 64) + toUInt128(cityHash64(event_id)) AS __k FROM model_group_counts WHERE 1)
GROUP BY model_id, environment, model_version, attribute, group_name;
