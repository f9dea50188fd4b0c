import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getKpi } from '../../../shared/kpi/catalog.js'
import { isDuration, parseDuration } from '../../../shared/kpi/duration.js'
import {
  loadAimsConfigFile,
  parseAimsConfig,
  parseAimsConfigText,
  resolveThresholds,
} from '../../../shared/kpi/thresholds.js'

/** The ConfigError issues of a config that must fail. */
function issuesOf(input: unknown, source = 'deploy/config/aims.yaml'): string[] {
  try {
    parseAimsConfig(input, source)
  } catch (err) {
    expect((err as Error).name).toBe('ConfigError')
    return (err as { issues: string[] }).issues
  }
  throw new Error('expected a ConfigError')
}

describe('durations', () => {
  it('parse Prometheus-style durations', () => {
    expect(parseDuration('0s')).toBe(0)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('30d')).toBe(30 * 86_400_000)
    expect(parseDuration('250ms')).toBe(250)
    for (const bad of ['', '5', 'm5', '5 m', '-5m', '1.5h', '5M']) expect(isDuration(bad)).toBe(false)
    expect(() => parseDuration('soon')).toThrow(/not a duration/)
  })
})

describe('config schema', () => {
  it('accepts an empty file and a full one', () => {
    expect(parseAimsConfig(undefined)).toEqual({})
    expect(parseAimsConfig({})).toEqual({})
    const cfg = parseAimsConfig({
      kpis: {
        'model.accuracy': {
          for: '10m',
          warning: 0.9,
          critical: 0.85,
          overrides: [{ match: { model_id: 'credit-scoring' }, warning: 0.95, critical: null }],
        },
        'privacy.incidents_opened': { enabled: false },
      },
    })
    expect(cfg.kpis?.['model.accuracy']?.overrides?.[0]?.critical).toBeNull()
  })

  it('names the file and the field path of a wrong type', () => {
    const issues = issuesOf({
      kpis: {
        'model.disparate_impact_ratio': { overrides: [{ match: { model_id: 'm' }, warning: '0.85' }] },
      },
    })
    expect(issues).toEqual([
      'deploy/config/aims.yaml: kpis.model.disparate_impact_ratio.overrides[0].warning: expected number, got string "0.85"',
    ])
  })

  it('rejects unknown KPI ids and unknown keys', () => {
    expect(issuesOf({ kpis: { 'model.accuracyy': { warning: 1 } } })[0]).toMatch(
      /^deploy\/config\/aims\.yaml: kpis: unknown KPI id "model\.accuracyy" \(known: privacy\.incidents_opened, /,
    )
    expect(issuesOf({ kpis: { 'model.accuracy': { warn: 1 } } })).toEqual([
      'deploy/config/aims.yaml: kpis.model.accuracy: unknown key "warn"',
    ])
    expect(issuesOf({ thresholds: {} })).toEqual([
      'deploy/config/aims.yaml: (top level): unknown key "thresholds"',
    ])
  })

  it('rejects override labels that are not scope labels of the KPI', () => {
    expect(
      issuesOf({ kpis: { 'model.accuracy': { overrides: [{ match: { attribute: 'sex' }, warning: 1 }] } } }),
    ).toEqual([
      'deploy/config/aims.yaml: kpis.model.accuracy.overrides[0].match.attribute: "attribute" is not a scope label of model.accuracy (labels: model_id, environment, model_version)',
    ])
    expect(
      issuesOf({ kpis: { 'privacy.mttc_hours': { overrides: [{ match: { severity: 'x' } }] } } })[0],
    ).toContain('has no scope labels')
    expect(issuesOf({ kpis: { 'model.accuracy': { overrides: [{ match: {}, warning: 1 }] } } })[0]).toContain(
      'kpis.model.accuracy.overrides[0].match: must name at least one scope label',
    )
  })

  it('rejects a critical level on the wrong side of the warning level', () => {
    expect(issuesOf({ kpis: { 'model.accuracy': { warning: 0.8, critical: 0.85 } } })).toEqual([
      'deploy/config/aims.yaml: kpis.model.accuracy.critical: critical must be <= warning (higher_is_better)',
    ])
    expect(issuesOf({ kpis: { 'privacy.mttc_hours': { warning: 48, critical: 24 } } })[0]).toContain(
      'critical must be >= warning',
    )
  })

  it('rejects bad durations and non-finite numbers', () => {
    expect(issuesOf({ kpis: { 'model.accuracy': { for: '5 minutes' } } })[0]).toContain(
      'kpis.model.accuracy.for: expected a duration like 30s, 5m, 1h30m or 30d',
    )
    expect(issuesOf({ kpis: { 'model.accuracy': { warning: Number.POSITIVE_INFINITY } } })).toHaveLength(1)
  })

  it('checks the alerting section with the alerter schema', () => {
    expect(
      issuesOf({ alerting: { sinks: { c: { type: 'console' } }, routes: [{ sinks: ['nope'] }] } })[0],
    ).toContain('alerting.routes[0].sinks[0]: unknown sink "nope"')
    expect(parseAimsConfig({ alerting: { sinks: { c: { type: 'console' } } } }).alerting?.sinks.c).toEqual({
      type: 'console',
    })
  })

  it('reports YAML syntax errors with the file, line and column', () => {
    expect(() => parseAimsConfigText('kpis:\n  model.accuracy: {warning: 1\n', 'x.yaml')).toThrow(
      /x\.yaml:\d+:\d+: /,
    )
    expect(() => parseAimsConfigText('kpis:\n  a: 1\n  a: 2\n', 'dup.yaml')).toThrow(/dup\.yaml/)
  })
})

describe('config files', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aims-kpi-config-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('loads the commented example', async () => {
    process.env.PAGERDUTY_ROUTING_KEY ??= 'test-routing-key'
    process.env.SLACK_WEBHOOK_URL ??= 'https://hooks.slack.example/services/T/B/x'
    const cfg = await loadAimsConfigFile(
      new URL('../../../deploy/config/aims.example.yaml', import.meta.url).pathname,
    )
    expect(cfg.kpis?.['model.disparate_impact_ratio']?.overrides?.[0]).toEqual({
      match: { model_id: 'credit-scoring' },
      warning: 0.85,
    })
    expect(Object.keys(cfg.alerting?.sinks ?? {})).toEqual(['console', 'oncall', 'team', 'am'])
    expect(cfg.regimes?.rules.map((r) => r.apply)).toEqual([['nis2', 'dora'], ['gdpr_art34'], ['hipaa']])
  })

  it('loads JSON and names the path in errors', async () => {
    const good = join(dir, 'aims.json')
    await writeFile(good, JSON.stringify({ kpis: { 'model.f1': { warning: 0.7, critical: 0.6 } } }))
    expect((await loadAimsConfigFile(good)).kpis?.['model.f1']).toEqual({ warning: 0.7, critical: 0.6 })
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'kpis:\n  model.f1:\n    critical: high\n')
    await expect(loadAimsConfigFile(bad)).rejects.toThrow(
      `${bad}: kpis.model.f1.critical: expected number, got string "high"`,
    )
    await expect(loadAimsConfigFile(join(dir, 'missing.yaml'))).rejects.toThrow(/missing\.yaml: cannot read/)
  })
})

describe('resolveThresholds', () => {
  const accuracy = getKpi('model.accuracy')
  const credit = { model_id: 'credit-scoring', model_version: '7' }
  const other = { model_id: 'churn', model_version: '2' }

  it('returns the catalog defaults without config', () => {
    expect(resolveThresholds(accuracy, other)).toEqual({
      enabled: true,
      op: 'lt',
      warning: 0.85,
      critical: 0.8,
      for: '0s',
      forMs: 0,
    })
  })

  it('applies catalog overrides: critical incidents breach, other severities do not', () => {
    const opened = getKpi('privacy.incidents_opened')
    expect(resolveThresholds(opened, { severity: 'critical' })).toMatchObject({
      op: 'gt',
      warning: null,
      critical: 0,
    })
    expect(resolveThresholds(opened, { severity: 'high' })).toMatchObject({ warning: null, critical: null })
  })

  it('layers config entry then matching overrides, later matches winning field by field', () => {
    const cfg = parseAimsConfig({
      kpis: {
        'model.accuracy': {
          for: '10m',
          warning: 0.88,
          overrides: [
            { match: { model_id: 'credit-scoring' }, warning: 0.92, critical: 0.9 },
            { match: { model_id: ['credit-scoring', 'fraud'], model_version: '7' }, critical: 0.91 },
            { match: { model_id: 'sandbox' }, enabled: false },
          ],
        },
      },
    })
    expect(resolveThresholds(accuracy, credit, cfg)).toMatchObject({
      warning: 0.92,
      critical: 0.91,
      for: '10m',
      forMs: 600_000,
    })
    expect(resolveThresholds(accuracy, { ...credit, model_version: '8' }, cfg)).toMatchObject({
      warning: 0.92,
      critical: 0.9,
    })
    expect(resolveThresholds(accuracy, other, cfg)).toMatchObject({
      enabled: true,
      warning: 0.88,
      critical: 0.8,
    })
    expect(resolveThresholds(accuracy, { model_id: 'sandbox', model_version: '1' }, cfg).enabled).toBe(false)
  })

  it('lets the config remove a level with null and keeps the catalog override otherwise', () => {
    const opened = getKpi('privacy.incidents_opened')
    const cfg = parseAimsConfig({ kpis: { 'privacy.incidents_opened': { warning: 10 } } })
    expect(resolveThresholds(opened, { severity: 'critical' }, cfg)).toMatchObject({
      warning: 10,
      critical: 0,
    })
    const off = parseAimsConfig({
      kpis: {
        'privacy.incidents_opened': { overrides: [{ match: { severity: 'critical' }, critical: null }] },
      },
    })
    expect(resolveThresholds(opened, { severity: 'critical' }, off)).toMatchObject({
      warning: null,
      critical: null,
    })
  })
})
