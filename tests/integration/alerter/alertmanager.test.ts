import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { MemoryDeliveryLog } from '../../../services/alerter/delivery-log.js'
import { alertJobId } from '../../../shared/alerts/alert-job.js'
import { alertmanagerSinkSchema } from '../../../shared/alerts/sinks/alertmanager.js'
import { resolveOf, sampleAlert } from '../../helpers/alert-fixtures.js'
import { type RunningAlertmanager, startAlertmanager } from '../../helpers/alertmanager.js'
import { HttpReceiver } from '../../helpers/http-receiver.js'
import {
  alerterConfig,
  capturingLogger,
  dropPrefix,
  fastOptions,
  type Producer,
  producer,
  waitForJobState,
} from './harness.js'

/** (a) A firing transition reaches a real Alertmanager with the right labels; its resolve resolves it. */

interface AmAlert {
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string
  endsAt: string
  status: { state: string }
}
interface AmWebhook {
  status: 'firing' | 'resolved'
  alerts: {
    status: string
    labels: Record<string, string>
    annotations: Record<string, string>
    endsAt: string
  }[]
}

describe('alerter → Alertmanager v2', { timeout: 60_000 }, () => {
  const cfg = alerterConfig()
  let receiver: HttpReceiver
  let am: RunningAlertmanager
  let alerter: Alerter
  let prod: Producer
  const deliveries = new MemoryDeliveryLog()

  beforeAll(async () => {
    receiver = await HttpReceiver.start()
    am = await startAlertmanager({ webhookUrl: `${receiver.url}/am` })
    alerter = await startAlerter({
      cfg,
      log: capturingLogger().log,
      deliveryLog: deliveries,
      alerting: { sinks: { am: alertmanagerSinkSchema.parse({ type: 'alertmanager', url: am.url }) } },
      options: fastOptions,
    })
    prod = producer(cfg)
  }, 60_000)

  afterAll(async () => {
    await prod?.close()
    await alerter?.close()
    await am?.stop()
    await receiver?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
  }, 60_000)

  const amAlerts = async (fingerprint: string): Promise<AmAlert[]> => {
    const filter = encodeURIComponent(`fingerprint="${fingerprint}"`)
    const res = await fetch(`${am.url}/api/v2/alerts?filter=${filter}`)
    expect(res.status).toBe(200)
    return (await res.json()) as AmAlert[]
  }
  const notifications = (fingerprint: string): AmWebhook[] =>
    receiver.requests
      .map((r) => JSON.parse(r.body) as AmWebhook)
      .filter((n) => n.alerts.some((a) => a.labels.fingerprint === fingerprint))

  it('fires with the KPI, scope, severity and ISO labels, then resolves', async () => {
    const firing = sampleAlert()
    await prod.add(firing)
    await waitForJobState(prod.queue, alertJobId(firing.transitionId), 'completed')

    const [alert, ...more] = await amAlerts(firing.fingerprint)
    expect(more).toEqual([])
    expect(alert!.status.state).toBe('active')
    expect(alert!.labels).toEqual({
      alertname: 'model.disparate_impact_ratio',
      kpi: 'model.disparate_impact_ratio',
      fingerprint: firing.fingerprint,
      severity: 'critical',
      area: 'model',
      model_id: 'credit-scoring',
      model_version: '3',
      protected_attribute: 'sex',
      iso27001: 'A.5.34',
      iso42001: '9.1,A.7.4',
    })
    expect(alert!.annotations.summary).toBe(firing.summary)
    expect(alert!.annotations.description).toContain('vs threshold 0.8')
    expect(alert!.annotations.runbook_url).toBe(firing.links.review)
    expect(Date.parse(alert!.startsAt)).toBe(Date.parse(firing.startsAt))

    await receiver.waitFor('the firing notification', () =>
      notifications(firing.fingerprint).some((n) => n.status === 'firing'),
    )
    const fired = notifications(firing.fingerprint).find((n) => n.status === 'firing')!
    expect(fired.alerts[0]!.labels.severity).toBe('critical')
    expect(fired.alerts[0]!.annotations.iso_references).toContain('ISO/IEC 42001:2023 9.1, A.7.4')

    const resolved = resolveOf(firing)
    await prod.add(resolved)
    await waitForJobState(prod.queue, alertJobId(resolved.transitionId), 'completed')
    await receiver.waitFor('the resolved notification', () =>
      notifications(firing.fingerprint).some((n) => n.status === 'resolved'),
    )
    const done = notifications(firing.fingerprint).find((n) => n.status === 'resolved')!
    expect(done.alerts[0]!.status).toBe('resolved')
    expect(Date.parse(done.alerts[0]!.endsAt)).toBe(Date.parse(resolved.at))
    // No longer active in Alertmanager.
    const after = await amAlerts(firing.fingerprint)
    expect(after.filter((a) => a.status.state === 'active' && Date.parse(a.endsAt) > Date.now())).toEqual([])

    // One notification per state, and one ok delivery per transition in the log.
    expect(notifications(firing.fingerprint).map((n) => n.status)).toEqual(['firing', 'resolved'])
    expect(
      deliveries.rows
        .filter((r) => r.fingerprint === firing.fingerprint)
        .map((r) => [r.transition, r.outcome]),
    ).toEqual([
      ['firing', 'ok'],
      ['resolved', 'ok'],
    ])
  })

  it('an escalation fires critical and resolves the warning alert', async () => {
    const warning = sampleAlert({ severity: 'warning' })
    await prod.add(warning)
    await waitForJobState(prod.queue, alertJobId(warning.transitionId), 'completed')
    const escalated = {
      ...warning,
      transitionId: warning.transitionId.replace(/firing$/, 'escalated'),
      kind: 'escalated' as const,
      severity: 'critical' as const,
      previousSeverity: 'warning' as const,
      at: new Date().toISOString(),
    }
    await prod.add(escalated)
    await waitForJobState(prod.queue, alertJobId(escalated.transitionId), 'completed')
    const now = Date.now()
    const active = (await amAlerts(warning.fingerprint)).filter((a) => Date.parse(a.endsAt) > now)
    expect(active.map((a) => a.labels.severity)).toEqual(['critical'])
  })
})
