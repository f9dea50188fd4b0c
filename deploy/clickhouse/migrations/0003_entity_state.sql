-- Entity state kept by ClickHouse at insert: generated from shared/kpi/entity-state.ts (a unit test
-- checks this file is exactly what that module generates). Each state table is an AggregatingMergeTree
-- of argMax states over the events' order key, fed by a materialized view and back-filled once from the
-- facts stored before it existed. Inserting the same event twice changes nothing.

CREATE TABLE IF NOT EXISTS incident_state (
  incident_id String,
  version AggregateFunction(max, Tuple(Int64, UInt8, UInt64)),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  status AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  severity AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  category AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  business_unit AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  notifiable AggregateFunction(argMax, Bool, Tuple(Int64, UInt8, UInt64)),
  detected_at AggregateFunction(argMax, DateTime64(3, 'UTC'), Tuple(Int64, UInt8, UInt64)),
  records_affected AggregateFunction(argMax, UInt64, Tuple(Int64, UInt8, UInt64)),
  data_subjects_affected AggregateFunction(argMax, UInt64, Tuple(Int64, UInt8, UInt64)),
  ai_system_id AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  controls AggregateFunction(argMax, Array(String), Tuple(Int64, UInt8, UInt64)),
  occurred_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  contained_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  resolved_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  closed_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  regulator_notified_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8)
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
  argMaxState(controls, __k) AS controls,
  argMaxIfState(tuple(occurred_at), __k, occurred_at IS NOT NULL) AS occurred_at,
  argMaxIfState(tuple(contained_at), __k, (contained_at IS NOT NULL) OR __rank < 2) AS contained_at,
  argMaxIfState(tuple(resolved_at), __k, (resolved_at IS NOT NULL) OR __rank < 4) AS resolved_at,
  argMaxIfState(tuple(closed_at), __k, (closed_at IS NOT NULL) OR __rank < 5) AS closed_at,
  argMaxIfState(tuple(regulator_notified_at), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
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
  argMaxState(controls, __k) AS controls,
  argMaxIfState(tuple(occurred_at), __k, occurred_at IS NOT NULL) AS occurred_at,
  argMaxIfState(tuple(contained_at), __k, (contained_at IS NOT NULL) OR __rank < 2) AS contained_at,
  argMaxIfState(tuple(resolved_at), __k, (resolved_at IS NOT NULL) OR __rank < 4) AS resolved_at,
  argMaxIfState(tuple(closed_at), __k, (closed_at IS NOT NULL) OR __rank < 5) AS closed_at,
  argMaxIfState(tuple(regulator_notified_at), __k, regulator_notified_at IS NOT NULL) AS regulator_notified_at
FROM (SELECT *, multiIf(status = 'detected', 1, status = 'contained', 2, status = 'notified', 3, status = 'resolved', 4, status = 'closed', 5, 0) AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM privacy_incident_events WHERE 1)
GROUP BY incident_id;

CREATE TABLE IF NOT EXISTS finding_state (
  finding_id String,
  version AggregateFunction(max, Tuple(Int64, UInt8, UInt64)),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  audit_id AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  audit_type AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  standard AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  clause AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  kind AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  status AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  business_unit AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  title AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  owner AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  raised_at AggregateFunction(argMax, DateTime64(3, 'UTC'), Tuple(Int64, UInt8, UInt64)),
  due_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  closed_at AggregateFunction(argMaxIf, Tuple(Nullable(DateTime64(3, 'UTC'))), Tuple(Int64, UInt8, UInt64), UInt8),
  repeat_of AggregateFunction(argMaxIf, Tuple(Nullable(String)), Tuple(Int64, UInt8, UInt64), UInt8)
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
  argMaxIfState(tuple(due_at), __k, due_at IS NOT NULL) AS due_at,
  argMaxIfState(tuple(closed_at), __k, (closed_at IS NOT NULL) OR __rank < 3) AS closed_at,
  argMaxIfState(tuple(if(repeat_of != '', toNullable(toString(repeat_of)), NULL)), __k, repeat_of != '') AS repeat_of
FROM (SELECT *, multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0) AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM audit_finding_events WHERE 1)
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
  argMaxIfState(tuple(due_at), __k, due_at IS NOT NULL) AS due_at,
  argMaxIfState(tuple(closed_at), __k, (closed_at IS NOT NULL) OR __rank < 3) AS closed_at,
  argMaxIfState(tuple(if(repeat_of != '', toNullable(toString(repeat_of)), NULL)), __k, repeat_of != '') AS repeat_of
FROM (SELECT *, multiIf(status = 'open', 1, status = 'in_progress', 2, status = 'closed', 3, status = 'verified', 4, 0) AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM audit_finding_events WHERE 1)
GROUP BY finding_id;

CREATE TABLE IF NOT EXISTS model_version_state (
  model_id String,
  environment LowCardinality(String),
  model_version String,
  version AggregateFunction(max, Tuple(Int64, UInt8, UInt64)),
  first_event_at AggregateFunction(min, DateTime64(3, 'UTC')),
  last_event_at AggregateFunction(max, DateTime64(3, 'UTC')),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  business_unit AggregateFunction(argMax, String, Tuple(Int64, UInt8, UInt64)),
  sample_size AggregateFunction(argMax, UInt64, Tuple(Int64, UInt8, UInt64)),
  window_end AggregateFunction(argMax, DateTime64(3, 'UTC'), Tuple(Int64, UInt8, UInt64)),
  baseline_version AggregateFunction(argMaxIf, Tuple(Nullable(String)), Tuple(Int64, UInt8, UInt64), UInt8),
  accuracy AggregateFunction(argMaxIf, Tuple(Nullable(Float64)), Tuple(Int64, UInt8, UInt64), UInt8),
  precision AggregateFunction(argMaxIf, Tuple(Nullable(Float64)), Tuple(Int64, UInt8, UInt64), UInt8),
  recall AggregateFunction(argMaxIf, Tuple(Nullable(Float64)), Tuple(Int64, UInt8, UInt64), UInt8),
  f1 AggregateFunction(argMaxIf, Tuple(Nullable(Float64)), Tuple(Int64, UInt8, UInt64), UInt8),
  auc AggregateFunction(argMaxIf, Tuple(Nullable(Float64)), Tuple(Int64, UInt8, UInt64), UInt8)
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
  argMaxIfState(tuple(if(baseline_version != '', toNullable(toString(baseline_version)), NULL)), __k, baseline_version != '') AS baseline_version,
  argMaxIfState(tuple(if(mapContains(metrics, 'accuracy'), toNullable(toFloat64(metrics['accuracy'])), NULL)), __k, mapContains(metrics, 'accuracy')) AS accuracy,
  argMaxIfState(tuple(if(mapContains(metrics, 'precision'), toNullable(toFloat64(metrics['precision'])), NULL)), __k, mapContains(metrics, 'precision')) AS precision,
  argMaxIfState(tuple(if(mapContains(metrics, 'recall'), toNullable(toFloat64(metrics['recall'])), NULL)), __k, mapContains(metrics, 'recall')) AS recall,
  argMaxIfState(tuple(if(mapContains(metrics, 'f1'), toNullable(toFloat64(metrics['f1'])), NULL)), __k, mapContains(metrics, 'f1')) AS f1,
  argMaxIfState(tuple(if(mapContains(metrics, 'auc'), toNullable(toFloat64(metrics['auc'])), NULL)), __k, mapContains(metrics, 'auc')) AS auc
FROM (SELECT *, 0 AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM model_metric_events WHERE 1)
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
  argMaxIfState(tuple(if(baseline_version != '', toNullable(toString(baseline_version)), NULL)), __k, baseline_version != '') AS baseline_version,
  argMaxIfState(tuple(if(mapContains(metrics, 'accuracy'), toNullable(toFloat64(metrics['accuracy'])), NULL)), __k, mapContains(metrics, 'accuracy')) AS accuracy,
  argMaxIfState(tuple(if(mapContains(metrics, 'precision'), toNullable(toFloat64(metrics['precision'])), NULL)), __k, mapContains(metrics, 'precision')) AS precision,
  argMaxIfState(tuple(if(mapContains(metrics, 'recall'), toNullable(toFloat64(metrics['recall'])), NULL)), __k, mapContains(metrics, 'recall')) AS recall,
  argMaxIfState(tuple(if(mapContains(metrics, 'f1'), toNullable(toFloat64(metrics['f1'])), NULL)), __k, mapContains(metrics, 'f1')) AS f1,
  argMaxIfState(tuple(if(mapContains(metrics, 'auc'), toNullable(toFloat64(metrics['auc'])), NULL)), __k, mapContains(metrics, 'auc')) AS auc
FROM (SELECT *, 0 AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM model_metric_events WHERE 1)
GROUP BY model_id, environment, model_version;

CREATE TABLE IF NOT EXISTS fairness_group_state (
  model_id String,
  environment LowCardinality(String),
  model_version String,
  attribute LowCardinality(String),
  group_name String,
  version AggregateFunction(max, Tuple(Int64, UInt8, UInt64)),
  last_ingested_at AggregateFunction(max, DateTime64(3, 'UTC')),
  counts AggregateFunction(argMax, Tuple(UInt64, UInt64, UInt64, UInt64), Tuple(Int64, UInt8, UInt64))
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
  argMaxState((tp, fp, tn, fn), __k) AS counts
FROM (SELECT *, 0 AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM model_group_counts WHERE 1)
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
  argMaxState((tp, fp, tn, fn), __k) AS counts
FROM (SELECT *, 0 AS __rank, (toUnixTimestamp64Milli(event_time), toUInt8(__rank), cityHash64(event_id)) AS __k FROM model_group_counts WHERE 1)
GROUP BY model_id, environment, model_version, attribute, group_name;
