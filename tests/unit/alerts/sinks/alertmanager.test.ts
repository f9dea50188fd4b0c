import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  AlertmanagerSender,
  labelName,
  toPostableAlerts,
} from '../../../../services/alerter/sinks/alertmanager/sender.js'
import { alertmanagerSinkSchema } from '../../../../shared/alerts/sinks/alertmanager.js'
import { resolveOf, sampleAlert } from '../../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../../helpers/http-receiver.js'

const ctx = { attempt: 1, log: pino({ level: 'silent' }) }

describe('alertmanager sink', () => {
  let rx: HttpReceiver
  beforeAll(async () => {
    rx = await HttpReceiver.start()
  })
  afterAll(() => rx.stop())

  it('renders labels, annotations and times of a firing alert', () => {
    const job = sampleAlert({ scope: { model_id: 'm1', 'data-set': 'q1', severity: 'x' } })
    const [a, ...rest] = toPostableAlerts(job, { firingEndsAfterSec: 3600 })
    expect(rest).toEqual([])
    expect(a!.labels).toEqual({
      alertname: 'model.disparate_impact_ratio',
      kpi: 'model.disparate_impact_ratio',
      fingerprint: job.fingerprint,
      severity: 'critical',
      area: 'model',
      model_id: 'm1',
      data_set: 'q1',
      scope_severity: 'x',
      iso27001: 'A.5.34',
      iso42001: '9.1,A.7.4',
    })
    expect(a!.annotations.description).toContain('value 0.72 ratio vs threshold 0.8 ratio (higher is better)')
    expect(a!.annotations.iso_references).toBe('ISO/IEC 27001:2022 A.5.34; ISO/IEC 42001:2023 9.1, A.7.4')
    expect(a!.annotations.runbook_url).toBe(job.links.review)
    expect(a!.annotations.api).toBe(job.links.api)
    expect(a!.startsAt).toBe(job.startsAt)
    expect(Date.parse(a!.endsAt) - Date.parse(job.at)).toBe(3_600_000)
    expect(a!.generatorURL).toBe(job.links.review)
  })

  it('ends the alert at the transition time on resolve, and the old severity on escalation', () => {
    const firing = sampleAlert()
    const [r] = toPostableAlerts(resolveOf(firing), { firingEndsAfterSec: 3600 })
    expect(r!.endsAt).toBe(resolveOf(firing, r!.endsAt).at)
    const esc = toPostableAlerts(
      { ...firing, kind: 'escalated', severity: 'critical', previousSeverity: 'warning' },
      { firingEndsAfterSec: 60 },
    )
    expect(esc.map((a) => [a.labels.severity, a.endsAt === firing.at])).toEqual([
      ['critical', false],
      ['warning', true],
    ])
  })

  it('sanitises label names', () => {
    expect(labelName('1abc')).toBe('_1abc')
    expect(labelName('a.b-c')).toBe('a_b_c')
    expect(labelName('kpi')).toBe('scope_kpi')
  })

  it('POSTs the array to /api/v2/alerts', async () => {
    const cfg = alertmanagerSinkSchema.parse({ type: 'alertmanager', url: `${rx.url}/` })
    const job = sampleAlert()
    const r = await new AlertmanagerSender('am', cfg).send(job, ctx)
    expect(r).toEqual({ outcome: 'ok', status: 200 })
    const req = rx.requests.at(-1)!
    expect(req.path).toBe('/api/v2/alerts')
    expect(req.headers['content-type']).toBe('application/json')
    expect(JSON.parse(req.body)[0].labels.fingerprint).toBe(job.fingerprint)
  })
})
