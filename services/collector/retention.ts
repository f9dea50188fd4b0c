import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import type { Logger } from '../../shared/logger.js'

/**
 * Retention of dead-letter payloads in ClickHouse (COLLECTOR_DEAD_LETTER_TTL_DAYS): a column TTL on
 * `value_base64` and `headers`, the parts that hold what producers sent (privacy incidents carry personal
 * data). The row itself stays (what was rejected, when and why, its length and sha256); ClickHouse
 * empties the payload at its next TTL merge after the deadline. 0 keeps payloads forever.
 *
 * Applied at start-up with ALTER TABLE, only when the table's current TTL differs: an ALTER rewrites the
 * TTL of every part, which is not worth doing on each start. Idempotent, so collectors racing at start-up
 * both succeed.
 */

const PAYLOAD_COLUMNS = [
  { name: 'value_base64', type: 'String' },
  { name: 'headers', type: 'Map(String, String)' },
] as const

/** The TTL in days each payload column has now (0: none), from the table's CREATE statement. */
export function payloadTtlDays(createTableQuery: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const { name, type } of PAYLOAD_COLUMNS) {
    const escapedType = type.replace(/[()]/g, '\\$&')
    const m = new RegExp(
      `\`${name}\` ${escapedType} TTL toDateTime\\(received_at\\) \\+ toIntervalDay\\((\\d+)\\)`,
    ).exec(createTableQuery)
    out.set(name, m ? Number(m[1]) : 0)
  }
  return out
}

export async function applyDeadLetterRetention(ch: ClickHouse, days: number, log: Logger): Promise<void> {
  const [table] = await queryRows<{ create_table_query: string }>(
    ch,
    "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'dead_letters'",
  )
  if (table === undefined) throw new Error('table dead_letters is missing; migrations must run first')
  const current = payloadTtlDays(table.create_table_query)
  for (const { name, type } of PAYLOAD_COLUMNS) {
    if (current.get(name) === days) continue
    await ch.client.command({
      query:
        days === 0
          ? `ALTER TABLE dead_letters MODIFY COLUMN ${name} REMOVE TTL`
          : `ALTER TABLE dead_letters MODIFY COLUMN ${name} ${type} TTL toDateTime(received_at) + INTERVAL ${days} DAY`,
    })
    log.info({ column: name, days, was: current.get(name) }, 'dead-letter payload retention applied')
  }
}
