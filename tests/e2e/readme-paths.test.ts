import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { apiJson, localAdminToken } from '../helpers/api.js'
import { waitFor } from '../helpers/infra.js'
import { REPO_ROOT } from '../helpers/pipeline.js'
import { freePort, readmeCommands, withPorts } from '../helpers/readme.js'

/**
 * The README's "Split services, one process each" path, run as written: `npm run kafka`, `npm run
 * clickhouse`, then the collector, processor and alerter each as its own process on its own port, then
 * the README's produce command. Only the documented ports are swapped for free ones and the data goes to
 * a temporary DATA_DIR, so the test never meets a pipeline a developer runs. The example must show in the
 * read API within 10 s of being produced (the issue's bound), and its breach must reach the alerter.
 *
 * Bounds are generous and documented: start-up waits are bounded only to fail rather than hang.
 */

const STARTUP_BOUND_MS = 180_000
const VISIBLE_BOUND_MS = 10_000
const ALERT_BOUND_MS = 60_000
const STOP_BOUND_MS = 30_000

interface Proc {
  command: string
  child: ChildProcess
  output: () => string
  exited: Promise<number | NodeJS.Signals>
}

/** The environment of a fresh shell: nothing of the test run's own configuration leaks in. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (
      /^(KAFKA_|CLICKHOUSE_|REDIS_|AIMS_|COLLECTOR_|PROCESSOR_|DEMO|HTTP_|PUBLIC_BASE_URL|DATA_DIR|LOG_|NODE_OPTIONS|VITEST)/.test(
        k,
      )
    )
      continue
    env[k] = v
  }
  return { ...env, ...extra }
}

function run(command: string, env: Record<string, string>): Proc {
  // Its own process group, so stopping it reaches npm, tsx and node alike.
  const child = spawn('bash', ['-c', command], {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  const keep = (b: Buffer) => {
    out = (out + b.toString()).slice(-40_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.once('exit', (code, signal) => done(signal ?? code ?? 0)),
  )
  process.once('exit', () => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  })
  return { command, child, output: () => out, exited }
}

async function stop(p: Proc): Promise<number | NodeJS.Signals> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited
  try {
    process.kill(-p.child.pid!, 'SIGTERM')
  } catch {}
  const timer = setTimeout(() => {
    try {
      process.kill(-p.child.pid!, 'SIGKILL')
    } catch {}
  }, STOP_BOUND_MS)
  const how = await p.exited
  clearTimeout(timer)
  return how
}

/** Whether any process of the group still runs. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch {
    return false
  }
}

/** Command lines of Kafka JVMs whose arguments mention `dir`. */
function brokersUsing(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'kafka.Kafka'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(dir))
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}

describe('README: split services, one process each', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aims-readme-split-'))
  const procs: Proc[] = []
  const figures: Record<string, string> = {}

  afterAll(async () => {
    for (const p of procs.reverse()) await stop(p)
    rmSync(dataDir, { recursive: true, force: true })
    process.stderr.write(
      `[readme split services] ${Object.entries(figures)
        .map(([k, v]) => `${k}: ${v}`)
        .join(' · ')}\n`,
    )
  })

  it(
    'runs as written: broker, ClickHouse, three services on their ports, an example on the page',
    async () => {
      const commands = readmeCommands('### Split services, one process each')
      const documented = [9092, 8123, 8080, 8081, 8082]
      const ports = new Map<number, number>()
      for (const port of documented) {
        expect(commands.join('\n'), `the README documents port ${port}`).toContain(String(port))
        ports.set(port, await freePort())
      }
      const env = cleanEnv({
        DATA_DIR: dataDir,
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: `aims-readme:${process.pid}_${randomBytes(3).toString('hex')}`,
        LOG_FORMAT: 'json',
      })
      const [kafkaCmd, clickhouseCmd, ...rest] = commands.map((c) => withPorts(c, ports))
      const services = rest.filter((c) => / npm run (collector|processor|alerter)$/.test(c))
      const produces = rest.filter((c) => c.includes('npm run produce'))
      expect(kafkaCmd).toMatch(/^npm run kafka\b/)
      expect(clickhouseCmd).toMatch(/^npm run clickhouse\b/)
      expect(services).toHaveLength(3)
      expect(produces.length).toBeGreaterThan(0)

      const t0 = Date.now()
      const kafka = run(kafkaCmd!, env)
      const clickhouse = run(clickhouseCmd!, env)
      procs.push(kafka, clickhouse)
      await waitFor(
        'npm run kafka: KAFKA_BROKERS=…',
        () => (kafka.output().includes('KAFKA_BROKERS=') ? true : undefined),
        STARTUP_BOUND_MS,
        250,
      )
      await waitFor(
        'npm run clickhouse: CLICKHOUSE_URL=…',
        () => (clickhouse.output().includes('CLICKHOUSE_URL=') ? true : undefined),
        STARTUP_BOUND_MS,
        250,
      )
      expect(kafka.output()).toContain(`KAFKA_BROKERS=127.0.0.1:${ports.get(9092)}`)
      expect(clickhouse.output()).toContain(`CLICKHOUSE_URL=http://127.0.0.1:${ports.get(8123)}`)
      figures['broker + ClickHouse up'] = `${((Date.now() - t0) / 1000).toFixed(1)} s`

      const t1 = Date.now()
      for (const command of services) procs.push(run(command, env))
      for (const [name, documentedPort] of [
        ['collector', 8081],
        ['processor', 8080],
        ['alerter', 8082],
      ] as const) {
        const base = `http://127.0.0.1:${ports.get(documentedPort)}`
        const proc = procs.find((p) => p.command.endsWith(`npm run ${name}`))!
        await waitFor(
          `${name} ready on its port`,
          async () => {
            if (proc.child.exitCode !== null)
              throw new Error(`${name} exited:\n${proc.output().slice(-3000)}`)
            return (await apiJson<{ ready: boolean }>(base, '/readyz').catch(() => undefined))?.ready
              ? true
              : undefined
          },
          STARTUP_BOUND_MS,
          500,
        )
      }
      figures['services ready'] = `${((Date.now() - t1) / 1000).toFixed(1)} s`

      const review = `http://127.0.0.1:${ports.get(8080)}`
      for (const command of produces) {
        const p = run(command, env)
        expect(await p.exited, p.output()).toBe(0)
        expect(p.output()).toMatch(/sent \d+, invalid 0/)
      }
      const produced = Date.now()
      // The example's model shows in the processor's read API (the data of the review page).
      await waitFor(
        'loan-approval in the models view',
        async () => {
          const view = await apiJson<{ models: { modelId: string; versions: { modelVersion: string }[] }[] }>(
            review,
            '/api/views/models',
            localAdminToken(dataDir),
          )
          const model = view.models.find((m) => m.modelId === 'loan-approval')
          return model && model.versions.length >= 2 ? model : undefined
        },
        VISIBLE_BOUND_MS,
        250,
      )
      figures['example visible'] = `${((Date.now() - produced) / 1000).toFixed(1)} s after produce`

      // Its four-fifths breach was delivered by the alerter process (console sink, recorded in ClickHouse).
      await waitFor(
        'the loan-approval breach delivered',
        async () => {
          const { breaches } = await apiJson<{
            breaches: {
              kpi: { id: string }
              scope: Record<string, string>
              delivery: { delivered: number }
            }[]
          }>(review, '/api/breaches?state=open', localAdminToken(dataDir))
          return breaches.find(
            (b) =>
              b.kpi.id === 'model.disparate_impact_ratio' &&
              b.scope.model_id === 'loan-approval' &&
              b.delivery.delivered > 0,
          )
        },
        ALERT_BOUND_MS,
        500,
      )
      figures['breach delivered'] = `${((Date.now() - produced) / 1000).toFixed(1)} s after produce`

      // Every process stops on SIGTERM, as under docker-compose and Kubernetes: its whole process group
      // (npm, tsx, node) goes, and the broker's JVM (a group of its own) with it.
      for (const p of [...procs].reverse()) {
        await stop(p)
        await waitFor(
          `${p.command} gone`,
          () => (groupAlive(p.child.pid!) ? undefined : true),
          STOP_BOUND_MS,
          200,
        )
      }
      expect(brokersUsing(dataDir)).toEqual([])
    },
    STARTUP_BOUND_MS * 2 + ALERT_BOUND_MS + 6 * STOP_BOUND_MS,
  )
})
