import { fairnessReport, type GroupCounts } from '../fairness.js'
import type { Sample } from './sample.js'

/**
 * The model KPIs of one model (every environment and version), from its state rows: they change only
 * when an evaluation of that model arrives, so a trigger recomputes exactly this model and nothing else.
 * The environment is part of every series' scope: a staging evaluation never moves a production series.
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
  /** The baseline named by the version's latest evaluation giving one. */
  baseline: string | null
}

export interface FairnessGroupFacts {
  modelId: string
  environment: string
  modelVersion: string
  attribute: string
  group: string
  /** The order key of the evaluation the counts come from, comparable as a string (see `versionKey`). */
  version: string
  tp: number
  fp: number
  tn: number
  fn: number
}

/** A ClickHouse order key (a UInt128, as JSON gives it) as a string whose order is the key's order. */
export function versionKey(k: string | number | bigint): string {
  return BigInt(k).toString().padStart(40, '0')
}

/** ClickHouse compares strings byte by byte (UTF-8); so does this. */
function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export const METRIC_KPIS = [
  ['model.accuracy', 'accuracy'],
  ['model.f1', 'f1'],
  ['model.auc', 'auc'],
] as const

/** Every series of the model KPIs for these versions and groups (all of one or more models). */
export function modelSamples(
  versions: readonly ModelVersionFacts[],
  groups: readonly FairnessGroupFacts[],
  now: number,
): Sample[] {
  const out: Sample[] = []
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
    line.forEach((v, i) => {
      const scope = { model_id: v.modelId, environment: v.environment, model_version: v.modelVersion }
      for (const [kpiId, metric] of METRIC_KPIS) out.push({ kpiId, scope, value: v[metric], at: now })
      const b = v.baseline !== null ? index.get(v.baseline) : i > 0 ? i - 1 : undefined
      const base = b === undefined || b === i ? undefined : line[b]
      const drop =
        base !== undefined && base.accuracy !== null && v.accuracy !== null
          ? (base.accuracy - v.accuracy) * 100
          : null
      out.push({ kpiId: 'model.accuracy_drop_points', scope, value: drop, at: now })
    })
  }

  const attributes = new Map<string, FairnessGroupFacts[]>()
  for (const g of groups) {
    const key = `${g.modelId}\u0000${g.environment}\u0000${g.modelVersion}\u0000${g.attribute}`
    const list = attributes.get(key)
    if (list) list.push(g)
    else attributes.set(key, [g])
  }
  for (const list of attributes.values()) {
    let latest = ''
    for (const g of list) if (g.version > latest) latest = g.version
    const current: GroupCounts[] = list
      .filter((g) => g.version === latest)
      .map((g) => ({ group: g.group, tp: g.tp, fp: g.fp, tn: g.tn, fn: g.fn }))
    const first = list[0]!
    const scope = {
      model_id: first.modelId,
      environment: first.environment,
      model_version: first.modelVersion,
      attribute: first.attribute,
    }
    const r = fairnessReport(current)
    out.push(
      { kpiId: 'model.demographic_parity_difference', scope, value: r.demographicParityDifference, at: now },
      { kpiId: 'model.disparate_impact_ratio', scope, value: r.disparateImpactRatio, at: now },
      { kpiId: 'model.equalized_odds_difference', scope, value: r.equalizedOddsDifference, at: now },
      { kpiId: 'model.accuracy_gap', scope, value: r.accuracyGap, at: now },
    )
  }
  return out
}
