import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSender } from '../../../services/alerter/sinks/index.js'
import type { AlertSender } from '../../../services/alerter/sinks/sink.js'
import { alertmanagerSinkSchema } from '../../../shared/alerts/sinks/alertmanager.js'
import { pagerdutySinkSchema } from '../../../shared/alerts/sinks/pagerduty.js'
import { slackSinkSchema } from '../../../shared/alerts/sinks/slack.js'
import { webhookSinkSchema } from '../../../shared/alerts/sinks/webhook.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'
import { freePort, HttpReceiver } from '../../helpers/http-receiver.js'

/**
 * No delivery result may carry a secret (routing key, token-bearing URL, HMAC secret, auth header),
 * even when the remote echoes it back, the connection fails or times out (Alertmanager's shared sink
 * test habit).
 */

const ROUTING_KEY = 'PDKEY-5ecr3t-routing-key-000001'
const SLACK_TOKEN = 'T0SECRET/B0SECRET/xoxSECRETTOKEN'
const HMAC_SECRET = 'hmac-5ecr3t-shared-value-0001'
const URL_TOKEN = 'url-5ecr3t-token-0001'
const AUTH = 'Bearer am-5ecr3t-bearer-0001'
const SECRETS = [
  ROUTING_KEY,
  SLACK_TOKEN,
  HMAC_SECRET,
  URL_TOKEN,
  AUTH,
  'xoxSECRETTOKEN',
  'am-5ecr3t-bearer-0001',
]

function senders(base: string, timeoutMs = 5000): AlertSender[] {
  return [
    createSender(
      'pd',
      pagerdutySinkSchema.parse({
        type: 'pagerduty',
        routingKey: ROUTING_KEY,
        url: `${base}/v2/enqueue`,
        timeoutMs,
      }),
    ),
    createSender(
      'slack',
      slackSinkSchema.parse({ type: 'slack', webhookUrl: `${base}/services/${SLACK_TOKEN}`, timeoutMs }),
    ),
    createSender(
      'hook',
      webhookSinkSchema.parse({
        type: 'webhook',
        url: `${base}/hook?token=${URL_TOKEN}`,
        secret: HMAC_SECRET,
        timeoutMs,
      }),
    ),
    createSender(
      'am',
      alertmanagerSinkSchema.parse({ type: 'alertmanager', url: base, authorization: AUTH, timeoutMs }),
    ),
  ]
}

function expectNoSecret(value: unknown) {
  const text = JSON.stringify(value)
  for (const s of SECRETS) {
    expect(text).not.toContain(s)
    expect(text).not.toContain(encodeURIComponent(s))
  }
}

describe('no secret leaks from a sink', () => {
  const ctx = { attempt: 1, log: pino({ level: 'silent' }) }
  let rx: HttpReceiver
  beforeAll(async () => {
    rx = await HttpReceiver.start()
  })
  afterAll(() => rx.stop())

  it.each([401, 400, 500, 429])('when the remote echoes the request with HTTP %i', async (status) => {
    rx.reply = (req) => ({
      status,
      body: `rejected ${req.headers.authorization ?? ''} ${req.path} ${req.body}`,
    })
    for (const s of senders(rx.url)) {
      const r = await s.send(sampleAlert(), ctx)
      expect(r.outcome).not.toBe('ok')
      expectNoSecret(r)
      // the echo did reach the detail, scrubbed
      expect(JSON.stringify(r)).toContain('[redacted]')
    }
  })

  it('when the echo is cut in the middle of a secret', async () => {
    // 290 chars of padding put the routing key across the 300-character excerpt limit.
    rx.reply = (req) => ({ status: 400, body: `${'x'.repeat(280)} ${JSON.parse(req.body).routing_key}` })
    const r = await senders(rx.url)[0]!.send(sampleAlert(), ctx)
    expectNoSecret(r)
    expect(JSON.stringify(r)).not.toContain(ROUTING_KEY.slice(0, 8))
  })

  it('when the connection is refused', async () => {
    const base = `http://127.0.0.1:${await freePort()}`
    for (const s of senders(base)) {
      const r = await s.send(sampleAlert(), ctx)
      expect(r).toMatchObject({ outcome: 'retryable', reason: 'network_error' })
      expectNoSecret(r)
    }
  })

  it('when the request times out', async () => {
    rx.reply = () => ({ hold: true })
    for (const s of senders(rx.url, 300)) {
      const r = await s.send(sampleAlert(), ctx)
      expect(r).toMatchObject({ outcome: 'retryable', reason: 'timeout' })
      expectNoSecret(r)
    }
  })
})
