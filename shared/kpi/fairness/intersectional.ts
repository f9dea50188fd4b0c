import { UserInputError } from '../../errors.js'
import { computeFairnessKpi, type FairnessKpiResult, notEstimable } from './parity.js'
import type { ConfusionCounts, GroupInput, PredictionCounts } from './rates.js'
import { type FairnessKpiSpecInput, type FairnessOptionsInput, parseOptions, parseSpec } from './spec.js'

/**
 * Intersectional groups: counts per combination of attribute values (gender × age band, …), each
 * combination ("cell") a group of its own for the same KPIs. Cells multiply fast and get small, so
 * their number is capped (`maxCells`, default 64; beyond it the KPI is "not estimable", never a silent
 * cut) and a small cell is handled like any small group: left out and listed, or the KPI not estimable
 * (`belowMinimum`). The parent attributes are assessed from the marginal sums (`marginalGroups`), so a
 * cell too small to judge never hides its attributes.
 */

export interface IntersectionalCell {
  /** The value of each attribute for this combination, e.g. `{ gender: 'female', age_band: '18-25' }`. */
  values: Readonly<Record<string, string>>
  counts: Omit<ConfusionCounts, 'group'> | Omit<PredictionCounts, 'group'>
}

const encodePart = (s: string) => s.replace(/[%;=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * The group name of a cell: `attribute=value` pairs in the given attribute order joined by `;`, with
 * `%`, `;` and `=` percent-encoded, e.g. `gender=female;age_band=18-25`. Unambiguous; `parseCellName`
 * inverts it.
 */
export function cellName(values: Readonly<Record<string, string>>, attributes: readonly string[]): string {
  return attributes.map((a) => `${encodePart(a)}=${encodePart(values[a] ?? '')}`).join(';')
}

export function parseCellName(name: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of name.split(';')) {
    const [a = '', v = ''] = pair.split('=')
    out[decodeURIComponent(a)] = decodeURIComponent(v)
  }
  return out
}

function checkCells(cells: readonly IntersectionalCell[], attributes: readonly string[]): void {
  if (attributes.length < 2) throw new UserInputError('intersectional groups need at least two attributes')
  if (new Set(attributes).size !== attributes.length) throw new UserInputError('attributes must be unique')
  const seen = new Set<string>()
  cells.forEach((c, i) => {
    const keys = Object.keys(c.values)
    const missing = attributes.filter((a) => typeof c.values[a] !== 'string')
    const extra = keys.filter((k) => !attributes.includes(k))
    if (missing.length > 0 || extra.length > 0) {
      throw new UserInputError(
        `cells[${i}]: values must name exactly ${attributes.join(', ')}${missing.length > 0 ? `; missing ${missing.join(', ')}` : ''}${extra.length > 0 ? `; unexpected ${extra.join(', ')}` : ''}`,
      )
    }
    const name = cellName(c.values, attributes)
    if (seen.has(name)) throw new UserInputError(`cells[${i}]: duplicate combination ${name}`)
    seen.add(name)
  })
}

/** Each cell as a group named by `cellName` (validated: every cell names exactly the attributes, once). */
export function intersectionalGroups(
  cells: readonly IntersectionalCell[],
  attributes: readonly string[],
): GroupInput[] {
  checkCells(cells, attributes)
  return cells.map((c) => ({ group: cellName(c.values, attributes), ...c.counts }) as GroupInput)
}

/**
 * The groups of one parent attribute, summing the cells over the other attributes. Confusion counts
 * when every cell has them; otherwise prediction-only counts (selected = tp + fp, total = n) for all,
 * so label-dependent KPIs are then "not estimable" rather than computed on part of the sample.
 */
export function marginalGroups(cells: readonly IntersectionalCell[], attribute: string): GroupInput[] {
  const labelled = cells.every((c) => 'tp' in c.counts)
  const sums = new Map<
    string,
    { tp: number; fp: number; tn: number; fn: number; selected: number; total: number }
  >()
  for (const [i, c] of cells.entries()) {
    const value = c.values[attribute]
    if (typeof value !== 'string') throw new UserInputError(`cells[${i}]: no value for ${attribute}`)
    const s = sums.get(value) ?? { tp: 0, fp: 0, tn: 0, fn: 0, selected: 0, total: 0 }
    if ('tp' in c.counts) {
      const { tp, fp, tn, fn } = c.counts
      s.tp += tp
      s.fp += fp
      s.tn += tn
      s.fn += fn
      s.selected += tp + fp
      s.total += tp + fp + tn + fn
    } else {
      s.selected += c.counts.selected
      s.total += c.counts.total
    }
    sums.set(value, s)
  }
  return [...sums].map(([group, s]) =>
    labelled
      ? { group, tp: s.tp, fp: s.fp, tn: s.tn, fn: s.fn }
      : { group, selected: s.selected, total: s.total },
  )
}

/** A fairness KPI over the cells of several attributes, each cell a group; capped at `maxCells`. */
export function computeIntersectionalKpi(
  cells: readonly IntersectionalCell[],
  attributes: readonly string[],
  spec: FairnessKpiSpecInput,
  options: FairnessOptionsInput = {},
): FairnessKpiResult {
  const o = parseOptions(options)
  const groups = intersectionalGroups(cells, attributes)
  if (groups.length > o.maxCells) {
    return notEstimable(
      { spec: parseSpec(spec), level: o.level, minSamples: o.minSamples },
      'too_many_cells',
      `${groups.length} combinations of ${attributes.join(' × ')} exceed the cap of ${o.maxCells}`,
    )
  }
  return computeFairnessKpi(groups, spec, o)
}
