import { describe, expect, it } from 'vitest'
import { signWebhook, verifyWebhookSignature } from '../../../services/alerter/sinks/webhook/signature.js'

const secret = 'a-very-long-shared-secret'
const now = Date.parse('2024-06-01T12:00:00Z')
const ts = String(Math.floor(now / 1000))
const body = JSON.stringify({ version: 'aims.alert.v1', transitionId: 't1' })

describe('webhook signature', () => {
  it('verifies what it signed, over the raw bytes', () => {
    const sig = signWebhook(secret, ts, body)
    expect(sig).toMatch(/^sha256=[0-9a-f]{64}$/)
    expect(verifyWebhookSignature(secret, ts, body, sig, 300, now)).toEqual({ ok: true })
    expect(verifyWebhookSignature(secret, ts, Buffer.from(body), sig, 300, now)).toEqual({ ok: true })
  })

  it('rejects a tampered body, a wrong secret, a moved timestamp', () => {
    const sig = signWebhook(secret, ts, body)
    expect(verifyWebhookSignature(secret, ts, body.replace('t1', 't2'), sig, 300, now)).toEqual({
      ok: false,
      reason: 'bad_signature',
    })
    expect(verifyWebhookSignature('another-long-secret-value', ts, body, sig, 300, now)).toMatchObject({
      reason: 'bad_signature',
    })
    expect(verifyWebhookSignature(secret, String(Number(ts) + 1), body, sig, 300, now)).toMatchObject({
      reason: 'bad_signature',
    })
  })

  it('rejects stale and future timestamps (replays) beyond the tolerance', () => {
    const old = String(Number(ts) - 301)
    expect(verifyWebhookSignature(secret, old, body, signWebhook(secret, old, body), 300, now)).toEqual({
      ok: false,
      reason: 'stale',
    })
    const future = String(Number(ts) + 301)
    expect(
      verifyWebhookSignature(secret, future, body, signWebhook(secret, future, body), 300, now),
    ).toMatchObject({ reason: 'stale' })
    const edge = String(Number(ts) - 299)
    expect(verifyWebhookSignature(secret, edge, body, signWebhook(secret, edge, body), 300, now)).toEqual({
      ok: true,
    })
  })

  it('rejects malformed headers without throwing', () => {
    expect(verifyWebhookSignature(secret, undefined, body, 'sha256=00', 300, now)).toMatchObject({
      reason: 'malformed',
    })
    expect(verifyWebhookSignature(secret, ts, body, null, 300, now)).toMatchObject({ reason: 'malformed' })
    expect(verifyWebhookSignature(secret, ts, body, 'sha1=abc', 300, now)).toMatchObject({
      reason: 'malformed',
    })
    expect(
      verifyWebhookSignature(secret, 'yesterday', body, signWebhook(secret, ts, body), 300, now),
    ).toMatchObject({ reason: 'malformed' })
  })
})
