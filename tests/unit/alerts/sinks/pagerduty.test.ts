import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PagerdutySender, toPagerdutyEvent } from '../../../../services/alerter/sinks/pagerduty/sender.js'
import { pagerdutySinkSchema } from '../../../../shared/alerts/sinks/pagerduty.js'
import { resolveOf, sampleAlert } from '../../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../../helpers/http-receiver.js'

const ctx = { attempt: 1, log: pino({ level: 'silent' }) }
const key = 'R0UT1NG-KEY-0123456789abcdef'

describe('pagerduty sink', () => {
  let rx: HttpReceiver
  beforeAll(async () => {
    rx = await HttpReceiver.start(() => ({ status: 202, body: '{"status":"success","dedup_key":"x"}' }))
  })
  afterAll(() => rx.stop())

  it('triggers with dedup_key = fingerprint and maps severities', () => {
    const job = sampleAlert({ severity: 'warning' })
    const ev = toPagerdutyEvent(job, { routingKey: key, source: 'aims' })
    expect(ev).toMatchObject({
      routing_key: key,
      event_action: 'trigger',
      dedup_key: job.fingerprint,
      payload: {
        severity: 'warning',
        source: 'aims',
        component: job.kpi.id,
        group: 'model',
        class: 'firing',
        timestamp: job.at,
      },
      links: [{ href: job.links.review }, { href: job.links.api }],
    })
    expect(ev.payload?.summary).toMatch(/^\[FIRING warning\] /)
    expect(ev.payload?.custom_details).toMatchObject({
      value: 0.72,
      threshold: 0.8,
      iso42001: ['9.1', 'A.7.4'],
    })
    expect(
      toPagerdutyEvent(sampleAlert({ severity: 'critical' }), { routingKey: key, source: 'a' }).payload
        ?.severity,
    ).toBe('critical')
  })

  it('resolves by dedup_key only', () => {
    const job = resolveOf(sampleAlert())
    expect(toPagerdutyEvent(job, { routingKey: key, source: 'aims' })).toEqual({
      routing_key: key,
      event_action: 'resolve',
      dedup_key: job.fingerprint,
    })
  })

  it('truncates long summaries to 1024 characters', () => {
    const ev = toPagerdutyEvent(sampleAlert({ summary: 'x'.repeat(5000) }), { routingKey: key, source: 'a' })
    expect(ev.payload?.summary.length).toBe(1024)
  })

  it('POSTs to the configured URL', async () => {
    const cfg = pagerdutySinkSchema.parse({ type: 'pagerduty', routingKey: key, url: `${rx.url}/v2/enqueue` })
    expect(await new PagerdutySender('pd', cfg).send(sampleAlert(), ctx)).toEqual({
      outcome: 'ok',
      status: 202,
    })
    expect(JSON.parse(rx.requests.at(-1)!.body).routing_key).toBe(key)
  })
})
