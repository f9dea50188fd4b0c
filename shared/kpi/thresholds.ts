import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { alertingConfigSchema } from '../alerts/routing.js'
import { ConfigError, errorMessage } from '../errors.js'
import {
  type Comparator,
  KPIS,
  type KpiDefinition,
  kpiIds,
  type ThresholdOverride,
  thresholdOverrideSchema,
} from './catalog.js'
import { durationSchema, parseDuration } from './duration.js'
import { parseDecimal } from './fairness/exact.js'
import type { BreachPolicy } from './fairness/judge.js'
import {
  type FairnessKpiSpec,
  fairnessKpiSpecSchema,
  fairnessOptionsSchema,
  type Reference,
  referenceSchema,
} from './fairness/spec.js'
import { lifecycleConfigSchema } from './lifecycle.js'
import { nonconformityConfigSchema } from './nonconformity.js'
import { type RegimesConfig, regimesConfigSchema } from './regimes-config.js'

/**
 * The config file (YAML or JSON, `AIMS_CONFIG_FILE`): KPI thresholds (`kpis`, here) and alert routing
 * (`alerting`, shared/alerts/routing.ts). Strict: unknown keys and unknown KPI ids are errors, and every
 * error names the file and the field, e.g.
 * `deploy/config/aims.yaml: kpis.model.disparate_impact_ratio.overrides[0].warning: expected number, got string`.
 *
 * ```yaml
 * kpis:
 *   model.accuracy:
 *     for: 10m
 *     overrides:
 *       - match: { model_id: credit-scoring }
 *         warning: 0.9
 *         critical: 0.88
 * ```
 */

/** Thresholds of one KPI in the config file; every field optional (the catalog has the defaults). */
export const kpiThresholdConfigSchema = z.strictObject({
  /** false turns the KPI's breaches off everywhere (values are still recorded). Default true. */
  enabled: z.boolean().optional(),
  /** How long the condition must hold before the breach fires, e.g. 5m. Default: the catalog's. */
  for: durationSchema.optional(),
  /** Warning threshold; null removes the warning level. Default: the catalog's. */
  warning: z.number().finite().nullable().optional(),
  /** Critical threshold; null removes the critical level. Default: the catalog's. */
  critical: z.number().finite().nullable().optional(),
  /** Per-scope overrides, applied in order after the catalog's own; a later match wins field by field. */
  overrides: z.array(thresholdOverrideSchema).optional(),
})
export type KpiThresholdConfig = z.infer<typeof kpiThresholdConfigSchema>

// ----- fairness settings ---------------------------------------------------------------------------

const options = fairnessOptionsSchema.shape

/**
 * How a fairness KPI breaches: `point` (the default, the catalog's behaviour before intervals): the value
 * alone decides, compared exactly; `interval`: a level fires only when the value AND its whole confidence
 * interval lie beyond the tolerance band; a value beyond with an interval reaching back into the band is
 * shown as uncertain and pages nobody.
 */
export const breachPolicySchema = z.enum(['point', 'interval'])

/** Settings of fairness KPIs that may differ per scope (an override's `match`). */
const fairnessScopeSettings = {
  /** `point` or `interval`. Default point. */
  policy: breachPolicySchema.optional(),
  /** Smallest denominator of a rate for a group to take part (actual positives for a TPR, …). Default 30. */
  minSamples: options.minSamples.unwrap().optional(),
  /** A group below minSamples: `exclude` it (listed in the reason) or make the KPI `not_estimable`. Default exclude. */
  belowMinimum: options.belowMinimum.unwrap().optional(),
  /**
   * The reference group: `spread` (the two extreme groups: max − min, min / max; the default),
   * `majority` (the largest group), `best` (the best-off group on the rate) or `{ group: <name> }`.
   */
  reference: referenceSchema.optional(),
}

/** Settings of fairness KPIs that hold for a whole KPI (and, under `fairness:`, for all of them). */
const fairnessKpiSettings = {
  /** Confidence level of every interval, in (0, 1). Default 0.95. */
  level: options.level.unwrap().optional(),
  /** Intersections: the most cells assessed together; more is "not estimable" (too_many_cells). Default 64. */
  maxCells: options.maxCells.unwrap().optional(),
}

/** `fairness:` the defaults of every fairness KPI (each KPI, then each override, may change them). */
export const fairnessDefaultsSchema = z.strictObject({
  policy: fairnessScopeSettings.policy,
  minSamples: fairnessScopeSettings.minSamples,
  belowMinimum: fairnessScopeSettings.belowMinimum,
  ...fairnessKpiSettings,
})
export type FairnessDefaults = z.infer<typeof fairnessDefaultsSchema>

const fairnessOverrideSchema = thresholdOverrideSchema.extend(fairnessScopeSettings)

/** A fairness KPI's entry: thresholds, and how its value is computed and judged. */
export const fairnessKpiConfigSchema = z.strictObject({
  enabled: z.boolean().optional(),
  for: durationSchema.optional(),
  /** Difference KPIs: the largest tolerated |difference|; ratio KPIs: the low edge t of the band [t, 1/t]. */
  warning: z.number().finite().nullable().optional(),
  critical: z.number().finite().nullable().optional(),
  ...fairnessScopeSettings,
  ...fairnessKpiSettings,
  overrides: z.array(fairnessOverrideSchema).optional(),
})

/** `critical` must be at least as far into the breach side as `warning`. */
function levelsInOrder(op: Comparator, warning: number, critical: number): boolean {
  return op === 'gt' || op === 'gte' ? critical >= warning : critical <= warning
}

/** Checks only fairness entries have: exact decimal thresholds in range, a reference the metric allows. */
function checkFairnessEntry(
  kpi: KpiDefinition,
  spec: FairnessKpiSpec,
  entry: FairnessKpiConfig,
  ctx: z.RefinementCtx,
) {
  const threshold = (v: number | null | undefined, path: (string | number)[]) => {
    if (typeof v !== 'number') return
    try {
      parseDecimal(v, path.join('.'))
    } catch (err) {
      ctx.addIssue({ code: 'custom', path, message: errorMessage(err).replace(/^[^:]*: /, '') })
      return
    }
    if (spec.form === 'ratio' && !(v > 0 && v <= 1)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `${kpi.id} is a ratio judged against the band [t, 1/t]: t must be in (0, 1], got ${v}`,
      })
    }
    if (spec.form === 'difference' && v < 0) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `${kpi.id} tolerates |difference| <= t: t must be >= 0, got ${v}`,
      })
    }
  }
  const reference = (r: Reference | undefined, path: (string | number)[]) => {
    // A malformed reference is reported by the schema already.
    if (r === undefined || !referenceSchema.safeParse(r).success) return
    const parsed = fairnessKpiSpecSchema.safeParse({ ...spec, reference: r })
    if (!parsed.success) {
      for (const i of parsed.error.issues) ctx.addIssue({ code: 'custom', path, message: i.message })
    }
  }
  threshold(entry.warning, ['warning'])
  threshold(entry.critical, ['critical'])
  reference(entry.reference, ['reference'])
  entry.overrides?.forEach((o, i) => {
    threshold(o.warning, ['overrides', i, 'warning'])
    threshold(o.critical, ['overrides', i, 'critical'])
    reference(o.reference, ['overrides', i, 'reference'])
  })
}

function entrySchemaFor(kpi: KpiDefinition) {
  const spec = kpi.fairness
  const base = spec ? fairnessKpiConfigSchema : kpiThresholdConfigSchema
  return base.superRefine((entry, ctx) => {
    if (spec) checkFairnessEntry(kpi, spec, entry as FairnessKpiConfig, ctx)
    const check = (w: number | null | undefined, c: number | null | undefined, path: (string | number)[]) => {
      if (typeof w === 'number' && typeof c === 'number' && !levelsInOrder(kpi.thresholds.op, w, c)) {
        const side = kpi.direction === 'lower_is_better' ? '>=' : '<='
        ctx.addIssue({ code: 'custom', path, message: `critical must be ${side} warning (${kpi.direction})` })
      }
    }
    check(entry.warning, entry.critical, ['critical'])
    entry.overrides?.forEach((o, i) => {
      check(o.warning, o.critical, ['overrides', i, 'critical'])
      for (const label of Object.keys(o.match)) {
        if (!kpi.scope.includes(label)) {
          ctx.addIssue({
            code: 'custom',
            path: ['overrides', i, 'match', label],
            message:
              kpi.scope.length > 0
                ? `"${label}" is not a scope label of ${kpi.id} (labels: ${kpi.scope.join(', ')})`
                : `${kpi.id} has no scope labels: it cannot be overridden per scope`,
          })
        }
      }
    })
  })
}

/** The `kpis` section: KPI id → thresholds; unknown ids rejected. */
export const kpisConfigSchema = z.strictObject(
  Object.fromEntries(KPIS.map((k) => [k.id, entrySchemaFor(k).optional()])) as Record<
    string,
    z.ZodOptional<z.ZodType<FairnessKpiConfig>>
  >,
)
/** An entry of `kpis`; the fairness settings exist on fairness KPIs only (the schema rejects them elsewhere). */
export type FairnessKpiConfig = z.infer<typeof fairnessKpiConfigSchema>
export type KpisConfig = Partial<Record<string, FairnessKpiConfig>>

/** The whole config file. */
export const aimsConfigSchema = z.strictObject({
  kpis: kpisConfigSchema.optional(),
  /** Defaults of every fairness KPI: policy, minSamples, belowMinimum, level, maxCells. */
  fairness: fairnessDefaultsSchema.optional(),
  alerting: alertingConfigSchema.optional(),
  regimes: regimesConfigSchema.optional(),
  nonconformity: nonconformityConfigSchema.optional(),
  lifecycle: lifecycleConfigSchema.optional(),
})
export type AimsConfig = z.infer<typeof aimsConfigSchema>

function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out === '' ? String(p) : `.${String(p)}`
  }
  return out
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`
  if (typeof v === 'object') return 'object'
  return `${typeof v} ${String(v)}`
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<PropertyKey, unknown>)[p]
  }
  return cur
}

/** One zod issue as `field.path: message`, with friendlier wording for the common cases. */
function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path) || '(top level)'
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ')
    if (issue.path.length === 1 && issue.path[0] === 'kpis') {
      return `${where}: unknown KPI id ${keys} (known: ${kpiIds.join(', ')})`
    }
    return `${where}: unknown key ${keys}`
  }
  if (issue.code === 'invalid_type') {
    const got = valueAt(input, issue.path)
    return `${where}: expected ${issue.expected}${got === undefined ? ', got nothing' : `, got ${describeValue(got)}`}`
  }
  return `${where}: ${issue.message}`
}

/**
 * Validates a parsed config object. `source` names it in errors (the file path). Throws a ConfigError
 * whose message and `issues` list every problem as `<source>: <field>: <problem>`.
 */
export function parseAimsConfig(input: unknown, source = 'config'): AimsConfig {
  const parsed = aimsConfigSchema.safeParse(input ?? {})
  if (parsed.success) return parsed.data
  const issues = parsed.error.issues.map((i) => `${source}: ${formatIssue(i, input)}`)
  throw new ConfigError(`Invalid configuration file ${source}:\n  ${issues.join('\n  ')}`, issues)
}

/** Reads and validates the config file (YAML, or JSON which is YAML). */
export async function loadAimsConfigFile(path: string): Promise<AimsConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the config file: ${errorMessage(err)}`, [
      `${path}: cannot read`,
    ])
  }
  return parseAimsConfigText(text, path)
}

/** Parses config text (YAML or JSON); `source` names it in errors. */
export function parseAimsConfigText(text: string, source: string): AimsConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = e.linePos?.[0]
      return `${source}${pos ? `:${pos.line}:${pos.col}` : ''}: ${e.message.split('\n')[0]}`
    })
    throw new ConfigError(`Invalid configuration file ${source}:\n  ${issues.join('\n  ')}`, issues)
  }
  return parseAimsConfig(doc.toJS(), source)
}

// ---------------------------------------------------------------------------------------------------

/** The thresholds in force for one KPI series. */
export interface EffectiveThresholds {
  enabled: boolean
  /** Breach when `value <op> threshold`. */
  op: Comparator
  warning: number | null
  critical: number | null
  /** The `for` duration as written, and in milliseconds. */
  for: string
  forMs: number
  /**
   * Fairness KPIs: judged against a tolerance band built from each threshold t (|difference| <= t, or
   * t <= ratio <= 1/t), exactly, under a breach policy.
   */
  fairness?: { form: 'difference' | 'ratio'; policy: BreachPolicy }
}

/** The config as the resolvers read it. */
export type ResolverConfig =
  | {
      kpis?: KpisConfig | undefined
      fairness?: FairnessDefaults | undefined
      regimes?: RegimesConfig | undefined
    }
  | undefined

/** How one fairness KPI series is computed and judged (every field resolved). */
export interface FairnessSettings {
  reference: Reference
  policy: BreachPolicy
  level: number
  minSamples: number
  belowMinimum: 'exclude' | 'not_estimable'
  maxCells: number
}

/** Which KPIs are computed: those on by default unless the config turns them off, and those it turns on. */
export function enabledKpis(config: ResolverConfig): KpiDefinition[] {
  return KPIS.filter((k) => config?.kpis?.[k.id]?.enabled ?? k.enabledByDefault !== false)
}

/**
 * The fairness settings of `kpi` for `scope`. Layers, each replacing the fields it sets: the fairness
 * module's defaults (level 0.95, minSamples 30, exclude, maxCells 64) and policy point → the config's
 * `fairness:` → the catalog's reference → the config's KPI entry → its overrides matching the scope.
 */
export function resolveFairnessSettings(
  kpi: KpiDefinition,
  scope: Readonly<Record<string, string>>,
  config?: ResolverConfig,
): FairnessSettings {
  const module = fairnessOptionsSchema.parse({})
  const out: FairnessSettings = {
    reference: kpi.fairness?.reference ?? 'spread',
    policy: 'point',
    level: module.level,
    minSamples: module.minSamples,
    belowMinimum: module.belowMinimum,
    maxCells: module.maxCells,
  }
  const apply = (
    layer: Partial<{ [K in keyof FairnessSettings]: FairnessSettings[K] | undefined }> | undefined,
  ) => {
    if (!layer) return
    for (const key of Object.keys(out) as (keyof FairnessSettings)[]) {
      const v = layer[key]
      if (v !== undefined) (out as unknown as Record<string, unknown>)[key] = v
    }
  }
  apply(config?.fairness)
  const entry = config?.kpis?.[kpi.id]
  if (entry) {
    apply(entry)
    for (const o of entry.overrides ?? []) if (overrideMatches(o.match, scope)) apply(o)
  }
  return out
}

export function overrideMatches(
  match: ThresholdOverride['match'],
  scope: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(match).every(([label, want]) => {
    const have = scope[label]
    if (have === undefined) return false
    return Array.isArray(want) ? want.includes(have) : want === have
  })
}

/**
 * The effective thresholds of `kpi` for `scope`. Layers, each replacing only the fields it sets:
 * catalog defaults → catalog overrides matching the scope → config file KPI entry → config file
 * overrides matching the scope (in order; a later match wins).
 */
export function resolveThresholds(
  kpi: KpiDefinition,
  scope: Readonly<Record<string, string>>,
  config?: ResolverConfig,
): EffectiveThresholds {
  const out = {
    enabled: true,
    warning: kpi.thresholds.warning,
    critical: kpi.thresholds.critical,
    for: kpi.thresholds.for,
  }
  const apply = (layer: {
    enabled?: boolean | undefined
    warning?: number | null | undefined
    critical?: number | null | undefined
    for?: string | undefined
  }) => {
    if (layer.enabled !== undefined) out.enabled = layer.enabled
    if (layer.warning !== undefined) out.warning = layer.warning
    if (layer.critical !== undefined) out.critical = layer.critical
    if (layer.for !== undefined) out.for = layer.for
  }
  for (const o of kpi.thresholds.overrides) if (overrideMatches(o.match, scope)) apply(o)
  const entry = config?.kpis?.[kpi.id]
  if (entry) {
    apply(entry)
    for (const o of entry.overrides ?? []) if (overrideMatches(o.match, scope)) apply(o)
  }
  const base = { ...out, op: kpi.thresholds.op, forMs: parseDuration(out.for) }
  if (!kpi.fairness) return base
  return {
    ...base,
    fairness: { form: kpi.fairness.form, policy: resolveFairnessSettings(kpi, scope, config).policy },
  }
}
