import { afterEach, describe, expect, it } from 'vitest'
import {
  type AlertingConfig,
  alertingConfigSchema,
  defaultAlertingConfig,
  parseAlertingConfig,
  selectSinks,
} from '../../../shared/alerts/routing.js'
import { ConfigError } from '../../../shared/errors.js'
import { sampleAlert } from '../../helpers/alert-fixtures.js'

/** `${NAME}`: a config reference to an environment variable. */
const envRef = (name: string) => ['$', '{', name, '}'].join('')

const setEnv: string[] = []
function env(name: string, value: string) {
  process.env[name] = value
  setEnv.push(name)
}
afterEach(() => {
  for (const n of setEnv.splice(0)) delete process.env[n]
})

function issuesOf(input: unknown): string[] {
  try {
    parseAlertingConfig(input)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

describe('alertingConfigSchema', () => {
  it('parses every sink type with defaults', () => {
    env('TEST_PD_KEY', 'R0UT1NGKEY0000000000000000000000')
    env('TEST_SLACK_URL', 'https://hooks.slack.com/services/T000/B000/XXXX')
    env('TEST_HOOK_SECRET', 'sixteen-chars-or-more')
    const cfg = parseAlertingConfig({
      sinks: {
        am: { type: 'alertmanager', url: 'http://alertmanager:9093' },
        pd: { type: 'pagerduty', routingKey: envRef('TEST_PD_KEY') },
        slack: { type: 'slack', webhookUrl: envRef('TEST_SLACK_URL'), rateLimit: { max: 1, perSeconds: 1 } },
        hook: { type: 'webhook', url: 'https://example.test/hook', secret: envRef('TEST_HOOK_SECRET') },
        log: { type: 'console' },
      },
      routes: [
        { match: { severity: ['critical'] }, sinks: ['pd'], continue: true },
        { sinks: ['slack', 'am', 'hook', 'log'] },
      ],
    })
    expect(cfg.sinks.pd).toMatchObject({
      type: 'pagerduty',
      routingKey: 'R0UT1NGKEY0000000000000000000000',
      url: 'https://events.pagerduty.com/v2/enqueue',
      timeoutMs: 10_000,
    })
    expect(cfg.sinks.slack).toMatchObject({ webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX' })
    expect(cfg.sinks.am).toMatchObject({ firingEndsAfterSec: 604_800 })
    expect(cfg.routes?.[1]?.continue).toBe(false)
  })

  it('names the route field of an unknown sink', () => {
    const issues = issuesOf({
      sinks: { log: { type: 'console' } },
      routes: [{ sinks: ['log'] }, { sinks: ['log', 'pager'] }],
    })
    expect(issues).toEqual(['alerting.routes[1].sinks[1]: unknown sink "pager" (defined: log)'])
  })

  it('names the missing environment variable, never a value', () => {
    const issues = issuesOf({
      sinks: { pd: { type: 'pagerduty', routingKey: envRef('AIMS_TEST_UNSET_KEY') } },
    })
    expect(issues).toEqual([
      'alerting.sinks.pd.routingKey: environment variable AIMS_TEST_UNSET_KEY is not set',
    ])
  })

  it('rejects unknown keys, unknown types, bad values, naming the field', () => {
    expect(issuesOf({ sinks: { log: { type: 'console', colour: 'red' } } }).join('\n')).toMatch(
      /alerting\.sinks\.log.*colour/,
    )
    expect(issuesOf({ sinks: { x: { type: 'email' } } }).join('\n')).toMatch(/^alerting\.sinks\.x\.type/)
    expect(issuesOf({ sinks: {}, extra: 1 }).join('\n')).toMatch(/extra/)
    expect(issuesOf({ sinks: { am: { type: 'alertmanager', url: 'ftp://x' } } })).toEqual([
      'alerting.sinks.am.url: must be an http:// or https:// URL',
    ])
    expect(issuesOf({ sinks: { h: { type: 'webhook', url: 'http://x', secret: 'short' } } })).toEqual([
      'alerting.sinks.h.secret: must be at least 16 characters',
    ])
    expect(issuesOf({ sinks: { 'bad name': { type: 'console' } } }).join('\n')).toMatch(/sink names/)
    expect(issuesOf({ sinks: { log: { type: 'console', rateLimit: { max: 0, perSeconds: 1 } } } })).toEqual([
      'alerting.sinks.log.rateLimit.max: must be > 0',
    ])
    expect(
      issuesOf({
        sinks: { log: { type: 'console' } },
        routes: [{ match: { severity: ['page'] }, sinks: ['log'] }],
      }).join('\n'),
    ).toMatch(/routes\[0\]\.match\.severity\[0\]/)
  })

  it('does not print a secret in any validation message', () => {
    env('TEST_SECRET_URL', 'not a url but a s3cr3t-token')
    const issues = issuesOf({ sinks: { s: { type: 'slack', webhookUrl: envRef('TEST_SECRET_URL') } } })
    expect(issues.join('\n')).not.toContain('s3cr3t')
  })

  it('is what a composing loader uses', () => {
    expect(alertingConfigSchema.safeParse({ sinks: { log: { type: 'console' } } }).success).toBe(true)
    expect(parseAlertingConfig(undefined)).toEqual(defaultAlertingConfig())
  })
})

describe('selectSinks', () => {
  const cfg: AlertingConfig = parseAlertingConfig({
    sinks: {
      pd: { type: 'console' },
      slack: { type: 'console' },
      audit: { type: 'console' },
      log: { type: 'console' },
    },
    routes: [
      { match: { severity: ['critical'], area: 'privacy' }, sinks: ['pd'], continue: true },
      { match: { kpi: ['audit.open_major_ncs'] }, sinks: ['audit'] },
      { match: { scope: { model_id: ['credit-scoring', 'fraud'], env: 'prod' } }, sinks: ['slack', 'pd'] },
      { sinks: ['log'] },
    ],
  })
  const alert = sampleAlert()

  it('first match wins', () => {
    expect(
      selectSinks({ ...alert, kpi: { ...alert.kpi, id: 'audit.open_major_ncs', area: 'audit' } }, cfg),
    ).toEqual(['audit'])
    expect(selectSinks({ ...alert, scope: { model_id: 'credit-scoring', env: 'prod' } }, cfg)).toEqual([
      'slack',
      'pd',
    ])
    expect(selectSinks({ ...alert, scope: { model_id: 'credit-scoring', env: 'dev' } }, cfg)).toEqual(['log'])
    expect(selectSinks({ ...alert, scope: {} }, cfg)).toEqual(['log'])
  })

  it('continue: true goes on to later routes, each sink once', () => {
    const privacy = {
      ...alert,
      kpi: { ...alert.kpi, area: 'privacy' },
      scope: { model_id: 'fraud', env: 'prod' },
    }
    expect(selectSinks(privacy, cfg)).toEqual(['pd', 'slack'])
    expect(selectSinks({ ...privacy, severity: 'warning' }, cfg)).toEqual(['slack', 'pd'])
  })

  it('the area comes from kpi.area, else from the catalog id prefix', () => {
    const { area: _, ...kpiWithoutArea } = alert.kpi
    const privacyById = { ...alert, kpi: { ...kpiWithoutArea, id: 'privacy.incidents_open' }, scope: {} }
    expect(selectSinks(privacyById, cfg)).toEqual(['pd', 'log'])
  })

  it('an area route never matches an alert without an area', () => {
    const noArea = { ...alert, kpi: { id: 'x', title: 'x', unit: '', direction: 'lower_is_better' as const } }
    expect(selectSinks(noArea, cfg)).toEqual(['log'])
  })

  it('no routes: every sink; no match: none', () => {
    expect(selectSinks(alert, { sinks: cfg.sinks })).toEqual(['pd', 'slack', 'audit', 'log'])
    expect(
      selectSinks(alert, {
        sinks: cfg.sinks,
        routes: [{ match: { kpi: ['other'] }, sinks: ['log'], continue: false }],
      }),
    ).toEqual([])
    expect(selectSinks(alert, defaultAlertingConfig())).toEqual(['console'])
  })
})
