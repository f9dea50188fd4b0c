import type { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Processor } from '../../../services/processor/processor.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { HttpServer } from '../../../shared/http/server.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { kpiDefinitionVersion } from '../../../shared/kpi/definition-version.js'
import { parseAimsConfig } from '../../../shared/kpi/thresholds.js'
import { createRedis } from '../../../shared/redis/client.js'
import { modelMetricsEvent } from '../../helpers/events.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  openStack,
  produce,
  startTestCollector,
  startTestProcessor,
  type TestStack,
} from '../../helpers/pipeline.js'

const HOUR = 3600_000
const KPI = 'model.disparate_impact_ratio'

/**
 * The processor stamps every KPI value and breach transition with the definition version it judged them
 * with; restarted with another threshold in the config file, it logs the change (old → new version, what
 * changed) and the series' later rows carry the new version: the series splits at the change.
 */
describe('processor: definition versions on values and transitions', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let redis: Redis
  let http: HttpServer
  let processor: Processor | undefined

  beforeAll(async () => {
    stack = await openStack(testConfig())
    redis = createRedis(stack.cfg, 'worker')
    http = new HttpServer(stack.health, stack.log)
    collector = await startTestCollector(stack)
  })
  afterAll(async () => {
    await processor?.stop()
    await collector?.stop()
    redis?.disconnect()
    await stack?.close()
  })

  const rowsOf = (table: 'kpi_values' | 'breach_transitions', time: string) =>
    queryRows<{ definition_version: string; status?: string; transition?: string }>(
      stack.ch,
      `SELECT DISTINCT definition_version, ${table === 'kpi_values' ? 'status' : 'transition'}, ${time} AS t
       FROM ${table} WHERE kpi_id = {k:String} AND scope['attribute'] = 'gender' ORDER BY t`,
      { k: KPI },
    )

  it('splits a series by version when the threshold changes', { timeout: 120_000 }, async () => {
    const before = kpiDefinitionVersion(getKpi(KPI), undefined)
    processor = await startTestProcessor(stack, { redis, http, scheduleSweep: false })
    await processor.ready()
    const unfair = modelMetricsEvent({
      modelId: 'hiring-ranker',
      modelVersion: '1.0',
      time: new Date(Date.now() - HOUR).toISOString(),
      groups: [
        { group: 'female', tp: 25, fp: 5, tn: 60, fn: 10 }, // selection rate 0.30
        { group: 'male', tp: 40, fp: 2, tn: 50, fn: 8 }, // 0.42: ratio 0.714, below 0.8
      ],
    })
    await produce(stack.kafka, topicNames(stack.cfg).modelMetrics, [
      { key: 'hiring-ranker', value: JSON.stringify(unfair) },
    ])
    const fired = await waitFor('the firing transition', async () => {
      const rows = await rowsOf('breach_transitions', 'at')
      return rows.length > 0 ? rows : undefined
    })
    expect(fired).toEqual([expect.objectContaining({ transition: 'firing', definition_version: before })])
    await processor.stop()
    processor = undefined

    // Restarted with the four-fifths rule relaxed to 0.7: the same value is healthy under the new definition.
    const config = parseAimsConfig({ kpis: { [KPI]: { warning: 0.7 } } })
    const after = kpiDefinitionVersion(getKpi(KPI), config)
    expect(after).not.toBe(before)
    processor = await startTestProcessor(stack, { redis, http, scheduleSweep: false, aimsConfig: config })
    await processor.ready()
    const transitions = await waitFor('the resolving transition', async () => {
      const rows = await rowsOf('breach_transitions', 'at')
      return rows.length > 1 ? rows : undefined
    })
    expect(transitions).toEqual([
      expect.objectContaining({ transition: 'firing', definition_version: before }),
      expect.objectContaining({ transition: 'resolved', definition_version: after }),
    ])
    const values = await rowsOf('kpi_values', 'evaluated_at')
    expect(values.map((v) => [v.definition_version, v.status])).toEqual([
      [before, 'warning'],
      [after, 'ok'],
    ])
    const changes = await queryRows<{ previous_version: string; version: string; changes: string[] }>(
      stack.ch,
      `SELECT previous_version, version, changes FROM kpi_definition_changes FINAL
       WHERE kpi_id = {k:String} ORDER BY changed_at`,
      { k: KPI },
    )
    expect(changes).toEqual([
      { previous_version: '', version: before, changes: [] },
      { previous_version: before, version: after, changes: ['config'] },
    ])
  })
})
