import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'

/**
 * Prometheus and Alertmanager configuration checked by their own tools (Debian packages prometheus and
 * prometheus-alertmanager, installed by deploy/scripts/install-test-tools.sh): config syntax, rule
 * syntax, the rule unit tests, and the Alertmanager routing tree.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))
const PROMETHEUS_YML = 'deploy/prometheus/prometheus.yml'
const RULES = 'deploy/prometheus/rules/pipeline.rules.yml'
const RULE_TESTS = 'deploy/prometheus/rules/pipeline.rules.test.yml'
const ALERTMANAGER_YML = 'deploy/alertmanager/alertmanager.yml'

function tool(cmd: string, args: string[]): { status: number | null; output: string; stdout: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 120_000 })
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(
      `${cmd} is not installed: run deploy/scripts/install-test-tools.sh (Debian packages prometheus, prometheus-alertmanager)`,
    )
  }
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`, stdout: r.stdout }
}

/** Runs a tool, expects exit 0, returns its standard output (and error, unless `stdoutOnly`). */
function expectSuccess(cmd: string, args: string[], stdoutOnly = false): string {
  const { status, output, stdout } = tool(cmd, args)
  expect(status, `${cmd} ${args.join(' ')} failed:\n${output}`).toBe(0)
  return stdoutOnly ? stdout : output
}

/** The compose secrets Prometheus reads are mounted here; they do not exist outside a container. */
const SECRETS_MOUNT = '/run/secrets/'

describe('promtool', () => {
  it('accepts the Prometheus configuration', () => {
    // The full check also opens every file the configuration names, and the scrape credentials are a
    // compose secret under /run/secrets. So: the syntax of the file as it is, then the full check of a
    // copy whose secret files and rule paths point at stand-ins (nothing else changes).
    expectSuccess('promtool', ['check', 'config', '--syntax-only', PROMETHEUS_YML])
    const dir = mkdtempSync(join(tmpdir(), 'aims-promtool-'))
    try {
      const text = readFileSync(join(root, PROMETHEUS_YML), 'utf8')
      const secrets = [...new Set([...text.matchAll(/\/run\/secrets\/(\w+)/g)].map((m) => m[1]!))]
      expect(secrets, 'the scrape credentials come from a compose secret').toEqual(['metrics_token'])
      for (const name of secrets) writeFileSync(join(dir, name), 'a-stand-in-token-for-promtool-only')
      const copy = parse(text.replaceAll(SECRETS_MOUNT, `${dir}/`)) as { rule_files: string[] }
      copy.rule_files = copy.rule_files.map((f) => join(root, 'deploy/prometheus', f))
      writeFileSync(join(dir, 'prometheus.yml'), stringify(copy))
      expectSuccess('promtool', ['check', 'config', join(dir, 'prometheus.yml')])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('accepts the alerting rules', () => {
    expect(expectSuccess('promtool', ['check', 'rules', RULES])).toMatch(/SUCCESS: \d+ rules found/)
  })

  it('passes the rule unit tests', () => {
    expectSuccess('promtool', ['test', 'rules', RULE_TESTS])
  })
})

describe('amtool', () => {
  it('accepts the Alertmanager configuration', () => {
    expectSuccess('amtool', ['check-config', ALERTMANAGER_YML])
  })

  it('routes critical alerts to PagerDuty and warnings to the webhook', () => {
    const route = (labels: string[]) =>
      expectSuccess(
        'amtool',
        ['config', 'routes', 'test', `--config.file=${ALERTMANAGER_YML}`, ...labels],
        true,
      ).trim()
    expect(route(['severity=critical', 'alertname=AimsCollectorStalled'])).toBe('oncall-pagerduty')
    expect(route(['severity=warning', 'alertname=AimsConsumerLagGrowing'])).toBe('team-webhook')
    expect(route(['severity=critical', 'kpi=audit.open_major_ncs'])).toBe('oncall-pagerduty')
  })
})

interface RuleFile {
  groups: {
    name: string
    rules: { alert?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[]
  }[]
}
interface RuleTests {
  rule_files: string[]
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[]
}

describe('pipeline alerts', () => {
  const rules = parse(readFileSync(join(root, RULES), 'utf8')) as RuleFile
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert)
  const tests = parse(readFileSync(join(root, RULE_TESTS), 'utf8')) as RuleTests
  const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? [])

  it('cover the failure modes of the pipeline', () => {
    const names = alerts.map((a) => a.alert)
    for (const required of [
      'AimsCollectorStalled',
      'AimsCollectorPartitionStuck',
      'AimsConsumerLagGrowing',
      'AimsDeadLettersSpiking',
      'AimsAlertDeliveryFailing',
      'AimsProcessorSweepLate',
    ]) {
      expect(names).toContain(required)
    }
  })

  it('have a severity the Alertmanager routes on, and a summary', () => {
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity)
      expect(a.annotations?.summary, a.alert).toBeTruthy()
    }
  })

  it('each have a unit test where they fire and one where they do not', () => {
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} never tested firing`,
      ).toBe(true)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} never tested silent`,
      ).toBe(true)
    }
  })
})

describe('Prometheus configuration', () => {
  const text = readFileSync(join(root, PROMETHEUS_YML), 'utf8')
  const cfg = parse(text) as {
    rule_files: string[]
    scrape_configs: {
      job_name: string
      metrics_path?: string
      authorization?: { type?: string; credentials?: string; credentials_file?: string }
      static_configs: { targets: string[] }[]
    }[]
    alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] }
  }

  it('scrapes the three services on their /metrics and loads the rules', () => {
    const jobs = new Map(cfg.scrape_configs.map((s) => [s.job_name, s]))
    for (const svc of ['collector', 'processor', 'alerter']) {
      const job = jobs.get(`aims-${svc}`)
      expect(job, `scrape job aims-${svc}`).toBeDefined()
      expect(job!.metrics_path ?? '/metrics').toBe('/metrics')
      expect(job!.static_configs[0]!.targets).toContain(`${svc}:8080`)
    }
    expect(cfg.rule_files.some((f) => 'rules/pipeline.rules.yml'.match(globToRegExp(f)))).toBe(true)
    expect(cfg.alerting.alertmanagers[0]!.static_configs[0]!.targets).toContain('alertmanager:9093')
  })

  it('sends a bearer token from a secret file to every service, never a token written in the file', () => {
    for (const job of cfg.scrape_configs.filter((j) => j.job_name.startsWith('aims-'))) {
      expect(job.authorization?.type ?? 'Bearer', job.job_name).toBe('Bearer')
      expect(job.authorization?.credentials_file, job.job_name).toBe(`${SECRETS_MOUNT}metrics_token`)
      expect(job.authorization?.credentials, job.job_name).toBeUndefined()
    }
    expect(text).not.toMatch(/^\s*(bearer_token|credentials|password):/m)
  })

  it('does not load the rule unit tests as rules', () => {
    expect(cfg.rule_files.some((f) => 'rules/pipeline.rules.test.yml'.match(globToRegExp(f)))).toBe(false)
  })
})

describe('Alertmanager configuration', () => {
  it('reads its secrets from files, never inline', () => {
    const text = readFileSync(join(root, ALERTMANAGER_YML), 'utf8')
    expect(text).toMatch(/routing_key_file:/)
    expect(text).toMatch(/credentials_file:/)
    expect(text).not.toMatch(/^\s*(routing_key|service_key|api_url|credentials|password):/m)
  })
})

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`)
}
