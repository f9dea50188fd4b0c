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

/** `critical` must be at least as far into the breach side as `warning`. */
function levelsInOrder(op: Comparator, warning: number, critical: number): boolean {
  return op === 'gt' || op === 'gte' ? critical >= warning : critical <= warning
}

function entrySchemaFor(kpi: KpiDefinition) {
  return kpiThresholdConfigSchema.superRefine((entry, ctx) => {
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
    z.ZodOptional<ReturnType<typeof entrySchemaFor>>
  >,
)
export type KpisConfig = Partial<Record<string, KpiThresholdConfig>>

/** The whole config file. */
export const aimsConfigSchema = z.strictObject({
  kpis: kpisConfigSchema.optional(),
  alerting: alertingConfigSchema.optional(),
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
  config?: { kpis?: KpisConfig | undefined } | undefined,
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
  return { ...out, op: kpi.thresholds.op, forMs: parseDuration(out.for) }
}
