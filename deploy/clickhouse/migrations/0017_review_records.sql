-- The record of a management review (clause 9.3.3 outputs) attached to a pack: attendees, decisions and
-- actions, append-only (a correction is a new row; the latest by recorded_at is the record). The actions
-- become the next pack's "status of actions from previous reviews".

CREATE TABLE IF NOT EXISTS review_records (
  pack_id String,
  recorded_at DateTime64(3, 'UTC'),
  recorded_by String,
  record String,
  sha256 String
) ENGINE = MergeTree
ORDER BY (pack_id, recorded_at);
