import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectorMetrics } from '../../../services/collector/metrics.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { incidentEvent, modelMetricsEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  count,
  openStack,
  produce,
  startTestCollector,
  type TestStack,
  uncommitted,
} from '../../helpers/pipeline.js'
import { readTopic, type TopicReader } from '../../helpers/topic-reader.js'

/**
 * Issue 10: a slow or failing topic never stops the others from being fetched. The privacy-incident
 * fact table is renamed away (a real, table-specific ClickHouse failure: only that topic's inserts fail),
 * and while the privacy partitions retry, model metrics produced in several rounds are each stored and
 * triggered. Then the table comes back and the privacy backlog is stored exactly once.
 */
describe('collector: partitions and topics never block each other', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let triggers: TopicReader

  beforeAll(async () => {
    // Small batches, so a partition's backlog is several batches and its lane must wait for a delivery.
    stack = await openStack(
      testConfig({
        COLLECTOR_MAX_BATCH_ROWS: '200',
        COLLECTOR_MAX_BACKOFF_MS: '1000',
        COLLECTOR_STUCK_AFTER_MS: '2000',
      }),
    )
    collector = await startTestCollector(stack)
    triggers = await readTopic(
      stack.kafka,
      topicNames(stack.cfg).kpiTriggers,
      `${stack.cfg.KAFKA_CLIENT_ID}-triggers`,
    )
  })
  afterAll(async () => {
    await triggers?.stop()
    await collector?.stop()
    await stack?.close()
  })

  const triggeredModels = () => {
    const models = new Set<string>()
    for (const m of triggers.messages) {
      for (const s of JSON.parse(m.value!.toString()).scopes) if (s.area === 'model') models.add(s.modelId)
    }
    return models
  }

  it('stores and triggers model metrics while every privacy partition fails, then catches up', async () => {
    const topics = topicNames(stack.cfg)
    await stack.ch.client.command({
      query: 'RENAME TABLE privacy_incident_events TO privacy_incident_events_away',
    })
    let restored = false
    try {
      // A backlog on every privacy partition, larger than one fetch, that cannot be stored.
      const incidentMessages = (from: number, n: number) =>
        Array.from({ length: n }, (_, j) => {
          const i = from + j
          const e = incidentEvent({
            incidentId: `INC-IND-${i % 300}`,
            status: 'detected',
            time: new Date(Date.UTC(2026, 3, 1) + i * 1000).toISOString(),
            detectedAt: '2026-04-01T00:00:00Z',
            notifiable: false,
          })
          return { key: e.data.incidentId, value: JSON.stringify({ ...e, id: `ind-${i}` }) }
        })
      let privacyProduced = 3000
      await produce(stack.kafka, topics.privacyIncidents, incidentMessages(0, privacyProduced))
      const pausedPrivacy = await waitFor('the privacy partitions to pause', async () => {
        const values = (await collectorMetrics().paused.get()).values
        const paused = values.filter((v) => v.labels.topic === topics.privacyIncidents && v.value === 1)
        return paused.length > 0 ? paused.length : undefined
      })
      expect(pausedPrivacy).toBeGreaterThan(0)

      // Rounds of model metrics, each waited for while the privacy partitions are still failing.
      for (let round = 0; round < 3; round++) {
        // The privacy partitions keep receiving events (a backed-up topic still has producers).
        await produce(stack.kafka, topics.privacyIncidents, incidentMessages(privacyProduced, 600))
        privacyProduced += 600
        const models = Array.from({ length: 6 }, (_, i) => `model-ind-${round}-${i}`)
        const events = models.map((modelId) =>
          modelMetricsEvent({
            modelId,
            modelVersion: '1',
            time: `2026-04-0${round + 2}T10:00:00Z`,
            groups: [
              { group: 'a', tp: 40, fp: 10, tn: 40, fn: 10 },
              { group: 'b', tp: 35, fp: 15, tn: 35, fn: 15 },
            ],
          }),
        )
        await produce(
          stack.kafka,
          topics.modelMetrics,
          events.map((e) => ({ key: e.data.modelId, value: JSON.stringify(e) })),
        )
        await waitFor(`model metrics of round ${round} stored`, async () =>
          (await count(
            stack.ch,
            'SELECT uniqExact(event_id) AS n FROM model_metric_events WHERE event_id IN {ids:Array(String)}',
            { ids: events.map((e) => e.id) },
          )) === events.length
            ? true
            : undefined,
        )
        await waitFor(`model metrics of round ${round} triggered`, () =>
          models.every((m) => triggeredModels().has(m)) ? true : undefined,
        )
        // Still failing: nothing of the privacy backlog is stored or committed.
        expect(await count(stack.ch, 'SELECT count() AS n FROM privacy_incident_events_away')).toBe(0)
        expect(await uncommitted(stack.kafka, stack.cfg.COLLECTOR_GROUP_ID, topics.privacyIncidents)).toBe(
          privacyProduced,
        )
      }
      expect(await uncommitted(stack.kafka, stack.cfg.COLLECTOR_GROUP_ID, topics.modelMetrics)).toBe(0)

      // The failing partitions show: readiness degraded naming them, their lag and stall time.
      const report = await waitFor('readiness to report the stuck partitions', () => {
        const r = stack.health.report()
        return r.status === 'degraded' ? r : undefined
      })
      expect(report.ready).toBe(true)
      expect(report.components['kafka-partitions']?.detail).toContain(`${topics.privacyIncidents}[`)
      expect(report.components['kafka-partitions']?.detail).not.toContain(topics.modelMetrics)
      const lag = (await collectorMetrics().lag.get()).values.filter(
        (v) => v.labels.topic === topics.privacyIncidents,
      )
      expect(lag.reduce((n, v) => n + v.value, 0)).toBe(privacyProduced)
      const stalled = (await collectorMetrics().stalledSeconds.get()).values
      expect(stalled.some((v) => v.labels.topic === topics.privacyIncidents && v.value >= 2)).toBe(true)
      expect(stalled.filter((v) => v.labels.topic === topics.modelMetrics).every((v) => v.value === 0)).toBe(
        true,
      )

      await stack.ch.client.command({
        query: 'RENAME TABLE privacy_incident_events_away TO privacy_incident_events',
      })
      restored = true
      await waitFor(
        'the privacy backlog stored and committed',
        async () =>
          (await uncommitted(stack.kafka, stack.cfg.COLLECTOR_GROUP_ID, topics.privacyIncidents)) === 0
            ? true
            : undefined,
        60_000,
      )
      expect(
        await count(
          stack.ch,
          "SELECT uniqExact(event_id) AS n FROM privacy_incident_events WHERE startsWith(event_id, 'ind-')",
        ),
      ).toBe(privacyProduced)
      const stillPaused = (await collectorMetrics().paused.get()).values.filter((v) => v.value === 1)
      expect(stillPaused).toEqual([])
      await waitFor('readiness back to ready and the lag read as 0', async () => {
        const lagAfter = (await collectorMetrics().lag.get()).values.filter(
          (v) => v.labels.topic === topics.privacyIncidents,
        )
        return stack.health.report().status === 'ready' &&
          lagAfter.length === 3 &&
          lagAfter.every((v) => v.value === 0)
          ? true
          : undefined
      })
    } finally {
      if (!restored) {
        await stack.ch.client.command({
          query: 'RENAME TABLE privacy_incident_events_away TO privacy_incident_events',
        })
      }
    }
  }, 180_000)
})
