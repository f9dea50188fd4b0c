import { z } from 'zod'
import { type Severity, severitySchema } from '../alerts/alert-job.js'
import {
  type Comparator,
  KPIS,
  type KpiArea,
  type KpiDefinition,
  thresholdOverrideSchema,
} from './catalog.js'
import { durationSchema, isDuration, parseDuration } from './duration.js'

/**
 * The `lifecycle:` section of the config file: how a breach leaves the firing state (hysteresis) and
 * when a series whose inputs stopped arriving is stale. Keys are an area (`model`: every KPI of it) or a
 * KPI id (on top of its area); each may have per-scope `overrides` like the thresholds.
 *
 * ```yaml
 * lifecycle:
 *   model:                         # every model KPI
 *     overrides:
 *       - match: { environment: production }
 *         stale_after: 2d          # a production model with no evaluation for 2 days is stale
 *   model.accuracy:
 *     clear: 0.87                  # a breach resolves only once accuracy is back at 0.87 or better
 *     resolve_after: 3             # ...for 3 evaluations in a row
 *     keep_firing_for: 1h          # ...and for at least an hour
 * ```
 */

const settings = {
  /**
   * Hysteresis: a firing breach resolves only once the value no longer crosses this threshold either
   * (e.g. accuracy fires below 0.85 and clears at 0.87). KPI entries only; on the healthy side of the
   * KPI's thresholds. Default: none (the breach threshold itself).
   */
  clear: z.number().finite().optional(),
  /** Consecutive healthy evaluations before a firing breach resolves. Default 1. */
  resolve_after: z.number().int().min(1).max(1000).optional(),
  /** How long the value must stay healthy before a firing breach resolves (Prometheus' keep_firing_for). Default 0s. */
  keep_firing_for: durationSchema.optional(),
  /**
   * A series is stale when its inputs have not arrived for this long (model KPIs: no evaluation of the
   * model in that environment); stale is a status of its own and alerts on its own. null turns it off for
   * the matched scopes. Default: off.
   */
  stale_after: durationSchema.nullable().optional(),
  /** Severity of the stale alert. Default warning. */
  stale_severity: severitySchema.optional(),
  /**
   * false: the series shows stale but sends no alert (e.g. stale on the whole area, alerting on one KPI
   * per model). Default true.
   */
  stale_alert: z.boolean().optional(),
}

const lifecycleOverrideSchema = z.strictObject({ match: thresholdOverrideSchema.shape.match, ...settings })

/** One entry of `lifecycle:` (an area or a KPI). */
export const lifecycleEntrySchema = z.strictObject({
  ...settings,
  overrides: z.array(lifecycleOverrideSchema).optional(),
})
export type LifecycleEntry = z.infer<typeof lifecycleEntrySchema>

/**
 * Where stale_after is measured: a model's series from its latest evaluation; the privacy and audit
 * aggregates from the area's latest event (the feed as a whole: a SIEM or audit tool that stopped
 * sending). Per-incident clocks run on their own time and are not watched.
 */
const STALE_AREAS: ReadonlySet<KpiArea> = new Set(['model', 'privacy', 'audit'])
const clockScoped = (kpi: KpiDefinition | undefined) => kpi?.scope.includes('incident_id') === true

/** A clear threshold on the breach side of a level would never hold back a resolve: rejected. */
function clearIsHealthy(op: Comparator, clear: number, levels: readonly (number | null)[]): boolean {
  return levels.every((t) => t === null || (op === 'gt' || op === 'gte' ? clear <= t : clear >= t))
}

function entrySchemaFor(area: KpiArea, kpi: KpiDefinition | undefined) {
  return lifecycleEntrySchema.superRefine((entry, ctx) => {
    const layers: [LifecycleEntry | z.infer<typeof lifecycleOverrideSchema>, (string | number)[]][] = [
      [entry, []],
      ...(entry.overrides ?? []).map((o, i): [typeof o, (string | number)[]] => [o, ['overrides', i]]),
    ]
    for (const [layer, path] of layers) {
      if (layer.clear !== undefined) {
        if (!kpi) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'clear'],
            message: 'clear is set per KPI (each has its own thresholds), not per area',
          })
        } else if (kpi.fairness) {
          ctx.addIssue({
            code: 'custom',
            path: [...path, 'clear'],
            message: `${kpi.id} is judged against a tolerance band: use resolve_after or keep_firing_for`,
          })
        } else {
          const { op, warning, critical } = kpi.thresholds
          if (!clearIsHealthy(op, layer.clear, [warning, critical])) {
            const side = op === 'gt' || op === 'gte' ? '<=' : '>='
            ctx.addIssue({
              code: 'custom',
              path: [...path, 'clear'],
              message: `must be ${side} the warning and critical thresholds of ${kpi.id} (the healthy side)`,
            })
          }
        }
      }
      if (
        typeof layer.stale_after === 'string' &&
        isDuration(layer.stale_after) &&
        parseDuration(layer.stale_after) === 0
      ) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'stale_after'],
          message: 'must be longer than 0s (null turns it off)',
        })
      }
      if (layer.stale_after !== undefined && layer.stale_after !== null && !STALE_AREAS.has(area)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'stale_after'],
          message: `staleness is measured for model, privacy and audit KPIs; ${area} is not supported`,
        })
      }
      if (layer.stale_after !== undefined && layer.stale_after !== null && clockScoped(kpi)) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'stale_after'],
          message: `${kpi!.id} is a per-incident clock, driven by its own time: staleness watches the area's aggregate KPIs`,
        })
      }
    }
    entry.overrides?.forEach((o, i) => {
      const labels = kpi
        ? kpi.scope
        : [...new Set(KPIS.filter((k) => k.area === area).flatMap((k) => k.scope))]
      for (const label of Object.keys(o.match)) {
        if (!labels.includes(label)) {
          ctx.addIssue({
            code: 'custom',
            path: ['overrides', i, 'match', label],
            message: `"${label}" is not a scope label of ${kpi?.id ?? `the ${area} KPIs`} (labels: ${labels.join(', ') || 'none'})`,
          })
        }
      }
    })
  })
}

const AREAS: readonly KpiArea[] = ['privacy', 'model', 'audit']

/** The `lifecycle` section: area or KPI id → settings; unknown keys rejected. */
export const lifecycleConfigSchema = z.strictObject(
  Object.fromEntries([
    ...AREAS.map((a) => [a, entrySchemaFor(a, undefined).optional()]),
    ...KPIS.map((k) => [k.id, entrySchemaFor(k.area, k).optional()]),
  ]) as Record<string, z.ZodOptional<z.ZodType<LifecycleEntry>>>,
)
export type LifecycleConfig = Partial<Record<string, LifecycleEntry>>

/** The lifecycle settings in force for one series. */
export interface EffectiveLifecycle {
  /** Hysteresis threshold, or null: the breach thresholds themselves. */
  clear: number | null
  resolveAfter: number
  keepFiringForMs: number
  /** As written (for messages) and in ms; null: the series is never stale. */
  staleAfter: string | null
  staleAfterMs: number | null
  staleSeverity: Severity
  staleAlert: boolean
}

export const DEFAULT_LIFECYCLE: EffectiveLifecycle = Object.freeze({
  clear: null,
  resolveAfter: 1,
  keepFiringForMs: 0,
  staleAfter: null,
  staleAfterMs: null,
  staleSeverity: 'warning',
  staleAlert: true,
})

function matches(match: Record<string, string | string[]>, scope: Readonly<Record<string, string>>): boolean {
  return Object.entries(match).every(([label, want]) => {
    const have = scope[label]
    if (have === undefined) return false
    return Array.isArray(want) ? want.includes(have) : want === have
  })
}

/**
 * The lifecycle of `kpi` for `scope`. Layers, each replacing the fields it sets: defaults → the area's
 * entry → its overrides matching the scope → the KPI's entry → its overrides (a later match wins).
 */
export function resolveLifecycle(
  kpi: KpiDefinition,
  scope: Readonly<Record<string, string>>,
  config: LifecycleConfig | undefined,
): EffectiveLifecycle {
  if (!config) return DEFAULT_LIFECYCLE
  const out = {
    clear: null as number | null,
    resolve_after: 1,
    keep_firing_for: '0s',
    stale_after: null as string | null,
    stale_severity: 'warning' as Severity,
    stale_alert: true,
  }
  const apply = (layer: Omit<LifecycleEntry, 'overrides'>) => {
    if (layer.clear !== undefined) out.clear = layer.clear
    if (layer.resolve_after !== undefined) out.resolve_after = layer.resolve_after
    if (layer.keep_firing_for !== undefined) out.keep_firing_for = layer.keep_firing_for
    if (layer.stale_after !== undefined) out.stale_after = layer.stale_after
    if (layer.stale_severity !== undefined) out.stale_severity = layer.stale_severity
    if (layer.stale_alert !== undefined) out.stale_alert = layer.stale_alert
  }
  for (const entry of [config[kpi.area], config[kpi.id]]) {
    if (!entry) continue
    apply(entry)
    for (const o of entry.overrides ?? []) if (matches(o.match, scope)) apply(o)
  }
  return {
    clear: out.clear,
    resolveAfter: out.resolve_after,
    keepFiringForMs: parseDuration(out.keep_firing_for),
    staleAfter: out.stale_after,
    staleAfterMs: out.stale_after === null ? null : parseDuration(out.stale_after),
    staleSeverity: out.stale_severity,
    staleAlert: out.stale_alert,
  }
}

/** Whether any series may be watched for staleness (a stale_after set anywhere). */
export function staleAfterConfigured(
  config: { lifecycle?: LifecycleConfig | undefined } | undefined,
): boolean {
  const entries = Object.values(config?.lifecycle ?? {})
  return entries.some(
    (e) =>
      typeof e?.stale_after === 'string' ||
      (e?.overrides ?? []).some((o) => typeof o.stale_after === 'string'),
  )
}
