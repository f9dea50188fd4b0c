-- What people did about a breach (clause 9.1 / 10.2 evidence): acknowledge, unacknowledge, assign,
-- comment; who (the authenticated name and roles) and when. Append-only: a later action never changes an
-- earlier row; the current acknowledgement and owner are the latest rows. action_id is random per request,
-- so the ReplacingMergeTree only folds a row written twice by a retried insert.

CREATE TABLE IF NOT EXISTS breach_actions (
  action_id String,
  breach_id String,
  fingerprint String,
  kpi_id LowCardinality(String),
  scope Map(LowCardinality(String), String),
  action LowCardinality(String),
  actor String,
  actor_roles Array(LowCardinality(String)),
  owner String,
  comment String,
  at DateTime64(3, 'UTC'),
  recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (breach_id, at, action_id);
