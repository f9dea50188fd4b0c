import { describe, expect, it } from 'vitest'
import { buildContent } from '../../../services/review-pack/content.js'
import type { Figure } from '../../../services/review-pack/figures.js'
import { jsonDifferences } from '../../../services/review-pack/pack.js'
import { monthsOf, parsePeriod } from '../../../services/review-pack/period.js'
import { reviewRecordSchema } from '../../../services/review-pack/record.js'
import { renderHtml } from '../../../services/review-pack/render-html.js'

describe('review periods', () => {
  it('reads quarters and months in UTC, end excluded', () => {
    expect(parsePeriod('2026-Q3')).toEqual({
      label: '2026-Q3',
      start: new Date('2026-07-01T00:00:00Z'),
      end: new Date('2026-10-01T00:00:00Z'),
    })
    expect(parsePeriod('2026-Q4').end).toEqual(new Date('2027-01-01T00:00:00Z'))
    expect(parsePeriod('2026-12')).toMatchObject({
      start: new Date('2026-12-01T00:00:00Z'),
      end: new Date('2027-01-01T00:00:00Z'),
    })
    expect(monthsOf(parsePeriod('2026-Q1')).map((m) => m.label)).toEqual(['2026-01', '2026-02', '2026-03'])
  })

  it('names the expected forms for anything else', () => {
    for (const bad of ['2026-Q5', '2026-13', '2026-00', '26-Q1', '2026Q1', '']) {
      expect(() => parsePeriod(bad), bad).toThrow(/2026-Q3.*2026-09/)
    }
  })
})

describe('review record', () => {
  it('defaults an action to open and names a bad field', () => {
    const ok = reviewRecordSchema.parse({
      heldOn: '2026-10-10',
      attendees: [{ name: 'A' }],
      decisions: [],
      actions: [{ id: 'MR-1', title: 't', owner: 'o' }],
    })
    expect(ok.actions[0]!.status).toBe('open')
    const bad = reviewRecordSchema.safeParse({
      heldOn: '2026-10-10',
      attendees: [{ name: 'A' }],
      decisions: [],
      actions: [{ id: 'x', title: 't', owner: 'o', status: 'later' }],
    })
    expect(bad.success).toBe(false)
    expect(bad.error!.issues[0]!.path).toEqual(['actions', 0, 'status'])
    expect(
      reviewRecordSchema.safeParse({
        heldOn: '2026-10-10',
        attendees: [{ name: 'A' }],
        decisions: [],
        actions: [],
        extra: 1,
      }).success,
    ).toBe(false)
  })
})

describe('pack content', () => {
  const period = parsePeriod('2026-Q3')
  const figures: Figure[] = [
    {
      id: 'kpi audit.overdue_corrective_actions {standard=ISO42001} at start',
      value: 0,
      kpiId: 'audit.overdue_corrective_actions',
      definitionVersion: 'abc',
      input: 'i',
    },
    {
      id: 'kpi audit.overdue_corrective_actions {standard=ISO42001} at end',
      value: 2,
      kpiId: 'audit.overdue_corrective_actions',
      definitionVersion: 'abc',
      input: 'i',
    },
    {
      id: 'time in breach audit.overdue_corrective_actions {standard=ISO42001}',
      value: { hours: 12, breaches: 1 },
      input: 'b',
    },
    { id: 'nc trend ISO27001 2026-08', value: { raised: 3, closed: 1 }, input: 'a' },
    { id: 'incidents high', value: { detected: 2, notifiable: 1 }, input: 'p' },
  ]

  it('gathers each series start, end, change and time in breach, and the trends per standard', () => {
    const c = buildContent('P', period, new Date('2026-10-02T00:00:00Z'), figures, null)
    expect(c.monitoring).toHaveLength(1)
    expect(c.monitoring[0]).toMatchObject({
      start: 0,
      end: 2,
      change: 2,
      hoursInBreach: 12,
      definitionVersion: 'abc',
    })
    expect(c.ncTrend.rows.ISO27001).toEqual([{ month: '2026-08', raised: 3, closed: 1 }])
    expect(c.ncTrend.rows.ISO42001).toEqual([])
    expect(c.incidents.bySeverity).toEqual([{ severity: 'high', detected: 2, notifiable: 1 }])
    expect(c.peopleInputs.map((p) => p.clause)).toContain('9.3.2 g)')
  })

  it('renders deterministic HTML with every value escaped', () => {
    const hostile = [{ ...figures[3]!, id: 'nc trend ISO27001 <script>alert(1)</script>' }]
    const c = buildContent('P', period, new Date('2026-10-02T00:00:00Z'), [...figures, ...hostile], null)
    const html = renderHtml(c)
    expect(renderHtml(c)).toBe(html)
    expect(html).not.toContain('<script>')
  })
})

describe('jsonDifferences', () => {
  it('names the path of each changed, added or removed value', () => {
    expect(jsonDifferences({ a: [1, { b: 2 }] }, { a: [1, { b: 3 }] })).toEqual([
      'a[1].b: stored 2, expected 3',
    ])
    expect(jsonDifferences({ a: 1 }, { a: 1, c: 'x' })).toEqual(['c: stored nothing, expected "x"'])
    expect(jsonDifferences({ a: 1 }, { a: 1 })).toEqual([])
  })
})
