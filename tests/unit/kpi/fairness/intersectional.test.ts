import { describe, expect, it } from 'vitest'
import {
  cellName,
  computeFairnessKpi,
  computeIntersectionalKpi,
  type IntersectionalCell,
  intersectionalGroups,
  marginalGroups,
  parseCellName,
  rational,
} from '../../../../shared/kpi/fairness/index.js'

const cell = (
  gender: string,
  age: string,
  tp: number,
  fp: number,
  tn: number,
  fn: number,
): IntersectionalCell => ({
  values: { gender, age_band: age },
  counts: { tp, fp, tn, fn },
})

// gender × age band; selection rates (tp + fp) / n by hand:
//   f × young 30/100, f × old 6/20 (a small cell: n = 20 < 30), m × young 60/100, m × old 50/100
const CELLS = [
  cell('f', 'young', 20, 10, 60, 10),
  cell('f', 'old', 4, 2, 12, 2),
  cell('m', 'young', 40, 20, 30, 10),
  cell('m', 'old', 30, 20, 40, 10),
]
const ATTRS = ['gender', 'age_band']
const DPD = { metric: 'demographic_parity', form: 'difference' } as const

describe('cell names', () => {
  it('are attribute=value pairs in attribute order, unambiguous', () => {
    expect(cellName({ gender: 'f', age_band: '18-25' }, ATTRS)).toBe('gender=f;age_band=18-25')
    const odd = { gender: 'a;b=c%', age_band: '' }
    const name = cellName(odd, ATTRS)
    expect(name).toBe('gender=a%3Bb%3Dc%25;age_band=')
    expect(parseCellName(name)).toEqual(odd)
  })
})

describe('intersectional KPIs', () => {
  it('each combination is a group; the small cell is left out and listed', () => {
    const r = computeIntersectionalKpi(CELLS, ATTRS, DPD)
    if (!r.estimable) throw new Error(r.detail)
    // over f×young 0.3, m×young 0.6, m×old 0.5: 0.6 − 0.3
    expect(r.exact).toEqual(rational(3, 10))
    expect(r.groups).toEqual(['gender=m;age_band=young', 'gender=f;age_band=young'])
    expect(r.rates.find((x) => x.group === 'gender=f;age_band=old')).toMatchObject({
      excluded: 'below_minimum',
      n: 20,
    })
  })

  it('per combination against a reference, each with its n and interval', () => {
    const r = computeIntersectionalKpi(CELLS, ATTRS, { ...DPD, reference: 'majority' })
    if (!r.estimable) throw new Error(r.detail)
    // majority: the first of the 100-sample cells, f×young (0.3): m×young +0.3 (n 200), m×old +0.2 (n 200)
    expect(r.comparisons.map((c) => [c.group, c.exact, c.n])).toEqual([
      ['gender=m;age_band=young', rational(3, 10), 200],
      ['gender=m;age_band=old', rational(1, 5), 200],
    ])
  })

  it('a small cell is not estimable while its parent attribute is assessed from the sums', () => {
    // f × old alone against f × young: too few groups
    const r = computeIntersectionalKpi(CELLS.slice(0, 2), ATTRS, DPD)
    expect(r).toMatchObject({ estimable: false, reason: 'too_few_groups' })
    // gender: f = (30 + 6)/120 = 3/10, m = (60 + 50)/200 = 11/20 → 11/20 − 3/10 = 1/4
    const gender = marginalGroups(CELLS, 'gender')
    expect(gender).toEqual([
      { group: 'f', tp: 24, fp: 12, tn: 72, fn: 12 },
      { group: 'm', tp: 70, fp: 40, tn: 70, fn: 20 },
    ])
    expect(computeFairnessKpi(gender, DPD).exact).toEqual(rational(1, 4))
  })

  it('caps the number of cells: beyond it not estimable, never a silent cut', () => {
    const r = computeIntersectionalKpi(CELLS, ATTRS, DPD, { maxCells: 3 })
    expect(r).toMatchObject({
      estimable: false,
      reason: 'too_many_cells',
      name: 'demographic_parity_difference',
    })
    expect(r.detail).toBe('4 combinations of gender × age_band exceed the cap of 3')
    const many = Array.from({ length: 65 }, (_, i) => cell(`g${i}`, 'x', 30, 10, 50, 10))
    expect(computeIntersectionalKpi(many, ATTRS, DPD).reason).toBe('too_many_cells') // default 64
    expect(computeIntersectionalKpi(many.slice(0, 64), ATTRS, DPD).estimable).toBe(true)
  })

  it('marginals of prediction-only cells stay prediction-only', () => {
    const cells: IntersectionalCell[] = [
      { values: { gender: 'f', age_band: 'young' }, counts: { selected: 30, total: 100 } },
      { values: { gender: 'f', age_band: 'old' }, counts: { tp: 4, fp: 2, tn: 12, fn: 2 } },
    ]
    expect(marginalGroups(cells, 'gender')).toEqual([{ group: 'f', selected: 36, total: 120 }])
  })

  it('rejects malformed cells as bad input', () => {
    expect(() => intersectionalGroups(CELLS, ['gender'])).toThrow(/at least two attributes/)
    expect(() => intersectionalGroups(CELLS, ['gender', 'gender'])).toThrow(/unique/)
    expect(() => intersectionalGroups([...CELLS, CELLS[0]!], ATTRS)).toThrow(
      /cells\[4\]: duplicate combination gender=f;age_band=young/,
    )
    expect(() =>
      intersectionalGroups(
        [{ values: { gender: 'f', region: 'x' }, counts: { selected: 1, total: 2 } }],
        ATTRS,
      ),
    ).toThrow(/cells\[0\]: values must name exactly gender, age_band; missing age_band; unexpected region/)
    expect(() => marginalGroups(CELLS, 'region')).toThrow(/no value for region/)
  })
})
