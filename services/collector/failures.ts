/**
 * Which write failures are about the data (retrying the same bytes will fail the same way, so retries
 * are bounded and the message is then recorded and skipped) and which are about the infrastructure
 * (ClickHouse or the broker down, slow or moving: retried until they succeed, the partition waits and
 * its lag shows). Only a rejected message's own writes are ever skipped; facts and triggers always wait.
 */

/**
 * ClickHouse error codes that mean "these rows cannot be stored as they are": parse and type errors,
 * values out of range, a string too large, a violated constraint. Everything else (unreachable, timeout,
 * unknown table, memory, too many parts) is the server's state, which changes.
 */
const CLICKHOUSE_DATA_ERRORS: ReadonlySet<number> = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  33, // CANNOT_READ_ALL_DATA
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  469, // VIOLATED_CONSTRAINT
])

/** The ClickHouse error code of a failure: the client's `code`, or "Code: N." in the message. */
export function clickHouseErrorCode(err: unknown): number | undefined {
  const code = Number((err as { code?: unknown } | null)?.code)
  if (Number.isInteger(code) && code > 0) return code
  const m = /\bCode: (\d+)\b/.exec(err instanceof Error ? err.message : String(err))
  return m ? Number(m[1]) : undefined
}

export function isClickHouseDataError(err: unknown): boolean {
  const code = clickHouseErrorCode(err)
  return code !== undefined && CLICKHOUSE_DATA_ERRORS.has(code)
}

/**
 * kafkajs failures that say nothing about the message: the broker is unreachable, slow, or its
 * partition leadership is moving. kafkajs wraps the last of its own retries' errors (originalError).
 */
const KAFKA_TRANSIENT_ERRORS: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
])
const KAFKA_TRANSIENT_PROTOCOL_TYPES: ReadonlySet<string> = new Set([
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_LEADER_FOR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'KAFKA_STORAGE_ERROR',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'NOT_CONTROLLER',
  'THROTTLING_QUOTA_EXCEEDED',
])

/**
 * Whether a produce failure is about the message rather than the cluster: the broker answered and
 * refused it (too large, invalid record, no such topic, not authorized, ...), or kafkajs could not even
 * encode it. Those count toward a dead letter's bounded attempts; a transient failure does not.
 */
export function isKafkaRefusal(err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const { name, type, originalError, cause } = e as {
      name?: string
      type?: string
      originalError?: unknown
      cause?: unknown
    }
    if (name !== undefined && KAFKA_TRANSIENT_ERRORS.has(name)) return false
    if (name === 'KafkaJSProtocolError')
      return type === undefined || !KAFKA_TRANSIENT_PROTOCOL_TYPES.has(type)
    const inner = originalError ?? cause
    if (inner === undefined) break
    e = inner
  }
  // Not a kafkajs error at all (a TypeError while encoding) or one with no transient cause: the message.
  const name = (err as { name?: string } | null)?.name ?? ''
  return !name.startsWith('KafkaJS') || name === 'KafkaJSNonRetriableError'
}
