import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backfillDemoHistory } from '../../../services/all-in-one/demo-history.js'
import type { Step } from '../../../services/all-in-one/startup.js'
import { generateHistory } from '../../../services/demo/generator.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { partitionKeyOf, topicForType } from '../../../shared/events/index.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { testConfig } from '../../helpers/infra.js'
import { openStack, produce, startTestCollector, type TestStack } from '../../helpers/pipeline.js'

/**
 * `npm start`'s demo history as trends: the demo's four months go through the real broker and collector
 * into ClickHouse, and the backfill started once they are stored writes a value of each KPI for every day
 * they cover, so the trend panels show months, not a series that begins today.
 */
describe('demo history: daily KPI trends', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>

  beforeAll(async () => {
    stack = await openStack(testConfig())
    collector = await startTestCollector(stack)
  })
  afterAll(async () => {
    await collector?.stop()
    await stack?.close()
  })

  const recorder = () => {
    const seen = {
      notes: [] as string[],
      done: undefined as string | undefined,
      failed: undefined as string | undefined,
    }
    const step: Step = {
      note: (d) => seen.notes.push(d),
      done: (r) => {
        seen.done = r ?? ''
      },
      fail: (r) => {
        seen.failed = r ?? ''
      },
    }
    return { seen, step }
  }

  it('waits for the history to be stored, then backfills each day; a second start adds nothing', async () => {
    const since = new Date()
    const events = generateHistory({ seed: 42, now: new Date(), months: 4 })
    const topics = topicNames(stack.cfg)
    const byTopic = new Map<string, { key: string; value: string }[]>()
    for (const e of events) {
      const topic = topicForType(e.type, topics)
      byTopic.set(topic, [
        ...(byTopic.get(topic) ?? []),
        { key: partitionKeyOf(e), value: JSON.stringify(e) },
      ])
    }
    // Started before the events are sent: it must wait until the collector has stored them all.
    const first = recorder()
    const run = backfillDemoHistory({
      ch: stack.ch,
      config: undefined,
      events: events.length,
      since,
      months: 4,
      step: first.step,
      log: stack.log,
      signal: new AbortController().signal,
    })
    for (const [topic, messages] of byTopic) await produce(stack.kafka, topic, messages)
    await run

    expect(first.seen.failed).toBeUndefined()
    expect(first.seen.notes.some((n) => n.startsWith('waiting for the history to be stored'))).toBe(true)
    expect(first.seen.done).toMatch(/^121 days from \d{4}-\d\d-\d\d, [\d,]+ values$/)

    const days = await queryRows<{ days: string; first: string; last: string }>(
      stack.ch,
      `SELECT uniqExact(as_of) AS days, toString(min(as_of)) AS first, toString(max(as_of)) AS last
       FROM kpi_history FINAL WHERE axis = 'event_time'`,
    )
    expect(Number(days[0]!.days)).toBe(121)
    expect(Date.parse(`${days[0]!.last}Z`) - Date.parse(`${days[0]!.first}Z`)).toBe(120 * 86_400_000)
    // A trend, not a flat line: the incidents opened in 30 days take several values over four months.
    const trend = await queryRows<{ values: string }>(
      stack.ch,
      `SELECT uniqExact(value) AS values FROM kpi_history FINAL
       WHERE axis = 'event_time' AND kpi_id = 'privacy.incidents_opened'`,
    )
    expect(Number(trend[0]!.values)).toBeGreaterThan(1)

    const rows = async () =>
      Number((await queryRows<{ n: string }>(stack.ch, 'SELECT count() AS n FROM kpi_history FINAL'))[0]!.n)
    const before = await rows()
    const second = recorder()
    await backfillDemoHistory({
      ch: stack.ch,
      config: undefined,
      events: events.length,
      since,
      months: 4,
      step: second.step,
      log: stack.log,
      signal: new AbortController().signal,
    })
    expect(second.seen.done).toMatch(/^121 days from .*, 0 values$/)
    expect(await rows()).toBe(before)
    // 121 daily evaluations: about 35 s on a quiet 2-core machine, over 60 s with other suites beside it.
    // A bound for a loaded machine, not a latency claim.
  }, 300_000)
})
