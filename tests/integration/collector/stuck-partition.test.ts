import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Config } from '../../../shared/config/env.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { bearer, testAuth } from '../../helpers/api.js'
import { type SpawnedClickHouse, spawnLocalClickHouse } from '../../helpers/clickhouse-server.js'
import { findingEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  configEnv,
  openStack,
  produce,
  spawnService,
  type TestStack,
  uncommitted,
} from '../../helpers/pipeline.js'

interface Readiness {
  httpStatus: number
  status: string
  components: Record<string, { ready: boolean; degraded?: boolean; detail?: string }>
}

/** Per-partition samples of one metric from the Prometheus text format. */
function samples(text: string, metric: string, topic: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue
    const labels = line.slice(metric.length + 1, line.indexOf('}'))
    if (!labels.includes(`topic="${topic}"`)) continue
    const partition = /partition="(\d+)"/.exec(labels)?.[1]
    if (partition !== undefined) out.set(partition, Number(line.slice(line.lastIndexOf(' ') + 1)))
  }
  return out
}

/**
 * A partition that stops advancing while it has lag shows, in the collector as its own process: /readyz
 * stays 200 but says "degraded" naming the topic and partition, and /metrics gives its lag (not 0) and
 * how long it has stalled. The stall is real: the audit-finding fact table is renamed away on the
 * ClickHouse server process, so only that topic's inserts fail.
 */
describe('collector: a stuck partition is visible', () => {
  let server: SpawnedClickHouse
  let cfg: Config
  let stack: TestStack

  beforeAll(async () => {
    const base = testConfig()
    server = await spawnLocalClickHouse(join(base.CLICKHOUSE_DATA_DIR, 'server-stuck'))
    cfg = { ...base, CLICKHOUSE_URL: server.url }
    stack = await openStack(cfg)
  })
  afterAll(async () => {
    await stack?.close()
    await server?.stop()
  })

  it('reports the stalled partition in /readyz and /metrics, and clears once it advances', async () => {
    const topic = topicNames(cfg).auditFindings
    // Readiness details and metrics are for an admin: the collector accepts the test's tokens.
    const auth = testAuth()
    const tokensFile = join(cfg.CLICKHOUSE_DATA_DIR, `tokens-${process.pid}`)
    mkdirSync(cfg.CLICKHOUSE_DATA_DIR, { recursive: true })
    writeFileSync(tokensFile, auth.tokensFile)
    const admin = bearer(auth.tokens.admin)
    const collector = spawnService('collector', {
      ...configEnv(cfg),
      HTTP_TOKENS_FILE: tokensFile,
      // Info, for the start-up line that says where it listens (HTTP_PORT 0 picks a free port).
      LOG_LEVEL: 'info',
      HTTP_PORT: '0',
      COLLECTOR_STUCK_AFTER_MS: '2000',
      COLLECTOR_MAX_BACKOFF_MS: '1000',
    })
    let renamed = false
    try {
      const base = await waitFor(
        'the collector to listen',
        () => /"url":"(http:\/\/[^"]+)"/.exec(collector.output())?.[1],
        60_000,
      )
      const readyz = async (): Promise<Readiness> => {
        const res = await fetch(`${base}/readyz`, { headers: admin })
        return { httpStatus: res.status, ...((await res.json()) as Omit<Readiness, 'httpStatus'>) }
      }
      const metrics = async () => (await fetch(`${base}/metrics`, { headers: admin })).text()
      await waitFor('ready', async () => ((await readyz()).status === 'ready' ? true : undefined), 60_000)

      await stack.ch.client.command({
        query: 'RENAME TABLE audit_finding_events TO audit_finding_events_away',
      })
      renamed = true
      const findings = Array.from({ length: 30 }, (_, i) =>
        findingEvent({
          findingId: `F-STUCK-${i}`,
          time: '2026-05-01T10:00:00Z',
          status: 'open',
          raisedAt: '2026-05-01T09:00:00Z',
        }),
      )
      await produce(
        stack.kafka,
        topic,
        findings.map((e) => ({ key: e.data.findingId, value: JSON.stringify(e) })),
      )

      const degraded = await waitFor('readyz to report the stuck partitions', async () => {
        const r = await readyz()
        return r.status === 'degraded' ? r : undefined
      })
      // Still ready: the other topics flow; the detail names what is stuck.
      expect(degraded.httpStatus).toBe(200)
      const detail = degraded.components['kafka-partitions']?.detail ?? ''
      expect(detail).toMatch(
        new RegExp(`${topic.replace(/\./g, '\\.')}\\[\\d\\] has not advanced for \\d+ s`),
      )
      const text = await metrics()
      const lag = samples(text, 'aims_collector_consumer_lag', topic)
      expect([...lag.values()].reduce((a, b) => a + b, 0)).toBe(findings.length)
      const stalled = samples(text, 'aims_collector_partition_stalled_seconds', topic)
      expect(Math.max(...stalled.values())).toBeGreaterThanOrEqual(2)
      for (const [partition, seconds] of stalled) {
        if ((lag.get(partition) ?? 0) === 0) expect(seconds, `partition ${partition}`).toBe(0)
      }

      await stack.ch.client.command({
        query: 'RENAME TABLE audit_finding_events_away TO audit_finding_events',
      })
      renamed = false
      await waitFor(
        'the backlog committed',
        async () =>
          (await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
        60_000,
      )
      await waitFor('readyz ready and the lag 0 again', async () => {
        const [r, m] = await Promise.all([readyz(), metrics()])
        const lagNow = samples(m, 'aims_collector_consumer_lag', topic)
        return r.status === 'ready' && lagNow.size > 0 && [...lagNow.values()].every((v) => v === 0)
          ? true
          : undefined
      })
    } finally {
      if (renamed) {
        await stack.ch.client.command({
          query: 'RENAME TABLE audit_finding_events_away TO audit_finding_events',
        })
      }
      collector.child.kill('SIGKILL')
    }
  }, 180_000)
})
