import { z } from 'zod'
import { ConfigError } from '../errors.js'
import type { AlertJob } from './alert-job.js'
import { escalationPoliciesSchema } from './escalation.js'
import { alertArea, routeMatches, routeMatchSchema } from './route-match.js'
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
    /** Escalation policies, tried in order: who is told next while a breach stays unacknowledged. */
    escalation: escalationPoliciesSchema.optional(),
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
    const policyNames = new Set<string>()
    cfg.escalation?.forEach((policy, i) => {
      if (policyNames.has(policy.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['escalation', i, 'name'],
          message: `duplicate policy name "${policy.name}"`,
        })
      }
      policyNames.add(policy.name)
      policy.steps.forEach((step, j) => {
        step.sinks.forEach((name, k) => {
          if (!(name in cfg.sinks)) {
            ctx.addIssue({
              code: 'custom',
              path: ['escalation', i, 'steps', j, 'sinks', k],
              message: `unknown sink "${name}" (defined: ${known.length > 0 ? known.join(', ') : 'none'})`,
            })
          }
        })
      })
    })
  })

export type AlertingConfig = z.infer<typeof alertingConfigSchema>
export type Route = z.infer<typeof routeSchema>
export { alertArea, routeMatches, routeMatchSchema }

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
