import type { KpiDefinition } from '../catalog.js'
import { type OverallMetric, overallFromAttributes, reconcileMetrics } from '../fairness/overall.js'
import { computeFairnessKpi, type FairnessKpiResult, notEstimable } from '../fairness/parity.js'
import { type GroupInput, RATE_DEFINITIONS } from '../fairness/rates.js'
import { parseSpec } from '../fairness/spec.js'
import { enabledKpis, type ResolverConfig, resolveFairnessSettings } from '../thresholds.js'
import type { Sample } from './sample.js'

/**
 * The model KPIs of one model (every environment and version), from its state rows: they change only
 * when an evaluation of that model arrives, so a trigger recomputes exactly this model and nothing else.
 * The environment is part of every series' scope: a staging evaluation never moves a production series.
 *
 * - Performance (accuracy, precision, recall, F1): the latest reported value, else derived from the
 *   confusion counts of the version's latest evaluation (the first fully labelled attribute by name); a
 *   reported value that disagrees with the counts beyond rounding keeps the reported value and says so in
 *   the reason (`disagreement: …`). AUC is reported only. The accuracy drop uses the same accuracy.
 * - Label coverage: labelled counts / prediction counts of the latest evaluation of each attribute, the
 *   lowest over the attributes.
 * - Fairness: every fairness KPI of the plan, per attribute (an intersection's cells form one attribute),
 *   computed by shared/kpi/fairness from the groups of the latest evaluation reporting that attribute, in
 *   group-name order: value, exact rational, n, interval, or not estimable with its reason.
 * The reference queries (shared/kpi/sql.ts `modelReferenceSql`) compute the same from the facts.
 */

export interface ModelVersionFacts {
  modelId: string
  environment: string
  modelVersion: string
  /** First evaluation of this version in this environment (ms): orders versions for the baseline. */
  firstSeen: number
  accuracy: number | null
  f1: number | null
  auc: number | null
  precision?: number | null
  recall?: number | null
  /** The baseline named by the version's latest evaluation giving one. */
  baseline: string | null
  /** Event time of the version's latest evaluation in this environment (ms), never later than it arrived. */
  lastEventAt?: number | null
}

export interface FairnessGroupFacts {
  modelId: string
  environment: string
  modelVersion: string
  attribute: string
  group: string
  /** The order key of the evaluation the counts come from, comparable as a string (see `versionKey`). */
  version: string
  /** Labelled confusion counts (all 0: the group has no labels in that evaluation). */
  tp: number
  fp: number
  tn: number
  fn: number
  /** Prediction-only counts (0 / 0: not given). */
  selected?: number
  total?: number
  /** The attributes combined when the attribute is an intersection (its groups are cells); [] otherwise. */
  cellAttributes?: readonly string[]
}

/** A ClickHouse order key (a UInt128, as JSON gives it) as a string whose order is the key's order. */
export function versionKey(k: string | number | bigint): string {
  return BigInt(k).toString().padStart(40, '0')
}

/** ClickHouse compares strings byte by byte (UTF-8); so does this. */
export function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export const METRIC_KPIS = [
  ['model.accuracy', 'accuracy'],
  ['model.precision', 'precision'],
  ['model.recall', 'recall'],
  ['model.f1', 'f1'],
] as const satisfies readonly (readonly [string, OverallMetric])[]

/** Which fairness KPIs a configuration computes and how (the rest of the model KPIs always are). */
export interface ModelPlan {
  fairness: readonly KpiDefinition[]
  config: ResolverConfig
}

/** The plan of a configuration: its enabled fairness KPIs, in catalog order. */
export function modelPlan(config?: ResolverConfig): ModelPlan {
  return { fairness: enabledKpis(config).filter((k) => k.fairness !== undefined), config }
}

const DEFAULT_PLAN = modelPlan(undefined)

const labelled = (g: FairnessGroupFacts) => g.tp + g.fp + g.tn + g.fn > 0

/** The group as the fairness module reads it for label-dependent rates: confusion counts, else predictions. */
function labelledInput(g: FairnessGroupFacts): GroupInput {
  return labelled(g)
    ? { group: g.group, tp: g.tp, fp: g.fp, tn: g.tn, fn: g.fn }
    : { group: g.group, selected: g.selected ?? 0, total: g.total ?? 0 }
}

/** For the selection rate: the prediction counts when given (every prediction), else the confusion counts. */
function selectionInput(g: FairnessGroupFacts): GroupInput {
  return (g.total ?? 0) > 0
    ? { group: g.group, selected: g.selected ?? 0, total: g.total ?? 0 }
    : { group: g.group, tp: g.tp, fp: g.fp, tn: g.tn, fn: g.fn }
}

const show = (v: number | null) => (v === null ? 'none' : String(Number(v.toPrecision(6))))

/** An estimable result's excluded groups, or null. */
function exclusions(result: FairnessKpiResult): string | null {
  const out = result.rates
    .filter((r) => r.excluded !== null)
    .map(
      (r) =>
        `${JSON.stringify(r.group)} ${RATE_DEFINITIONS[r.rate].title} ${
          r.excluded === 'below_minimum'
            ? `below the minimum sample (n=${r.n} < ${result.minSamples})`
            : r.excluded === 'zero_denominator'
              ? 'without a denominator (n=0)'
              : 'without labels'
        }`,
    )
  return out.length === 0 ? null : `excluded_groups: ${out.join('; ')}`
}

/** A fairness result as a sample: value, exact rational, n, interval, reason; comparisons when judged one by one. */
export function fairnessSample(
  kpiId: string,
  scope: Record<string, string>,
  result: FairnessKpiResult,
  at: number,
): Sample {
  if (!result.estimable) {
    return {
      kpiId,
      scope,
      value: null,
      at,
      exact: null,
      n: null,
      ci_low: null,
      ci_high: null,
      reason: `${result.reason}: ${result.detail}`,
    }
  }
  const judgedOneByOne = result.spec.reference !== 'spread' && result.spec.metric !== 'equalized_odds'
  return {
    kpiId,
    scope,
    value: result.value,
    at,
    exact: result.exact,
    n: result.n,
    ci_low: result.ci_low,
    ci_high: result.ci_high,
    reason: exclusions(result),
    ...(judgedOneByOne
      ? {
          comparisons: result.comparisons.map((c) => ({
            exact: c.exact,
            ci_low: c.ci_low,
            ci_high: c.ci_high,
          })),
        }
      : {}),
  }
}

/** One fairness KPI of one attribute's groups (sorted by name), with the settings in force for its scope. */
export function fairnessKpiSample(
  kpi: KpiDefinition,
  scope: Record<string, string>,
  groups: readonly FairnessGroupFacts[],
  at: number,
  config?: ResolverConfig,
): Sample {
  const settings = resolveFairnessSettings(kpi, scope, config)
  const spec = { ...kpi.fairness!, reference: settings.reference }
  const options = {
    level: settings.level,
    minSamples: settings.minSamples,
    belowMinimum: settings.belowMinimum,
    maxCells: settings.maxCells,
  }
  const cells = groups[0]?.cellAttributes ?? []
  let result: FairnessKpiResult
  if (cells.length > 0 && groups.length > settings.maxCells) {
    result = notEstimable(
      { spec: parseSpec(spec), level: settings.level, minSamples: settings.minSamples },
      'too_many_cells',
      `${groups.length} combinations of ${cells.join(' × ')} exceed the cap of ${settings.maxCells}`,
    )
  } else {
    const input = spec.metric === 'demographic_parity' ? selectionInput : labelledInput
    result = computeFairnessKpi(groups.map(input), spec, options)
  }
  return fairnessSample(kpi.id, scope, result, at)
}

/** The groups of the latest evaluation of each (model, environment, version, attribute), sorted by name. */
function latestAttributes(
  groups: readonly FairnessGroupFacts[],
): Map<string, { attribute: string; groups: FairnessGroupFacts[] }[]> {
  const byAttribute = new Map<string, FairnessGroupFacts[]>()
  for (const g of groups) {
    const key = `${g.modelId}\u0000${g.environment}\u0000${g.modelVersion}\u0000${g.attribute}`
    const list = byAttribute.get(key)
    if (list) list.push(g)
    else byAttribute.set(key, [g])
  }
  const byVersion = new Map<string, { attribute: string; groups: FairnessGroupFacts[] }[]>()
  for (const list of byAttribute.values()) {
    let latest = ''
    for (const g of list) if (g.version > latest) latest = g.version
    const current = list.filter((g) => g.version === latest).sort((a, b) => byteCompare(a.group, b.group))
    const first = current[0]!
    const key = `${first.modelId}\u0000${first.environment}\u0000${first.modelVersion}`
    const attrs = byVersion.get(key) ?? []
    attrs.push({ attribute: first.attribute, groups: current })
    byVersion.set(key, attrs)
  }
  for (const attrs of byVersion.values()) attrs.sort((a, b) => byteCompare(a.attribute, b.attribute))
  return byVersion
}

/** Lowest labelled / predicted share over the attributes; null without attributes. */
function labelCoverage(attrs: readonly { groups: readonly FairnessGroupFacts[] }[]): number | null {
  let lowest: number | null = null
  for (const a of attrs) {
    let labelledN = 0
    let predicted = 0
    for (const g of a.groups) {
      const size = g.tp + g.fp + g.tn + g.fn
      labelledN += size
      predicted += (g.total ?? 0) > 0 ? g.total! : size
    }
    if (predicted === 0) continue
    const share = labelledN / predicted
    if (lowest === null || share < lowest) lowest = share
  }
  return lowest
}

/** Every series of the model KPIs for these versions and groups (all of one or more models). */
export function modelSamples(
  versions: readonly ModelVersionFacts[],
  groups: readonly FairnessGroupFacts[],
  now: number,
  plan: ModelPlan = DEFAULT_PLAN,
): Sample[] {
  const out: Sample[] = []
  const attributes = latestAttributes(groups)
  const lines = new Map<string, ModelVersionFacts[]>()
  for (const v of versions) {
    const key = `${v.modelId}\u0000${v.environment}`
    const line = lines.get(key)
    if (line) line.push(v)
    else lines.set(key, [v])
  }
  for (const line of lines.values()) {
    line.sort((a, b) => a.firstSeen - b.firstSeen || byteCompare(a.modelVersion, b.modelVersion))
    const index = new Map(line.map((v, i) => [v.modelVersion, i]))
    // Every version's performance first: a version's accuracy drop reads its baseline's accuracy.
    const measured = line.map((v) => {
      const attrs = attributes.get(`${v.modelId}\u0000${v.environment}\u0000${v.modelVersion}`) ?? []
      const overall = overallFromAttributes(
        attrs.map((a) => ({ attribute: a.attribute, groups: a.groups.map(labelledInput) })),
      )
      const reported: Partial<Record<OverallMetric, number>> = {}
      for (const [, m] of METRIC_KPIS) {
        const r = v[m]
        if (r !== null && r !== undefined) reported[m] = r
      }
      return { attrs, overall, reconciled: reconcileMetrics(reported, overall.confusion) }
    })
    line.forEach((v, i) => {
      const scope = { model_id: v.modelId, environment: v.environment, model_version: v.modelVersion }
      const { attrs, overall, reconciled } = measured[i]!
      for (const [kpiId, m] of METRIC_KPIS) {
        const r = reconciled[m]
        const from = `the confusion counts of ${JSON.stringify(overall.attribute)}`
        const reason = r.disagreement
          ? `disagreement: reported ${show(r.reported)}, ${show(r.derived)} derived from ${from} (tolerance ${show(r.tolerance)})`
          : r.source === 'derived'
            ? `derived: from ${from}`
            : null
        out.push({ kpiId, scope, value: r.value, at: now, reason })
      }
      out.push({ kpiId: 'model.auc', scope, value: v.auc, at: now })
      out.push({ kpiId: 'model.label_coverage', scope, value: labelCoverage(attrs), at: now })
      const b = v.baseline !== null ? index.get(v.baseline) : i > 0 ? i - 1 : undefined
      const base = b === undefined || b === i ? null : measured[b]!.reconciled.accuracy.value
      const current = reconciled.accuracy.value
      out.push({
        kpiId: 'model.accuracy_drop_points',
        scope,
        value: base !== null && current !== null ? (base - current) * 100 : null,
        at: now,
      })
    })
  }

  if (plan.fairness.length > 0) {
    for (const attrs of attributes.values()) {
      for (const a of attrs) {
        const first = a.groups[0]!
        const scope = {
          model_id: first.modelId,
          environment: first.environment,
          model_version: first.modelVersion,
          attribute: a.attribute,
        }
        for (const kpi of plan.fairness) out.push(fairnessKpiSample(kpi, scope, a.groups, now, plan.config))
      }
    }
  }
  markInputs(out, lines)
  return out
}

/**
 * Staleness is watched on the version a model line (model, environment) is evaluated on now — the one
 * with the latest evaluation — with the time of that evaluation; superseded versions are not stale.
 */
function markInputs(samples: Sample[], lines: ReadonlyMap<string, readonly ModelVersionFacts[]>): void {
  const current = new Map<string, { version: string; at: number }>()
  for (const [key, line] of lines) {
    let best: ModelVersionFacts | undefined
    for (const v of line) {
      if (v.lastEventAt === null || v.lastEventAt === undefined) continue
      if (best === undefined || v.lastEventAt >= best.lastEventAt!) best = v
    }
    if (best) current.set(key, { version: best.modelVersion, at: best.lastEventAt! })
  }
  for (const s of samples) {
    if (s.inputAt !== undefined) continue
    const c = current.get(`${s.scope.model_id}\u0000${s.scope.environment}`)
    if (c && c.version === s.scope.model_version) s.inputAt = c.at
  }
}
