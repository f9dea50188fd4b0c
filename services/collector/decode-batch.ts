import type { IHeaders, KafkaMessage } from 'kafkajs'
import { TabSeparatedRows } from '../../shared/clickhouse/tab-separated.js'
import {
  appendFactRows,
  decodeKafkaMessage,
  type FactRowByTable,
  type FactTable,
  factColumns,
  factTables,
  type KpiScope,
  scopesOf,
} from '../../shared/events/index.js'

/** A message the collector refused, with everything needed to replay it and to understand why. */
export interface Rejected {
  topic: string
  partition: number
  offset: string
  key: Buffer | null
  value: Buffer | null
  headers: IHeaders
  errorType: string
  reason: string
}

/** Rows per fact table, encoded as they are decoded, ready for one insert each. */
export type EncodedFacts = { [T in FactTable]: TabSeparatedRows<FactRowByTable[T]> }

function emptyEncodedFacts(): EncodedFacts {
  return Object.fromEntries(
    factTables.map((table) => [table, new TabSeparatedRows(factColumns[table])]),
  ) as EncodedFacts
}

export interface DecodedBatch {
  topic: string
  partition: number
  facts: EncodedFacts
  rejected: Rejected[]
  /** KPI scopes touched by the accepted events, deduplicated. */
  scopes: KpiScope[]
  /** The latest event time among the accepted events (ISO-8601), empty when none was accepted. */
  latestEventTime: string
  accepted: number
}

/**
 * Turns one Kafka batch into fact rows, rejects and touched scopes. Pure: no I/O, so it is unit tested
 * and the collector's hot path is one tight loop. A bad message never stops the batch.
 */
export function decodeBatch(
  topic: string,
  partition: number,
  messages: KafkaMessage[],
  maxEventBytes: number,
): DecodedBatch {
  const facts = emptyEncodedFacts()
  const rejected: Rejected[] = []
  const scopes = new Map<string, KpiScope>()
  let latestEventTime = ''
  let accepted = 0
  for (const message of messages) {
    const decoded = decodeKafkaMessage(message, maxEventBytes)
    if (!decoded.ok) {
      rejected.push({
        topic,
        partition,
        offset: message.offset,
        key: message.key ?? null,
        value: message.value,
        headers: message.headers ?? {},
        errorType: decoded.errorType,
        reason: decoded.reason,
      })
      continue
    }
    accepted++
    appendFactRows(facts, decoded.event)
    // RFC 3339 UTC timestamps of equal precision compare correctly as strings; mixed offsets are rare
    // and only make this "latest" approximate, which is all the trigger's latency figure needs.
    if (decoded.event.time > latestEventTime) latestEventTime = decoded.event.time
    for (const scope of scopesOf(decoded.event)) {
      const key = scopeKey(scope)
      if (!scopes.has(key)) scopes.set(key, scope)
    }
  }
  return { topic, partition, facts, rejected, scopes: [...scopes.values()], latestEventTime, accepted }
}

function scopeKey(scope: KpiScope): string {
  switch (scope.area) {
    case 'privacy':
      return `p\u0000${scope.incidentId}\u0000${scope.businessUnit}`
    case 'model':
      return `m\u0000${scope.modelId}\u0000${scope.modelVersion}\u0000${scope.environment}\u0000${scope.businessUnit}`
    case 'audit':
      return `a\u0000${scope.findingId}\u0000${scope.standard}\u0000${scope.clause}\u0000${scope.auditId}\u0000${scope.businessUnit}`
  }
}
