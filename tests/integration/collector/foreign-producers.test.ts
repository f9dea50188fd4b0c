import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  count,
  openStack,
  readExampleLines,
  startTestCollector,
  type TestStack,
} from '../../helpers/pipeline.js'

const run = promisify(execFile)

/**
 * Events produced by a client that is not ours (kcat, librdkafka) land in ClickHouse with the state a
 * producer meant: per entity, the lifecycle step with the latest event time.
 */
describe('collector: events from kcat', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  const topics = () => topicNames(stack.cfg)

  beforeAll(async () => {
    stack = await openStack(testConfig())
    collector = await startTestCollector(stack)
  })
  afterAll(async () => {
    await collector?.stop()
    await stack?.close()
  })

  async function kcat(topic: string, lines: string[]): Promise<void> {
    const file = join(stack.cfg.CLICKHOUSE_DATA_DIR, `${topic}.jsonl`)
    writeFileSync(file, `${lines.join('\n')}\n`)
    await run('kcat', ['-P', '-b', stack.cfg.KAFKA_BROKERS!.join(','), '-t', topic, '-l', file])
  }

  function latestBy(lines: string[], idField: string, field: string): Map<string, unknown> {
    const best = new Map<string, { time: number; value: unknown }>()
    for (const line of lines) {
      const e = JSON.parse(line)
      const id = e.data[idField]
      const time = Date.parse(e.time)
      const prev = best.get(id)
      if (!prev || time > prev.time) best.set(id, { time, value: e.data[field] })
    }
    return new Map([...best].map(([k, v]) => [k, v.value]))
  }

  it('stores privacy incidents with their latest lifecycle state', async () => {
    const lines = readExampleLines('privacy-incidents.jsonl')
    await kcat(topics().privacyIncidents, lines)
    await waitFor('incidents stored', async () =>
      (await count(stack.ch, 'SELECT uniqExact(event_id) AS n FROM privacy_incident_events')) === lines.length
        ? true
        : undefined,
    )
    const rows = await queryRows<{ incident_id: string; status: string }>(
      stack.ch,
      `SELECT incident_id, argMax(status, (event_time, event_id)) AS status
       FROM privacy_incident_events GROUP BY incident_id`,
    )
    expect(new Map(rows.map((r) => [r.incident_id, r.status]))).toEqual(
      latestBy(lines, 'incidentId', 'status'),
    )
    const [first] = lines.map((l) => JSON.parse(l))
    const stored = await queryRows<Record<string, unknown>>(
      stack.ch,
      'SELECT severity, notifiable, records_affected, controls FROM privacy_incident_events WHERE event_id = {id:String}',
      { id: first.id },
    )
    expect(stored[0]).toMatchObject({
      severity: first.data.severity,
      notifiable: first.data.notifiable,
      records_affected: String(first.data.recordsAffected),
    })
  })

  it('stores model metrics with one row per protected group', async () => {
    const lines = readExampleLines('model-metrics.jsonl')
    await kcat(topics().modelMetrics, lines)
    const groups = lines
      .map((l) => JSON.parse(l))
      .reduce(
        (n, e) =>
          n + (e.data.fairness ?? []).reduce((m: number, a: { groups: unknown[] }) => m + a.groups.length, 0),
        0,
      )
    await waitFor('group counts stored', async () =>
      (await count(
        stack.ch,
        'SELECT count() AS n FROM (SELECT DISTINCT event_id, attribute, group_name FROM model_group_counts)',
      )) === groups
        ? true
        : undefined,
    )
    expect(await count(stack.ch, 'SELECT uniqExact(event_id) AS n FROM model_metric_events')).toBe(
      lines.length,
    )
    const e = JSON.parse(lines[0]!)
    const [m] = await queryRows<{ accuracy: number; sample_size: string }>(
      stack.ch,
      "SELECT metrics['accuracy'] AS accuracy, sample_size FROM model_metric_events WHERE event_id = {id:String}",
      { id: e.id },
    )
    expect(m).toEqual({ accuracy: e.data.metrics.accuracy, sample_size: String(e.data.sampleSize) })
  })

  it('stores audit findings with their latest status', async () => {
    const lines = readExampleLines('audit-findings.jsonl')
    await kcat(topics().auditFindings, lines)
    await waitFor('findings stored', async () =>
      (await count(stack.ch, 'SELECT uniqExact(event_id) AS n FROM audit_finding_events')) === lines.length
        ? true
        : undefined,
    )
    const rows = await queryRows<{ finding_id: string; status: string }>(
      stack.ch,
      `SELECT finding_id, argMax(status, (event_time, event_id)) AS status
       FROM audit_finding_events GROUP BY finding_id`,
    )
    expect(new Map(rows.map((r) => [r.finding_id, r.status]))).toEqual(latestBy(lines, 'findingId', 'status'))
  })
})
