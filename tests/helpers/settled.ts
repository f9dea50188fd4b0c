import { eventTopics, topicNames } from '../../shared/kafka/topics.js'
import { waitFor } from './infra.js'
import { type TestStack, uncommitted } from './pipeline.js'

/**
 * Waits until the pipeline has caught up: the collector committed every event topic (so the events are
 * stored and their triggers published) and the processor committed every trigger (so they are evaluated
 * and their alert jobs enqueued).
 */
export async function settled(stack: Pick<TestStack, 'kafka' | 'cfg'>, timeoutMs = 120_000): Promise<void> {
  const topics = topicNames(stack.cfg)
  for (const topic of eventTopics(topics)) {
    await waitFor(
      `${topic} stored`,
      async () =>
        (await uncommitted(stack.kafka, stack.cfg.COLLECTOR_GROUP_ID, topic)) === 0 ? true : undefined,
      timeoutMs,
    )
  }
  await waitFor(
    'triggers evaluated',
    async () =>
      (await uncommitted(stack.kafka, stack.cfg.PROCESSOR_GROUP_ID, topics.kpiTriggers)) === 0
        ? true
        : undefined,
    timeoutMs,
  )
}
