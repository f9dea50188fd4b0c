import { describe, expect, it } from 'vitest'
import { toPostableAlerts } from '../../../../services/alerter/sinks/alertmanager/sender.js'
import { toPagerdutyEvent } from '../../../../services/alerter/sinks/pagerduty/sender.js'
import { headline } from '../../../../services/alerter/sinks/render.js'
import { toSlackMessage } from '../../../../services/alerter/sinks/slack/sender.js'
import { toWebhookBody } from '../../../../services/alerter/sinks/webhook/sender.js'
import { alertJobSchema } from '../../../../shared/alerts/alert-job.js'
import { sampleAlert } from '../../../helpers/alert-fixtures.js'

const cfg = { routingKey: 'KEY', source: 'aims' }
const ack = {
  acknowledged: { by: 'alice', at: '2026-12-01T10:05:00.000Z', comment: 'on it' },
  owner: 'bob',
}

describe('acknowledgement, escalation and reminders in the sinks', () => {
  it('an acknowledgement is a PagerDuty acknowledge with the breach dedup_key', () => {
    const job = sampleAlert({ kind: 'acknowledged', response: ack })
    expect(toPagerdutyEvent(job, cfg)).toEqual({
      routing_key: 'KEY',
      event_action: 'acknowledge',
      dedup_key: job.fingerprint,
    })
  })

  it('Slack and the webhook body say who acknowledged and who owns the breach', () => {
    const job = alertJobSchema.parse(sampleAlert({ kind: 'acknowledged', response: ack }))
    const slack = toSlackMessage(job, {})
    expect(slack.text).toMatch(/^\[ACKNOWLEDGED by alice\] /)
    expect(slack.attachments[0]!.fields).toContainEqual({
      title: 'Response',
      value: 'acknowledged by alice at 2026-12-01T10:05:00.000Z (on it); owner bob',
      short: false,
    })
    const body = JSON.parse(toWebhookBody(job))
    expect(body).toMatchObject({ kind: 'acknowledged', response: ack, fingerprint: job.fingerprint })
  })

  it('an escalation step triggers on PagerDuty with the same dedup_key and names its step', () => {
    const job = sampleAlert({
      kind: 'escalation',
      response: { escalation: { policy: 'critical', step: 2, steps: 2, reminder: 0 } },
      sinks: ['ciso'],
    })
    const ev = toPagerdutyEvent(job, cfg)
    expect(ev).toMatchObject({ event_action: 'trigger', dedup_key: job.fingerprint })
    expect(ev.payload?.summary).toMatch(/^\[ESCALATION step 2\/2 critical, not acknowledged\] /)
    expect(ev.payload?.custom_details.response).toBe('escalation step 2/2 (critical)')
    expect(
      headline({
        ...job,
        kind: 'reminder',
        response: { escalation: { policy: 'p', step: 2, steps: 2, reminder: 3 } },
      }),
    ).toBe('REMINDER 3 critical, not acknowledged')
  })

  it('Alertmanager gets the firing alert again with who has it (it has no acknowledgement)', () => {
    const job = sampleAlert({ kind: 'acknowledged', response: ack })
    const [alert] = toPostableAlerts(job, { firingEndsAfterSec: 3600 })
    expect(alert!.annotations).toMatchObject({
      acknowledged_by: 'alice',
      owner: 'bob',
      transition: 'acknowledged',
    })
    expect(Date.parse(alert!.endsAt)).toBeGreaterThan(Date.parse(job.at))
  })

  it('a withdrawn acknowledgement says nobody has it: Slack, webhook, Alertmanager without acknowledged_by, PagerDuty a trigger', () => {
    const job = alertJobSchema.parse(sampleAlert({ kind: 'unacknowledged', response: { owner: 'bob' } }))
    expect(headline(job)).toBe(`UNACKNOWLEDGED ${job.severity}: nobody has it, escalation resumes`)
    expect(toSlackMessage(job, {}).text).toMatch(/^\[UNACKNOWLEDGED /)
    expect(JSON.parse(toWebhookBody(job))).toMatchObject({
      kind: 'unacknowledged',
      fingerprint: job.fingerprint,
    })
    const [alert] = toPostableAlerts(job, { firingEndsAfterSec: 3600 })
    expect(alert!.annotations.acknowledged_by).toBeUndefined()
    expect(alert!.annotations).toMatchObject({ transition: 'unacknowledged', owner: 'bob' })
    // PagerDuty cannot go back from acknowledged: the trigger is logged on the incident, not a new page.
    expect(toPagerdutyEvent(job, cfg)).toMatchObject({ event_action: 'trigger', dedup_key: job.fingerprint })
  })
})
