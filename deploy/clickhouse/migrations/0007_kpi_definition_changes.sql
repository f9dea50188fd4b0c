-- Every KPI definition version the pipeline has run with, and what changed from the one before it: the
-- trace that a threshold, a window or a KPI's SQL changed (shown as annotations beside the trends). A
-- version is recorded when a processor (or a backfill) first runs with it; `previous_version` is '' for a
-- KPI's first recorded version. `changes` lists the paths of the definition content that differ
-- (e.g. `config.warning`, `definition.window`, `sqlSha256`); `content` is the canonical JSON of the new
-- definition, so any two versions can be compared later. Replicas starting together write the same key.

CREATE TABLE IF NOT EXISTS kpi_definition_changes (
  changed_at DateTime64(3, 'UTC'),
  kpi_id LowCardinality(String),
  previous_version String,
  version String,
  changes Array(String),
  content String
) ENGINE = ReplacingMergeTree
ORDER BY (kpi_id, version, previous_version);
