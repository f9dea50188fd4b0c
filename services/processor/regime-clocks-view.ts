import { z } from 'zod'
import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { access } from '../../shared/http/auth/roles.js'
import { protectedErrors } from '../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../shared/http/server.js'
import type { KpiDefinition } from '../../shared/kpi/catalog.js'
import { stateMergeSelect } from '../../shared/kpi/entity-state.js'
import { anyRegimeSql } from '../../shared/kpi/regime-sql.js'
import { incidentClockState, toRegimeFacts } from '../../shared/kpi/regime-state.js'
import {
  type Allowed,
  GDPR_ART33_CLOCK_KPI,
  getRegime,
  REGIME_STEP_KPIS,
  REGIMES,
  type RegimeId,
  regimeClocks,
  type StepClock,
} from '../../shared/kpi/regimes.js'
import { applicableRegimes } from '../../shared/kpi/regimes-config.js'
import { type AimsConfig, resolveThresholds } from '../../shared/kpi/thresholds.js'

/**
 * GET /api/views/regime-clocks: per incident, the clock of every step of every notification regime that
 * applies to it (shared/kpi/regimes.ts), computed from the clock state (migration 0010) at the server's
 * `now`: started, due, sent, the share of the time used and a level from the step KPI's thresholds.
 * "Without undue delay" steps show their elapsed time and are never late. For security, auditors and
 * admins (the incidents' regulatory side).
 */

export interface RegimeClocksViewDeps {
  ch: ClickHouse
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  clock: () => Date
}

export const regimeClocksQuery = z.strictObject({
  /** `open`: incidents with at least one step not yet sent; `all`: every incident a regime applies to. */
  state: z.enum(['open', 'all']).default('open'),
  limit: z.coerce.number().int().min(1).max(5000).default(500),
})

const level = z.enum(['ok', 'warning', 'critical'])
const stepSchema = z.object({
  step: z.string(),
  title: z.string(),
  kpiId: z.string().nullable(),
  state: z.enum(['waiting', 'running', 'overdue', 'sent', 'sent_late', 'no_deadline']),
  level,
  startedAt: z.string().nullable(),
  dueAt: z.string().nullable(),
  sentAt: z.string().nullable(),
  /** Share of the allowed time used (running steps). */
  ratio: z.number().nullable(),
  /** Hours left to the due time (negative: overdue), for running steps. */
  hoursLeft: z.number().nullable(),
  /** Hours since the clock started, for "without undue delay" steps. */
  hoursElapsed: z.number().nullable(),
})
export const regimeClocksResponse = z.object({
  generatedAt: z.string(),
  regimes: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      reference: z.string(),
      steps: z.array(z.object({ id: z.string(), title: z.string(), allowed: z.string() })),
    }),
  ),
  summary: z.object({ incidents: z.number(), running: z.number(), overdue: z.number(), warning: z.number() }),
  incidents: z.array(
    z.object({
      incidentId: z.string(),
      severity: z.string(),
      businessUnit: z.string(),
      detectedAt: z.string(),
      regimes: z.array(z.object({ regime: z.string(), title: z.string(), steps: z.array(stepSchema) })),
    }),
  ),
})

const HOUR = 3_600_000
const isoOrNull = (t: number | null) => (t === null ? null : new Date(t).toISOString())

function allowedText(a: Allowed): string {
  if ('hours' in a) return `${a.hours} h`
  if ('days' in a) return `${a.days} days`
  if ('months' in a) return `${a.months} month${a.months === 1 ? '' : 's'}`
  return 'without undue delay'
}

const view: HttpArea<RegimeClocksViewDeps> = async (app, deps) => {
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))
  const kpiOfStep = new Map(REGIME_STEP_KPIS.map((k) => [`${k.regime.id}/${k.step.id}`, k.kpiId]))
  kpiOfStep.set('gdpr_art33/notification', GDPR_ART33_CLOCK_KPI)
  const sql = `SELECT * FROM (${stateMergeSelect(incidentClockState, {
    having: `notifiable OR ${anyRegimeSql(deps.config?.regimes)}`,
  })})
ORDER BY detected_at DESC, incident_id
LIMIT {limit:UInt32}`

  /** The level a clock reaches under its KPI's thresholds (the 72-hour clock's are in hours). */
  const levelOf = (c: StepClock, incidentId: string): z.infer<typeof level> => {
    if (c.state === 'overdue') return 'critical'
    if (c.state !== 'running' || c.ratio === null) return c.state === 'sent_late' ? 'warning' : 'ok'
    const kpi = byId.get(kpiOfStep.get(`${c.regime}/${c.step}`) ?? '')
    if (!kpi) return 'ok'
    const th = resolveThresholds(kpi, { incident_id: incidentId }, deps.config)
    if (!th.enabled) return 'ok'
    const value = kpi.id === GDPR_ART33_CLOCK_KPI ? ((c.dueAt! - c.startedAt!) / HOUR) * c.ratio : c.ratio
    if (th.critical !== null && value >= th.critical) return 'critical'
    if (th.warning !== null && value >= th.warning) return 'warning'
    return 'ok'
  }

  app.get(
    '/api/views/regime-clocks',
    {
      schema: {
        summary:
          'Regulatory notification clocks per incident (GDPR Art. 33/34, NIS2, DORA, HIPAA): each step started, due, sent, and how much of its time is used',
        tags: ['views'],
        querystring: regimeClocksQuery,
        response: { 200: regimeClocksResponse, ...protectedErrors },
      },
      config: { access: access.regimeClocks },
    },
    async (req) => {
      const q = req.query
      const now = deps.clock().getTime()
      const rows = await queryRows<Record<string, unknown>>(deps.ch, sql, { limit: q.limit })
      const summary = { incidents: 0, running: 0, overdue: 0, warning: 0 }
      const incidents = []
      for (const row of rows) {
        const f = toRegimeFacts(row)
        const regimes = [...applicableRegimes(f, deps.config?.regimes)].map((id: RegimeId) => {
          const regime = getRegime(id)
          const steps = regimeClocks(f, regime, now).map((c, i) => {
            const lvl = levelOf(c, f.incidentId)
            return {
              step: c.step,
              title: regime.steps[i]!.title,
              kpiId: kpiOfStep.get(`${c.regime}/${c.step}`) ?? null,
              state: c.state,
              level: lvl,
              startedAt: isoOrNull(c.startedAt),
              dueAt: isoOrNull(c.dueAt),
              sentAt: isoOrNull(c.sentAt),
              ratio: c.ratio,
              hoursLeft:
                c.dueAt !== null && (c.state === 'running' || c.state === 'overdue')
                  ? (c.dueAt - now) / HOUR
                  : null,
              hoursElapsed:
                c.state === 'no_deadline' && c.startedAt !== null
                  ? Math.max(0, (now - c.startedAt) / HOUR)
                  : null,
            }
          })
          return { regime: id, title: regime.title, steps }
        })
        const allSteps = regimes.flatMap((r) => r.steps)
        const open = allSteps.some((s) => s.state !== 'sent' && s.state !== 'sent_late')
        if (q.state === 'open' && !open) continue
        summary.incidents++
        summary.running += allSteps.filter((s) => s.state === 'running').length
        summary.overdue += allSteps.filter((s) => s.state === 'overdue').length
        summary.warning += allSteps.filter((s) => s.state === 'running' && s.level !== 'ok').length
        incidents.push({
          incidentId: f.incidentId,
          severity: f.severity,
          businessUnit: f.businessUnit,
          detectedAt: new Date(f.detectedAt).toISOString(),
          regimes,
        })
      }
      return {
        generatedAt: new Date(now).toISOString(),
        regimes: REGIMES.map((r) => ({
          id: r.id,
          title: r.title,
          reference: r.reference,
          steps: r.steps.map((s) => ({ id: s.id, title: s.title, allowed: allowedText(s.allowed) })),
        })),
        summary,
        incidents,
      }
    },
  )
}

export function mountRegimeClocksView(http: HttpServer, deps: RegimeClocksViewDeps): void {
  http.register(view, deps)
}
