import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { ocsfTopic } from '../../../shared/kafka/topics.js'
import { runReference } from '../../../shared/kpi/run.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import { H, incidentFinding } from '../../helpers/ocsf.js'
import { count, openStack, produce, startTestCollector, type TestStack } from '../../helpers/pipeline.js'

/**
 * OCSF Incident Findings (2005) on their own topic, through the real broker and collector into ClickHouse:
 * the privacy KPIs and 72-hour clocks computed from them are those the lifecycles imply, and an event
 * missing OCSF-required attributes is dead-lettered with the attributes named, the batch going on.
 */
describe('collector: OCSF Incident Findings', () => {
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  const now = Date.now()
  // Whole seconds: DateTime64(3) keeps ms, and a round number makes the hours below exact.
  const T = Math.floor(now / 1000) * 1000

  beforeAll(async () => {
    stack = await openStack(testConfig({ COLLECTOR_OCSF_TOPIC: 'soc.ocsf-findings' }))
    collector = await startTestCollector(stack)
  })
  afterAll(async () => {
    await collector?.stop()
    await stack?.close()
  })

  it('maps findings to incidents: KPIs and clocks follow; the broken one is dead-lettered naming the field', async () => {
    const topic = ocsfTopic(stack.cfg)!
    expect(topic).toBe(`${stack.cfg.KAFKA_TOPIC_PREFIX}soc.ocsf-findings`)
    const events = [
      // SOC-A: critical, a suspected breach (notifiable), found 80 h ago, never notified: clock past 72 h.
      incidentFinding({
        incidentId: 'SOC-A',
        time: T - 79 * H,
        createdTime: T - 80 * H,
        severity: 5,
        suspectedBreach: true,
      }),
      // SOC-B: high, notifiable through the extension, found 50 h ago: clock past the 48 h warning.
      incidentFinding({
        incidentId: 'SOC-B',
        time: T - 50 * H,
        createdTime: T - 50 * H,
        severity: 4,
        aims: { notifiable: true, recordsAffected: 1200 },
      }),
      // SOC-C: medium, not notifiable: created, contained 6 h after awareness, closed.
      incidentFinding({ incidentId: 'SOC-C', time: T - 30 * H, createdTime: T - 30 * H, severity: 3 }),
      incidentFinding({
        incidentId: 'SOC-C',
        activity: 2,
        status: 2,
        time: T - 24 * H,
        createdTime: T - 30 * H,
        severity: 3,
        aims: { containedAt: T - 24 * H },
      }),
      incidentFinding({
        incidentId: 'SOC-C',
        activity: 3,
        status: 5,
        time: T - 10 * H,
        createdTime: T - 30 * H,
        severity: 3,
        aims: { containedAt: T - 24 * H },
      }),
    ]
    const broken = incidentFinding({ incidentId: 'SOC-D', time: T - H, createdTime: T - H })
    delete broken.finding_info_list
    delete broken.severity_id

    await produce(stack.kafka, topic, [
      ...events.map((e) => ({
        key: (e.metadata as { correlation_uid: string }).correlation_uid,
        value: JSON.stringify(e),
      })),
      { key: 'SOC-D', value: JSON.stringify(broken) },
    ])

    await waitFor('the five findings stored', async () =>
      (await count(stack.ch, 'SELECT uniqExact(event_id) AS n FROM privacy_incident_events')) === 5
        ? true
        : undefined,
    )
    const dead = await waitFor('the broken finding dead-lettered', async () => {
      const rows = await queryRows<{
        topic: string
        key: string
        offset: string
        error_type: string
        reason: string
      }>(
        stack.ch,
        // FINAL: a batch retried after a timed-out write stores its dead letters again (at least once).
        'SELECT topic, key, offset, error_type, reason FROM dead_letters FINAL',
      )
      return rows.length > 0 ? rows : undefined
    })
    // Keys and offsets in the failure message: a second row names the message that got there.
    expect(dead.map((d) => `${d.key}@${d.offset}: ${d.error_type}`)).toHaveLength(1)
    expect(dead[0]).toMatchObject({ topic, error_type: 'invalid_data' })
    expect(dead[0]!.reason).toContain('finding_info_list: is required')
    expect(dead[0]!.reason).toContain('severity_id: is required')

    const latest = await queryRows<{
      incident_id: string
      status: string
      severity: string
      notifiable: boolean
    }>(
      stack.ch,
      `SELECT incident_id, argMax(status, (event_time, event_id)) AS status,
              argMax(severity, (event_time, event_id)) AS severity,
              argMax(notifiable, (event_time, event_id)) AS notifiable
       FROM privacy_incident_events GROUP BY incident_id ORDER BY incident_id`,
    )
    expect(latest).toEqual([
      { incident_id: 'SOC-A', status: 'detected', severity: 'critical', notifiable: true },
      { incident_id: 'SOC-B', status: 'detected', severity: 'high', notifiable: true },
      { incident_id: 'SOC-C', status: 'closed', severity: 'medium', notifiable: false },
    ])

    const samples = await runReference(stack.ch, new Date(T), { areas: ['privacy'] })
    const value = (kpi: string, scope: Record<string, string> = {}) =>
      samples.find((s) => s.kpiId === kpi && Object.entries(scope).every(([k, v]) => s.scope[k] === v))?.value

    // The 72-hour clocks: hours since awareness of each notifiable incident not yet notified.
    expect(value('privacy.notification_clock_hours', { incident_id: 'SOC-A' })).toBeCloseTo(80, 6)
    expect(value('privacy.notification_clock_hours', { incident_id: 'SOC-B' })).toBeCloseTo(50, 6)
    expect(value('privacy.notification_clock_hours', { incident_id: 'SOC-C' }) ?? 0).toBe(0)
    // One incident opened per severity; the critical one breaches.
    for (const severity of ['critical', 'high', 'medium'])
      expect(value('privacy.incidents_opened', { severity }), severity).toBe(1)
    // Containment: SOC-C only, 6 h after awareness.
    expect(value('privacy.mttc_hours')).toBeCloseTo(6, 6)
    expect(value('privacy.records_affected')).toBe(1200)
  })
})
