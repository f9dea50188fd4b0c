import type { AlertJob } from '../../../../shared/alerts/alert-job.js'
import { headline, scopeText, valueVsThreshold } from '../render.js'
import { type AlertSender, type DeliveryResult, ok, type SendContext } from '../sink.js'

/** One log line per transition: warn while firing, info on resolve. Always succeeds. */
export class ConsoleSender implements AlertSender {
  readonly type = 'console' as const

  constructor(readonly name: string) {}

  async send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult> {
    const fields = {
      sink: this.name,
      alert: {
        kind: job.kind,
        severity: job.severity,
        kpi: job.kpi.id,
        scope: job.scope,
        value: job.value,
        threshold: job.threshold,
        fingerprint: job.fingerprint,
        transitionId: job.transitionId,
        review: job.links.review,
      },
    }
    const line = `ALERT [${headline(job)}] ${job.kpi.title} (${scopeText(job)}): ${valueVsThreshold(job)}`
    if (job.kind === 'resolved') ctx.log.info(fields, line)
    else ctx.log.warn(fields, line)
    return ok()
  }
}
