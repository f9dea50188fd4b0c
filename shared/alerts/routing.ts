import { z } from 'zod'
import { ConfigError } from '../errors.js'
import { type AlertJob, severitySchema } from './alert-job.js'
import { sinkNameSchema } from './sink-config.js'
import { alertmanagerSinkSchema } from './sinks/alertmanager.js'
import { consoleSinkSchema } from './sinks/console.js'
import { pagerdutySinkSchema } from './sinks/pagerduty.js'
import { slackSinkSchema } from './sinks/slack.js'
import { webhookSinkSchema } from './sinks/webhook.js'

/**
 * The `alerting` section of the config file: named sinks and the routes that pick them. Each sink's
 * schema lives beside its sender (shared/alerts/sinks/<type>.ts, pure zod, no I/O; the senders in services/alerter/sinks/ read them).
 *
 * ```yaml
 * alerting:
 *   sinks:
 *     oncall: { type: pagerduty, routingKey: '${PAGERDUTY_ROUTING_KEY}' }
 *     team:   { type: slack, webhookUrl: '${SLACK_WEBHOOK_URL}', rateLimit: { max: 1, perSeconds: 1 } }
 *     am:     { type: alertmanager, url: http://alertmanager:9093 }
 *   routes:
 *     - match: { severity: [critical] }
 *       sinks: [oncall]
 *       continue: true
 *     - sinks: [team, am]
 * ```
 */

export const sinkConfigSchema = z.discriminatedUnion('type', [
  alertmanagerSinkSchema,
  pagerdutySinkSchema,
  slackSinkSchema,
  webhookSinkSchema,
  consoleSinkSchema,
])
export type SinkConfig = z.infer<typeof sinkConfigSchema>

const oneOrMany = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)])

export const routeMatchSchema = z
  .object({
    /** Severities this route takes. Default any. */
    severity: z.array(severitySchema).min(1).optional(),
    /** KPI ids this route takes. Default any. */
    kpi: z.array(z.string().min(1)).min(1).optional(),
    /** Catalog area(s) (privacy, model, audit): `kpi.area`, else the prefix of the KPI id. Default any. */
    area: oneOrMany.optional(),
    /** Scope labels: each given label must equal the value (or one of the values). Default any. */
    scope: z.record(z.string().min(1), oneOrMany).optional(),
    /** `stale`: only stale alerts (inputs stopped arriving); `value`: only thresholds crossed. Default any. */
    condition: z.enum(['value', 'stale']).optional(),
  })
  .strict()

export const routeSchema = z
  .object({
    /** All given conditions must hold. Omitted: matches every alert. */
    match: routeMatchSchema.optional(),
    /** Sinks (names under `sinks`) that receive the matching alerts. */
    sinks: z.array(sinkNameSchema).min(1, 'must name at least one sink'),
    /** Keep evaluating the next routes after a match. Default false: the first match wins. */
    continue: z.boolean().default(false),
  })
  .strict()

export const alertingConfigSchema = z
  .object({
    /** Named sinks. */
    sinks: z.record(z.string(), sinkConfigSchema),
    /** Routes, in order. Omitted: every alert goes to every sink. */
    routes: z.array(routeSchema).optional(),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const known = Object.keys(cfg.sinks)
    for (const name of known) {
      const checked = sinkNameSchema.safeParse(name)
      if (!checked.success) {
        ctx.addIssue({
          code: 'custom',
          path: ['sinks', name],
          message: checked.error.issues[0]?.message ?? 'bad sink name',
        })
      }
    }
    cfg.routes?.forEach((route, i) => {
      route.sinks.forEach((name, j) => {
        if (!(name in cfg.sinks)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'sinks', j],
            message: `unknown sink "${name}" (defined: ${known.length > 0 ? known.join(', ') : 'none'})`,
          })
        }
      })
    })
  })

export type AlertingConfig = z.infer<typeof alertingConfigSchema>
export type Route = z.infer<typeof routeSchema>

/** Used when the config file has no `alerting` section: every alert to one console sink. */
export function defaultAlertingConfig(): AlertingConfig {
  return { sinks: { console: { type: 'console' } }, routes: [{ sinks: ['console'], continue: false }] }
}

/**
 * Parses an `alerting` section on its own (the config-file loader composes the schema instead). Errors
 * name the field, e.g. `alerting.routes[1].sinks[0]: unknown sink "pager"`.
 */
export function parseAlertingConfig(input: unknown, where = 'alerting'): AlertingConfig {
  if (input === undefined || input === null) return defaultAlertingConfig()
  const parsed = alertingConfigSchema.safeParse(input)
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((i) => `${formatPath(where, i.path)}: ${i.message}`)
  throw new ConfigError(`Invalid alerting configuration:\n  ${issues.join('\n  ')}`, issues)
}

function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`
  return out
}

const asList = (v: string | string[]) => (Array.isArray(v) ? v : [v])

/** The KPI's catalog area: `kpi.area`, else the prefix of a catalog id (`<area>.<name>`). */
export function alertArea(job: AlertJob): string | undefined {
  if (job.kpi.area) return job.kpi.area
  const dot = job.kpi.id.indexOf('.')
  return dot > 0 ? job.kpi.id.slice(0, dot) : undefined
}

export function routeMatches(job: AlertJob, match: Route['match']): boolean {
  if (!match) return true
  if (match.severity && !match.severity.includes(job.severity)) return false
  if (match.kpi && !match.kpi.includes(job.kpi.id)) return false
  if (match.condition !== undefined && match.condition !== (job.stale ? 'stale' : 'value')) return false
  if (match.area !== undefined) {
    const area = alertArea(job)
    if (area === undefined || !asList(match.area).includes(area)) return false
  }
  for (const [label, want] of Object.entries(match.scope ?? {})) {
    const have = job.scope[label]
    if (have === undefined || !asList(want).includes(have)) return false
  }
  return true
}

/**
 * The sink names an alert goes to, in route order, each once. Routes are tried in order; the first
 * match wins unless it says `continue: true`. No routes: every sink. No match: none (the alerter counts
 * it as unrouted).
 */
export function selectSinks(job: AlertJob, config: AlertingConfig): string[] {
  if (!config.routes) return Object.keys(config.sinks)
  const out: string[] = []
  for (const route of config.routes) {
    if (!routeMatches(job, route.match)) continue
    for (const s of route.sinks) if (!out.includes(s)) out.push(s)
    if (!route.continue) break
  }
  return out
}
