import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebhookSender } from '../../../../services/alerter/sinks/webhook/sender.js'
import { verifyWebhookSignature } from '../../../../services/alerter/sinks/webhook/signature.js'
import { webhookSinkSchema } from '../../../../shared/alerts/sinks/webhook.js'
import { sampleAlert } from '../../../helpers/alert-fixtures.js'
import { HttpReceiver } from '../../../helpers/http-receiver.js'

const secret = 'webhook-secret-0123456789'

describe('webhook sink', () => {
  let rx: HttpReceiver
  beforeAll(async () => {
    rx = await HttpReceiver.start()
  })
  afterAll(() => rx.stop())

  it('sends the versioned job, signed, with the transition id as Idempotency-Key', async () => {
    const cfg = webhookSinkSchema.parse({
      type: 'webhook',
      url: `${rx.url}/hook`,
      secret,
      headers: { 'X-Team': 'grc' },
    })
    const job = sampleAlert()
    const r = await new WebhookSender('h', cfg).send(job, { attempt: 3, log: pino({ level: 'silent' }) })
    expect(r.outcome).toBe('ok')
    const req = rx.requests.at(-1)!
    expect(JSON.parse(req.body)).toEqual({ version: 'aims.alert.v1', ...job })
    expect(req.headers['idempotency-key']).toBe(job.transitionId)
    expect(req.headers['x-aims-delivery-attempt']).toBe('3')
    expect(req.headers['x-team']).toBe('grc')
    expect(req.headers['x-signature']).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(Math.abs(Number(req.headers['x-aims-timestamp']) - Date.now() / 1000)).toBeLessThan(5)
    expect(
      verifyWebhookSignature(secret, req.headers['x-aims-timestamp'], req.body, req.headers['x-signature']),
    ).toEqual({ ok: true })
  })
})
