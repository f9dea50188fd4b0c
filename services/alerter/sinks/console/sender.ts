import type { AlertJob } from '../../../../shared/alerts/alert-job.js'
import type { ConsoleSinkConfig } from '../../../../shared/alerts/sinks/console.js'
import { clock, colour, type Screen, screen } from '../../../../shared/terminal.js'
import { formatNumber, headline, scopeText, valueVsThreshold } from '../render.js'
import { type AlertSender, type DeliveryResult, ok, type SendContext } from '../sink.js'

/**
 * The console sink. On a terminal, one line per transition that fits the terminal:
 * `03:50:30 FIRING warning  Disparate impact ratio (model_id=resume-screener, …): 0.7217 vs threshold 0.8`.
 * Otherwise one log entry per transition with every field (warn while firing, info on resolve), for
 * whatever collects the logs. Always succeeds.
 */
export class ConsoleSender implements AlertSender {
  readonly type = 'console' as const
  private readonly lines: boolean

  constructor(
    readonly name: string,
    cfg: Pick<ConsoleSinkConfig, 'format'> = {},
    private readonly out: Screen = screen(),
    /** False when the process logs JSON on purpose (LOG_FORMAT=json): `auto` then stays JSON on a terminal too. */
    peopleTerminal = true,
  ) {
    const format = cfg.format ?? 'auto'
    this.lines = format === 'line' || (format === 'auto' && out.tty && peopleTerminal)
  }

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
    if (this.lines) {
      this.out.line(alertLine(job, this.out.tty))
      // The full record stays available at debug level.
      ctx.log.debug(fields, 'alert written to the console')
      return ok()
    }
    const line = `ALERT [${headline(job)}] ${job.kpi.title} (${scopeText(job)}): ${valueVsThreshold(job)}`
    if (job.kind === 'resolved') ctx.log.info(fields, line)
    else ctx.log.warn(fields, line)
    return ok()
  }
}

/** Units worth printing beside a number (counts read fine without theirs). */
const SHOWN_UNITS = new Set(['hours', 'days', 'points'])

/**
 * One alert as one line for people, most telling first so that a cut at the terminal's edge loses the
 * least: `03:50:30 FIRING warning  Disparate impact ratio: 0.7217 (threshold 0.8) · resume-screener · v1.3 · gender`.
 */
export function alertLine(job: AlertJob, tty: boolean): string {
  const paint = !tty
    ? (s: string) => s
    : job.kind === 'resolved'
      ? colour.green
      : job.severity === 'critical'
        ? colour.red
        : colour.yellow
  const unit = SHOWN_UNITS.has(job.kpi.unit) ? ` ${job.kpi.unit}` : ''
  const scope = Object.values(job.scope)
  return [
    `${clock()} ${paint(headline(job))}  ${job.kpi.title}: ${formatNumber(job.value)}${unit} (threshold ${formatNumber(job.threshold)}${unit})`,
    ...scope,
  ].join(' · ')
}
