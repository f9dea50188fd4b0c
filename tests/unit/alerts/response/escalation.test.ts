import { describe, expect, it } from 'vitest'
import {
  advancePlan,
  dueNotice,
  escalationTransitionId,
  policyFor,
  startPlan,
} from '../../../../shared/alerts/escalation.js'
import { parseAlertingConfig } from '../../../../shared/alerts/routing.js'
import { sampleAlert } from '../../../helpers/alert-fixtures.js'

const MIN = 60_000

const config = () =>
  parseAlertingConfig({
    sinks: {
      oncall: { type: 'console' },
      lead: { type: 'console' },
      ciso: { type: 'console' },
    },
    routes: [{ sinks: ['oncall'] }],
    escalation: [
      {
        name: 'critical',
        match: { severity: ['critical'] },
        steps: [
          { after: '15m', sinks: ['lead'] },
          { after: '30m', sinks: ['ciso'] },
        ],
        repeat: '1h',
        maxReminders: 2,
      },
      { name: 'rest', steps: [{ after: '1h', sinks: ['lead'] }] },
    ],
  })

describe('escalation policies', () => {
  it('takes the first policy that matches the breach', () => {
    const cfg = config()
    expect(policyFor(sampleAlert({ severity: 'critical' }), cfg.escalation)?.name).toBe('critical')
    expect(policyFor(sampleAlert({ severity: 'warning' }), cfg.escalation)?.name).toBe('rest')
    expect(policyFor(sampleAlert(), undefined)).toBeUndefined()
  })

  it('walks the steps, each after the previous one, then the capped reminders to the last step', () => {
    const policy = config().escalation![0]!
    const t0 = Date.parse('2026-12-01T10:00:00Z')
    let plan = startPlan(policy, t0)
    const seen: string[] = []
    for (;;) {
      const notice = dueNotice(policy, plan)
      if (!notice) break
      seen.push(
        `${(plan.due - t0) / MIN}m ${notice.kind} ${notice.step}/${notice.reminder} ${notice.sinks.join(',')}`,
      )
      plan = advancePlan(policy, plan)
    }
    expect(seen).toEqual([
      '15m escalation 1/0 lead',
      '45m escalation 2/0 ciso',
      '105m reminder 2/1 ciso',
      '165m reminder 2/2 ciso',
    ])
  })

  it('a policy without repeat ends after its last step', () => {
    const policy = config().escalation![1]!
    const plan = advancePlan(policy, startPlan(policy, 0))
    expect(plan.stepsDone).toBe(1)
    expect(dueNotice(policy, plan)).toBeUndefined()
  })

  it('derives one id per step and reminder of a breach', () => {
    expect(escalationTransitionId('abc-1', { kind: 'escalation', step: 2, reminder: 0 })).toBe(
      'abc-1-escalation-2',
    )
    expect(escalationTransitionId('abc-1', { kind: 'reminder', step: 2, reminder: 3 })).toBe(
      'abc-1-reminder-3',
    )
  })

  it('rejects unknown sinks, duplicate names, zero durations and maxReminders without repeat, naming the field', () => {
    const bad = () =>
      parseAlertingConfig({
        sinks: { lead: { type: 'console' } },
        escalation: [
          { name: 'a', steps: [{ after: '0s', sinks: ['pager'] }], maxReminders: 3 },
          { name: 'a', steps: [{ after: '5m', sinks: ['lead'] }], repeat: 'soon' },
        ],
      })
    expect(bad).toThrow(/alerting\.escalation\[0\]\.steps\[0\]\.sinks\[0\]: unknown sink "pager"/)
    expect(bad).toThrow(/alerting\.escalation\[0\]\.steps\[0\]\.after: must be longer than 0s/)
    expect(bad).toThrow(/alerting\.escalation\[0\]\.maxReminders: needs `repeat`/)
    expect(bad).toThrow(/alerting\.escalation\[1\]\.repeat: expected a duration/)
  })
})

describe('the README example', () => {
  it('is a valid config file', async () => {
    const { readFileSync } = await import('node:fs')
    const { parseAimsConfigText } = await import('../../../../shared/kpi/thresholds.js')
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8')
    const at = readme.indexOf('## Response loop: acknowledge, escalate, silence')
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at))![1]!
    for (const name of ['PAGERDUTY_ROUTING_KEY', 'PAGERDUTY_LEAD_KEY', 'CISO_WEBHOOK_SECRET'])
      process.env[name] = 'test-value-long-enough-0123456789'
    const cfg = parseAimsConfigText(yaml, 'README.md')
    expect(cfg.alerting?.escalation?.[0]).toMatchObject({ name: 'critical-unacknowledged', repeat: '1h' })
  })
})
