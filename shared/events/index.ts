/** Event contracts v1 (CloudEvents 1.0): schemas, decoding, normalization to facts, KPI scopes, routing. */
export * from './audit-finding.js'
export {
  controlReference,
  TIMESTAMP_MAX_YEAR,
  TIMESTAMP_MIN_YEAR,
  TIMESTAMP_PATTERN,
  timestamp,
} from './common.js'
export { FORBIDDEN_KEYS, findUnsafeContent } from './content.js'
export * from './decode.js'
export * from './encode.js'
export { cloudEventSchema, EXTENSION_NAME } from './envelope.js'
export * from './fact-rows.js'
export { describeIssues, formatPath } from './issues.js'
export * from './jsonl.js'
export * from './kafka-headers.js'
export * from './model-metrics.js'
export * from './parse.js'
export * from './privacy-incident.js'
export * from './routing.js'
export * from './scopes.js'
export { epochMs, toClickHouseDateTime } from './time.js'
