import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClickHouse } from '../../../shared/clickhouse/client.js'
import type { Config } from '../../../shared/config/env.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { type SpawnedClickHouse, spawnLocalClickHouse } from '../../helpers/clickhouse-server.js'
import { incidentEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  configEnv,
  count,
  openStack,
  produce,
  spawnService,
  type TestStack,
  uncommitted,
} from '../../helpers/pipeline.js'

/**
 * The collector as its own process against a ClickHouse server (the project's local one), as in
 * production: killed with SIGKILL mid-stream, stopped with SIGTERM, and facing a ClickHouse outage.
 */
describe('collector: crashes, shutdown and ClickHouse outages', () => {
  let server: SpawnedClickHouse
  let cfg: Config
  let stack: TestStack
  let ch: ClickHouse
  const dataDir = () => join(cfg.CLICKHOUSE_DATA_DIR, 'server')

  beforeAll(async () => {
    const base = testConfig()
    server = await spawnLocalClickHouse(join(base.CLICKHOUSE_DATA_DIR, 'server'))
    cfg = { ...base, CLICKHOUSE_URL: server.url }
    stack = await openStack(cfg)
    ch = stack.ch
  })
  afterAll(async () => {
    await stack?.close()
    await server?.stop()
  })

  function events(from: number, n: number, tag: string) {
    return Array.from({ length: n }, (_, i) => {
      const e = incidentEvent({
        incidentId: `INC-${tag}-${(from + i) % 500}`,
        status: 'detected',
        time: new Date(Date.UTC(2026, 0, 1) + from + i).toISOString(),
        detectedAt: '2026-01-01T00:00:00Z',
        notifiable: false,
      })
      return { key: e.data.incidentId, value: JSON.stringify({ ...e, id: `${tag}-${from + i}` }) }
    })
  }

  it('stores every event exactly once after a SIGKILL mid-stream and a restart', async () => {
    const topic = topicNames(cfg).privacyIncidents
    const total = 30_000
    await produce(stack.kafka, topic, events(0, total, 'kill'))
    const first = spawnService('collector', { ...configEnv(cfg), COLLECTOR_MAX_BATCH_ROWS: '2000' })
    await waitFor(
      'the collector to store part of the stream',
      async () => {
        const n = await count(
          ch,
          "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE startsWith(event_id, 'kill-')",
        )
        return n > 0 && n < total ? n : undefined
      },
      60_000,
      20,
    )
    first.child.kill('SIGKILL')
    expect(await first.exited).toBe('SIGKILL')
    const storedAtKill = await count(
      ch,
      "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE startsWith(event_id, 'kill-')",
    )
    expect(storedAtKill).toBeLessThan(total)

    const second = spawnService('collector', configEnv(cfg))
    try {
      await waitFor(
        'every event stored and committed',
        async () =>
          (await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
        90_000,
      )
      // Redelivered batches may be stored twice before a merge; every product query is written for that,
      // and FINAL shows the deduplicated table.
      expect(
        await count(
          ch,
          "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE startsWith(event_id, 'kill-')",
        ),
      ).toBe(total)
      expect(
        await count(
          ch,
          "SELECT count() AS n FROM privacy_incident_events FINAL WHERE startsWith(event_id, 'kill-')",
        ),
      ).toBe(total)

      // SIGTERM: a clean exit, leaving the group.
      second.child.kill('SIGTERM')
      expect(await second.exited).toBe(0)
    } finally {
      second.child.kill('SIGKILL')
    }
  })

  it('pauses without committing while ClickHouse is down, reports not ready, and resumes by itself', async () => {
    const topic = topicNames(cfg).privacyIncidents
    const port = 20000 + (process.pid % 20000)
    const collector = spawnService('collector', {
      ...configEnv(cfg),
      HTTP_PORT: String(port),
      COLLECTOR_MAX_BACKOFF_MS: '1000',
    })
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
      return res
        ? {
            status: res.status,
            body: (await res.json()) as { components: Record<string, { ready: boolean }> },
          }
        : undefined
    }
    try {
      await waitFor(
        'collector ready',
        async () => ((await readyz())?.status === 200 ? true : undefined),
        60_000,
      )
      const before = await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)
      expect(before).toBe(0)

      await server.stop()
      await produce(stack.kafka, topic, events(0, 500, 'outage'))
      const notReady = await waitFor('readyz to report ClickHouse down', async () => {
        const r = await readyz()
        return r && r.status === 503 ? r : undefined
      })
      expect(notReady.body.components.clickhouse?.ready).toBe(false)
      // Nothing is committed while the batch cannot be stored.
      await new Promise((r) => setTimeout(r, 1500))
      expect(await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)).toBe(500)

      // The collector keeps its CLICKHOUSE_URL: the server comes back where it was.
      server = await spawnLocalClickHouse(dataDir(), Number(new URL(cfg.CLICKHOUSE_URL!).port))
      await waitFor(
        'the backlog stored and committed after the outage',
        async () =>
          (await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
        60_000,
      )
      expect(
        await count(
          ch,
          "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE startsWith(event_id, 'outage-')",
        ),
      ).toBe(500)
      await waitFor('ready again', async () => ((await readyz())?.status === 200 ? true : undefined))
    } finally {
      collector.child.kill('SIGKILL')
    }
  })
})
