import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDeadLetterRetention, payloadTtlDays } from '../../../services/collector/retention.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { testConfig } from '../../helpers/infra.js'
import { openStack, type TestStack } from '../../helpers/pipeline.js'

/** COLLECTOR_DEAD_LETTER_TTL_DAYS reaches the dead_letters table at start-up, changes it, and removes it. */
describe('dead-letter payload retention', () => {
  let stack: TestStack
  beforeAll(async () => {
    stack = await openStack(testConfig())
  })
  afterAll(async () => {
    await stack?.close()
  })

  const current = async () => {
    const [t] = await queryRows<{ create_table_query: string }>(
      stack.ch,
      "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'dead_letters'",
    )
    return payloadTtlDays(t!.create_table_query)
  }

  it('applies, changes and removes the TTL of the payload columns, idempotently', async () => {
    // The migration leaves payloads without a TTL; the collector's start-up sets it.
    expect(await current()).toEqual(
      new Map([
        ['value_base64', 0],
        ['headers', 0],
      ]),
    )
    await applyDeadLetterRetention(stack.ch, 30, stack.log)
    expect(await current()).toEqual(
      new Map([
        ['value_base64', 30],
        ['headers', 30],
      ]),
    )
    // Two collectors starting at once both succeed.
    await Promise.all([
      applyDeadLetterRetention(stack.ch, 7, stack.log),
      applyDeadLetterRetention(stack.ch, 7, stack.log),
    ])
    expect(await current()).toEqual(
      new Map([
        ['value_base64', 7],
        ['headers', 7],
      ]),
    )
    await applyDeadLetterRetention(stack.ch, 0, stack.log)
    expect(await current()).toEqual(
      new Map([
        ['value_base64', 0],
        ['headers', 0],
      ]),
    )
    // The other columns keep no TTL, and rows can still be written.
    await stack.ch.client.insert({
      table: 'dead_letters',
      values: [
        {
          topic: 't',
          partition: 0,
          offset: '1',
          key: null,
          value_base64: 'eA==',
          headers: {},
          error_type: 'not_json',
          reason: 'r',
        },
      ],
      format: 'JSONEachRow',
    })
    const [row] = await queryRows<{ value_bytes: string; value_sha256: string }>(
      stack.ch,
      'SELECT value_bytes, value_sha256 FROM dead_letters FINAL',
    )
    expect(row).toEqual({ value_bytes: '0', value_sha256: '' })
  })
})
