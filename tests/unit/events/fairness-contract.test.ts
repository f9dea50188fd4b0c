import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  intersectionName,
  type ModelGroupCountRow,
  parseEvent,
  parseJsonlLine,
  toFactRows,
} from '../../../shared/events/index.js'
import { eventJsonSchemas } from '../../../shared/events/json-schema.js'
import { exampleLines, type LooseJson, MAX_BYTES } from './fixtures.js'

/**
 * The compatible v1 extension of the model-metrics contract (issue 12): prediction-only counts
 * (`predictions`) beside the labelled confusion counts, and intersectional cells (`intersections`).
 * Existing v1 events stay valid (the other example files are checked unchanged by examples.test.ts).
 */

const FILE = 'model-metrics-fairness'
const lines = exampleLines(FILE)
const example = (i: number): LooseJson => structuredClone(JSON.parse(lines[i]!)) as LooseJson

function reasonOf(raw: unknown): string {
  const r = parseEvent(raw)
  if (r.ok) throw new Error('expected a rejection')
  expect(r.errorType).toBe('invalid_data')
  return r.reason
}

function groupRows(raw: unknown): ModelGroupCountRow[] {
  const r = parseEvent(raw)
  if (!r.ok) throw new Error(r.reason)
  return toFactRows(r.event)
    .filter((x) => x.table === 'model_group_counts')
    .map((x) => x.row as ModelGroupCountRow)
}

const validator = z.fromJSONSchema(
  eventJsonSchemas().find((s) => s.type === 'aims.model_metrics.v1')!.schema as z.core.JSONSchema.JSONSchema,
)

describe(`${FILE}.jsonl`, () => {
  it('holds valid events, accepted by the zod contract and by the exported JSON Schema', () => {
    expect(lines.length).toBe(3)
    for (const [i, line] of lines.entries()) {
      expect(parseJsonlLine(line, MAX_BYTES), `line ${i + 1}`).toMatchObject({ kind: 'event' })
      expect(validator.safeParse(JSON.parse(line)).success, `line ${i + 1}`).toBe(true)
    }
  })
})

describe('prediction-only counts', () => {
  it('store one row per group with selected/total and no confusion counts', () => {
    const rows = groupRows(example(0))
    expect(
      rows.map((r) => [r.attribute, r.group_name, r.tp + r.fp + r.tn + r.fn, r.selected, r.total]),
    ).toEqual([
      ['sex', 'female', 0, 2700, 9000],
      ['sex', 'male', 0, 4180, 11000],
      ['age_band', '18-25', 0, 900, 3000],
      ['age_band', '26-45', 0, 3900, 11000],
      ['age_band', '46+', 0, 2080, 6000],
    ])
    expect(rows.every((r) => r.cell_attributes.length === 0)).toBe(true)
  })

  it('share the row of a group with its labelled subset', () => {
    const rows = groupRows(example(1)).filter((r) => r.attribute === 'sex')
    expect(rows.map((r) => [r.group_name, r.tp, r.fp, r.tn, r.fn, r.selected, r.total])).toEqual([
      ['female', 1300, 320, 3500, 280, 2700, 9000],
      ['male', 2050, 400, 3800, 350, 4180, 11000],
    ])
  })

  it('reject totals not adding up, selected above total, empty and duplicate groups', () => {
    const e = example(0)
    e.data.predictions[0].groups[0].total = 8000
    e.data.predictions[0].groups[1].selected = 12000
    e.data.predictions[1].groups.push({ group: '46+', selected: 0, total: 0 })
    const reason = reasonOf(e)
    expect(reason).toContain(
      'data.predictions[0].groups: prediction totals of "sex" add up to 19000, but sampleSize is 20000',
    )
    expect(reason).toContain('data.predictions[0].groups[1].selected: selected (12000) exceeds total (11000)')
    expect(reason).toContain('data.predictions[1].groups[3]: group "46+" has no predictions (total = 0)')
    expect(reason).toContain('data.predictions[1].groups[3].group: duplicate group "46+"')
  })

  it('require labelled counts within the predictions and equal labelled totals across attributes', () => {
    const e = example(1)
    e.data.fairness[0].groups[0].tp = 2600 // tp+fp = 2920 > 2700 selected
    e.data.fairness.push({
      attribute: 'age_band',
      groups: [{ group: '18-25', tp: 10, fp: 10, tn: 10, fn: 10 }],
    })
    const reason = reasonOf(e)
    expect(reason).toContain(
      'data.fairness[0].groups[0]: labelled counts of group "female" exceed its predictions (tp+fp = 2920 of 2700 selected',
    )
    expect(reason).toContain(
      'data.fairness[1].groups: labelled counts of "age_band" add up to 40, but those of "sex"',
    )
  })

  it('need prediction counts for a labelled group of a predicted attribute', () => {
    const e = example(1)
    e.data.fairness[0].groups.push({ group: 'other', tp: 1, fp: 0, tn: 0, fn: 0 })
    expect(reasonOf(e)).toContain(
      'data.fairness[0].groups[2]: group "other" has labelled counts but no prediction counts in predictions of "sex"',
    )
  })
})

describe('intersections', () => {
  it('store each cell as a group of the joint attribute, named attribute=value;…', () => {
    const cells = groupRows(example(1)).filter((r) => r.attribute === intersectionName(['sex', 'age_band']))
    expect(cells).toHaveLength(6)
    expect(cells[0]).toMatchObject({
      attribute: 'sex×age_band',
      group_name: 'sex=female;age_band=18-25',
      tp: 220,
      fp: 60,
      tn: 500,
      fn: 40,
      selected: 0,
      total: 0,
      cell_attributes: ['sex', 'age_band'],
    })
  })

  it('give an attribute sent only inside an intersection the sums of its cells (its parent attribute)', () => {
    const rows = groupRows(example(2))
    const parent = (attribute: string) =>
      rows.filter((r) => r.attribute === attribute).map((r) => [r.group_name, r.selected, r.total])
    // female: 120 + 84 + 2 of 400 + 300 + 12; male: 170 + 112 + 11 of 500 + 350 + 38
    expect(parent('sex')).toEqual([
      ['female', 206, 712],
      ['male', 293, 888],
    ])
    expect(parent('age_band')).toEqual([
      ['18-40', 290, 900],
      ['41-64', 196, 650],
      ['65+', 13, 50],
    ])
    expect(rows.filter((r) => r.attribute === 'sex×age_band')).toHaveLength(6)
  })

  it('do not derive an attribute the event sends itself', () => {
    const rows = groupRows(example(1))
    // sex is sent with labels; age_band with predictions only: neither is replaced by the cells' sums.
    expect(rows.filter((r) => r.attribute === 'age_band').map((r) => r.tp)).toEqual([0, 0, 0])
    expect(rows.filter((r) => r.attribute === 'sex').map((r) => r.tp)).toEqual([1300, 2050])
  })

  it('reject cells with missing or unexpected values, duplicates, mixed kinds and partial counts', () => {
    const e = example(2)
    const cells = e.data.intersections[0].cells
    cells[0].values = { sex: 'female' }
    cells[1].values = { sex: 'male', age_band: '65+' } // as cells[5]
    cells[2] = { values: { sex: 'female', age_band: '65+' }, tp: 1, fp: 1, tn: 0, fn: 0 }
    cells[3] = { values: { sex: 'male', age_band: '18-40' }, selected: 1 }
    cells[4].values.region = 'north'
    const reason = reasonOf(e)
    expect(reason).toContain(
      'data.intersections[0].cells[0].values: must name exactly sex, age_band; missing age_band',
    )
    expect(reason).toContain('data.intersections[0].cells[5].values: duplicate combination ["male","65+"]')
    expect(reason).toContain(
      'data.intersections[0].cells[2]: carries confusion counts, cells before it prediction counts',
    )
    expect(reason).toContain('data.intersections[0].cells[3]: gives selected without total')
    expect(reason).toContain(
      'data.intersections[0].cells[4].values: must name exactly sex, age_band; unexpected region',
    )
  })

  it('reject cells not adding up, repeated attributes and a joint name that is also a plain attribute', () => {
    const e = example(2)
    e.data.intersections[0].cells[0].total = 401
    const sum = reasonOf(e)
    expect(sum).toContain(
      'data.intersections[0].cells: cell counts of "sex×age_band" add up to 1601, but sampleSize is 1600',
    )

    const twice = example(2)
    twice.data.intersections[0].attributes = ['sex', 'sex']
    expect(reasonOf(twice)).toContain('data.intersections[0].attributes: attributes must be unique')

    const clash = example(1)
    clash.data.predictions.push({
      attribute: 'sex×age_band',
      groups: [{ group: 'x', selected: 1, total: 20000 }],
    })
    expect(reasonOf(clash)).toContain(
      'data.intersections[0].attributes: "sex×age_band" is also a plain attribute of this event',
    )
  })
})
