import { startAlerter } from '../../services/alerter/alerter.js'
import { runDemoFeed } from '../../services/demo/feed.js'
import { startProcessor } from '../../services/processor/processor.js'
import type { Config } from '../../shared/config/env.js'
import { HttpServer } from '../../shared/http/server.js'
import { eventTopics, topicNames } from '../../shared/kafka/topics.js'
import { createRedis } from '../../shared/redis/client.js'
import { waitFor } from './infra.js'
import {
  count,
  openStack,
  produce,
  readExampleLines,
  startTestCollector,
  type TestStack,
  uncommitted,
} from './pipeline.js'

/**
 * A realistic data set produced the way production produces it: the demo generator's months of
 * history (and a few invalid events) through Kafka, the collector into the fact tables, the processor
 * evaluating the catalog (triggers, then a sweep) into kpi_values and breach_transitions, and the alerter
 * delivering every alert (console sink) and logging each attempt in alert_deliveries. Returns the stack
 * with ClickHouse open and the services stopped.
 */
export async function loadRealisticDataset(cfg: Config): Promise<TestStack> {
  const stack = await openStack(cfg)
  const redis = createRedis(cfg, 'worker')
  const http = new HttpServer(stack.health, stack.log)
  const collector = await startTestCollector(stack)
  const processor = await startProcessor({
    cfg,
    log: stack.log,
    kafka: stack.kafka,
    ch: stack.ch,
    redis,
    health: stack.health,
    http,
    aimsConfig: undefined,
    scheduleSweep: false,
  })
  const alerter = await startAlerter({ cfg, log: stack.log, clickhouse: stack.ch, health: stack.health })
  try {
    const topics = topicNames(cfg)
    await runDemoFeed({
      kafka: stack.kafka,
      topics,
      seed: 42,
      history: true,
      months: 4,
      rate: 0,
      durationMs: 0,
      log: stack.log,
    })
    await produce(
      stack.kafka,
      topics.privacyIncidents,
      readExampleLines('invalid.jsonl').map((value) => ({ value })),
    )
    for (const topic of eventTopics(topics)) {
      await waitFor(
        `${topic} stored`,
        async () =>
          (await uncommitted(stack.kafka, cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
        120_000,
      )
    }
    await waitFor(
      'triggers evaluated',
      async () =>
        (await uncommitted(stack.kafka, cfg.PROCESSOR_GROUP_ID, topics.kpiTriggers)) === 0 ? true : undefined,
      120_000,
    )
    await processor.sweepNow()
    await waitFor(
      'alerts delivered and logged',
      async () => {
        const jobs = await alerter.queue.getJobCounts('waiting', 'active', 'delayed')
        if ((jobs.waiting ?? 0) + (jobs.active ?? 0) + (jobs.delayed ?? 0) > 0) return undefined
        return (await count(stack.ch, 'SELECT count() AS n FROM alert_deliveries')) > 0 ? true : undefined
      },
      60_000,
    )
  } finally {
    await collector.stop()
    await processor.stop()
    await alerter.close()
    await alerter.queue.obliterate({ force: true }).catch(() => undefined)
    redis.disconnect()
    await http.close()
  }
  return stack
}
