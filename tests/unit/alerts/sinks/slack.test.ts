import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SlackSender, toSlackMessage } from '../../../../services/alerter/sinks/slack/sender.js'
import { slackSinkSchema } from '../../../../shared/alerts/sinks/slack.js'
import { resolveOf, sampleAlert } from '../../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../../helpers/http-receiver.js'

const ctx = { attempt: 1, log: pino({ level: 'silent' }) }
// Emoji and pictographs (no shortcodes either).
const EMOJI = /[\u{1F300}-\u{1FAFF}\u{2600}-\u{27BF}]|:[a-z_]+:/u

describe('slack sink', () => {
  let rx: HttpReceiver
  beforeAll(async () => {
    rx = await HttpReceiver.start(() => ({ status: 200, body: 'ok' }))
  })
  afterAll(() => rx.stop())

  it('says what fires, where, and how far from the threshold, in color, without emoji', () => {
    const msg = toSlackMessage(sampleAlert({ summary: 'DIR < 0.8 & falling' }), {})
    expect(msg.text).toMatch(
      /^\[FIRING critical\] Disparate impact ratio \(model_id=credit-scoring, model_version=3, protected_attribute=sex\): DIR &lt; 0.8 &amp; falling$/,
    )
    expect(msg.attachments[0]!.color).toBe('#d00000')
    expect(msg.attachments[0]!.fields.map((f) => f.value).join('\n')).toContain(
      'value 0.72 ratio vs threshold 0.8 ratio',
    )
    expect(JSON.stringify(msg)).not.toMatch(EMOJI)
  })

  it('says "resolved" in green on resolve', () => {
    const msg = toSlackMessage(resolveOf(sampleAlert()), { channel: '#aims' })
    expect(msg.text).toMatch(/^\[RESOLVED \(was critical\)\]/)
    expect(msg.attachments[0]!.title).toMatch(/resolved$/)
    expect(msg.attachments[0]!.color).toBe('#2eb886')
    expect(msg).toMatchObject({ channel: '#aims' })
  })

  it('POSTs to the webhook URL; Slack errors are permanent', async () => {
    const cfg = slackSinkSchema.parse({ type: 'slack', webhookUrl: `${rx.url}/services/T0/B0/tok` })
    expect(await new SlackSender('s', cfg).send(sampleAlert(), ctx)).toEqual({ outcome: 'ok', status: 200 })
    rx.reply = () => ({ status: 404, body: 'no_service' })
    expect(await new SlackSender('s', cfg).send(sampleAlert(), ctx)).toMatchObject({
      outcome: 'permanent',
      reason: 'client_error',
      detail: 'HTTP 404: no_service',
    })
    rx.reply = () => ({ status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' })
    expect(await new SlackSender('s', cfg).send(sampleAlert(), ctx)).toMatchObject({
      outcome: 'retryable',
      reason: 'rate_limited',
      retryAfterMs: 2000,
    })
  })
})
