import { describe, expect, it } from 'vitest'
import { type Silence, silenceActive, silencesFor } from '../../../../shared/alerts/silence.js'
import { sampleAlert } from '../../../helpers/alert-fixtures.js'

const T = (iso: string) => Date.parse(iso)

function silence(over: Partial<Silence>): Silence {
  return {
    id: 'a',
    kpi: 'model.disparate_impact_ratio',
    scope: {},
    startsAt: '2026-12-01T10:00:00.000Z',
    endsAt: '2026-12-01T12:00:00.000Z',
    author: 'alice',
    reason: 'retraining window',
    createdAt: '2026-12-01T09:00:00.000Z',
    ...over,
  }
}

describe('silences', () => {
  const alert = sampleAlert()

  it('hold an alert of their KPI and labels inside their time range only', () => {
    const s = silence({ scope: { model_id: 'credit-scoring' } })
    expect(silencesFor([s], alert, T('2026-12-01T09:59:59.999Z'))).toEqual([])
    expect(silencesFor([s], alert, T('2026-12-01T10:00:00Z'))).toEqual([s])
    expect(silencesFor([s], alert, T('2026-12-01T11:59:59.999Z'))).toEqual([s])
    expect(silencesFor([s], alert, T('2026-12-01T12:00:00Z'))).toEqual([])
  })

  it('need every label to match and the KPI (when given)', () => {
    const now = T('2026-12-01T11:00:00Z')
    expect(silencesFor([silence({ scope: { model_id: 'other' } })], alert, now)).toEqual([])
    expect(silencesFor([silence({ kpi: 'model.accuracy' })], alert, now)).toEqual([])
    expect(
      silencesFor([silence({ kpi: null, scope: { model_id: 'credit-scoring' } })], alert, now),
    ).toHaveLength(1)
    expect(
      silencesFor([silence({ scope: { model_id: 'credit-scoring', region: 'eu' } })], alert, now),
    ).toEqual([])
  })

  it('end early when expired, and the one ending last comes first', () => {
    const early = silence({ id: 'early', expiredAt: '2026-12-01T10:30:00.000Z' })
    const late = silence({ id: 'late', endsAt: '2026-12-01T13:00:00.000Z' })
    expect(silenceActive(early, T('2026-12-01T10:30:00Z'))).toBe(false)
    expect(
      silencesFor([early, silence({}), late], alert, T('2026-12-01T10:15:00Z')).map((s) => s.id),
    ).toEqual(['late', 'a', 'early'])
  })
})
