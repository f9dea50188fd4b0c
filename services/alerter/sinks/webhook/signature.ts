import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * Signing of the generic webhook, Stripe-style: `X-Signature: sha256=<hex>` where hex is
 * HMAC-SHA256(secret, `<X-Aims-Timestamp>.<raw body>`). The timestamp (unix seconds) is signed, so a
 * receiver that rejects old timestamps rejects replays of captured requests; within the tolerance window
 * the `Idempotency-Key` header (the transition id) dedupes.
 */

export const SIGNATURE_HEADER = 'x-signature'
export const TIMESTAMP_HEADER = 'x-aims-timestamp'
export const IDEMPOTENCY_HEADER = 'idempotency-key'

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'bad_signature' }

/**
 * For receivers: checks the signature of a request over its raw body bytes (as received, not
 * re-serialised) and that its timestamp is within `toleranceSec` of now (default 300 s), both ways.
 * Constant-time comparison.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined | null,
  body: string | Buffer,
  signature: string | undefined | null,
  toleranceSec = 300,
  nowMs = Date.now(),
): SignatureCheck {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'malformed' }
  if (!signature || !/^sha256=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed' }
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return { ok: false, reason: 'stale' }
  const expected = Buffer.from(
    createHmac('sha256', secret)
      .update(`${timestamp}.`)
      .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
      .digest('hex'),
  )
  const given = Buffer.from(signature.slice('sha256='.length))
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'bad_signature' }
}
