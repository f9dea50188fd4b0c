import type { AlertJob } from '../../../../shared/alerts/alert-job.js'
import type { WebhookSinkConfig } from '../../../../shared/alerts/sinks/webhook.js'
import { postJson, urlSecrets } from '../http.js'
import type { AlertSender, DeliveryResult, SendContext } from '../sink.js'
import { signWebhook } from './signature.js'

export const WEBHOOK_BODY_VERSION = 'aims.alert.v1'

/** The versioned body: `{ version: 'aims.alert.v1', ...job }` (the job contract, field for field). */
export function toWebhookBody(job: AlertJob): string {
  return JSON.stringify({ version: WEBHOOK_BODY_VERSION, ...job })
}

/**
 * Every attempt is signed afresh (new timestamp) and carries the same `Idempotency-Key` (the transition
 * id), so a receiver dedupes retries and redeliveries after a worker crash.
 */
export class WebhookSender implements AlertSender {
  readonly type = 'webhook' as const

  constructor(
    readonly name: string,
    private readonly cfg: WebhookSinkConfig,
    private readonly clock: () => number = Date.now,
  ) {}

  send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult> {
    const body = toWebhookBody(job)
    const timestamp = String(Math.floor(this.clock() / 1000))
    return postJson(this.cfg.url, body, {
      timeoutMs: this.cfg.timeoutMs,
      headers: {
        ...this.cfg.headers,
        'x-aims-timestamp': timestamp,
        'x-signature': signWebhook(this.cfg.secret, timestamp, body),
        'idempotency-key': job.transitionId,
        'x-aims-delivery-attempt': String(ctx.attempt),
      },
      secrets: [...urlSecrets(this.cfg.url), this.cfg.secret, ...Object.values(this.cfg.headers ?? {})],
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }
}
