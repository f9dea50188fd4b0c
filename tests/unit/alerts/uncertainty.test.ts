import { describe, expect, it } from 'vitest'
import { toPostableAlerts } from '../../../services/alerter/sinks/alertmanager/sender.js'
import { valueVsThreshold } from '../../../services/alerter/sinks/render.js'
import { alertJobSchema } from '../../../shared/alerts/alert-job.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'

/** Alerts of fairness KPIs carry the sample size and confidence interval of their value. */
describe('alert uncertainty', () => {
  const job = sampleAlert({ value: 0.72, uncertainty: { n: 2000, ciLow: 0.6512, ciHigh: 0.7934 } })

  it('is an optional part of the job: jobs without it stay valid', () => {
    expect(alertJobSchema.parse(job)).toEqual(job)
    const { uncertainty: _none, ...plain } = job
    expect(alertJobSchema.parse(plain)).toEqual(plain)
    expect(() => alertJobSchema.parse({ ...job, uncertainty: { n: 'many' } })).toThrow()
  })

  it('reaches Alertmanager annotations and every sink text', () => {
    const [a] = toPostableAlerts(job, { firingEndsAfterSec: 3600 })
    expect(a!.annotations).toMatchObject({ n: '2000', ci_low: '0.6512', ci_high: '0.7934' })
    expect(a!.annotations.description).toContain(
      'value 0.72 ratio [CI 0.6512–0.7934, n=2000] vs threshold 0.8',
    )
    expect(valueVsThreshold(job)).toBe(
      'value 0.72 ratio [CI 0.6512–0.7934, n=2000] vs threshold 0.8 ratio (higher is better)',
    )
    const [b] = toPostableAlerts(sampleAlert(), { firingEndsAfterSec: 3600 })
    expect(b!.annotations).not.toHaveProperty('n')
  })
})
