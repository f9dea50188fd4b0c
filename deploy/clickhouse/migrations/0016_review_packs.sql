-- Management review packs (clause 9.3), frozen: one row per generated pack, never updated. The manifest
-- lists every figure with its KPI definition version, query parameters and the sha256 of its input rows;
-- sha256 is the manifest's hash and prev_sha256 the previous pack's, so packs form a chain that
-- `npm run review-pack -- --verify <pack id>` checks along with every figure.

CREATE TABLE IF NOT EXISTS review_packs (
  pack_id String,
  period String,
  period_start DateTime64(3, 'UTC'),
  period_end DateTime64(3, 'UTC'),
  generated_at DateTime64(3, 'UTC'),
  manifest String,
  sha256 String,
  prev_sha256 String,
  body_json String,
  body_html String
) ENGINE = MergeTree
ORDER BY (generated_at, pack_id);
