import type { AlertJob } from '../../../../shared/alerts/alert-job.js'
import type { SlackSinkConfig } from '../../../../shared/alerts/sinks/slack.js'
import { postJson, urlSecrets } from '../http.js'
import { headline, isoReferences, responseText, scopeText, valueVsThreshold } from '../render.js'
import type { AlertSender, DeliveryResult, SendContext } from '../sink.js'

const COLORS = {
  critical: '#d00000',
  warning: '#e8a317',
  resolved: '#2eb886',
  acknowledged: '#3d7cc9',
} as const

/** Slack-escapes the three characters mrkdwn treats as control characters. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * One message per transition: a plain `text` line (notifications, screen readers) and a colored
 * attachment with the detail. No emoji; the color and the leading word carry the state.
 */
export function toSlackMessage(job: AlertJob, cfg: Pick<SlackSinkConfig, 'channel' | 'username'>) {
  const resolved = job.kind === 'resolved'
  const state = resolved ? `RESOLVED (was ${job.severity})` : headline(job)
  const text = `[${state}] ${job.kpi.title} (${scopeText(job)}): ${job.summary}`
  const refs = isoReferences(job)
  const response = responseText(job)
  const fields = [
    { title: 'Scope', value: scopeText(job), short: true },
    { title: resolved ? 'Value at resolve' : 'Value', value: valueVsThreshold(job), short: false },
    ...(refs ? [{ title: 'ISO references', value: refs, short: false }] : []),
    ...(response ? [{ title: 'Response', value: response, short: false }] : []),
    { title: resolved ? 'Resolved at' : 'Since', value: resolved ? job.at : job.startsAt, short: true },
  ]
  return {
    text: esc(text),
    ...(cfg.channel ? { channel: cfg.channel } : {}),
    ...(cfg.username ? { username: cfg.username } : {}),
    attachments: [
      {
        color: resolved
          ? COLORS.resolved
          : job.kind === 'acknowledged'
            ? COLORS.acknowledged
            : COLORS[job.severity],
        fallback: esc(text),
        title: esc(`${job.kpi.title}: ${resolved ? 'resolved' : job.severity}`),
        title_link: job.links.review,
        text: esc(job.description),
        fields: fields.map((f) => ({ ...f, value: esc(f.value) })),
        footer: `fingerprint ${job.fingerprint} | <${job.links.api}|KPI data>`,
        ts: Math.floor(Date.parse(job.at) / 1000),
      },
    ],
  }
}

export class SlackSender implements AlertSender {
  readonly type = 'slack' as const

  constructor(
    readonly name: string,
    private readonly cfg: SlackSinkConfig,
  ) {}

  send(job: AlertJob, ctx: SendContext): Promise<DeliveryResult> {
    // Slack answers 200 "ok"; 400 invalid_payload, 403/404/410 (revoked, no channel, archived) are
    // permanent; 429 carries Retry-After.
    return postJson(this.cfg.webhookUrl, JSON.stringify(toSlackMessage(job, this.cfg)), {
      timeoutMs: this.cfg.timeoutMs,
      secrets: urlSecrets(this.cfg.webhookUrl),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    })
  }
}
