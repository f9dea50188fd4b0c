import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { apiJson, localAdminToken } from '../helpers/api.js'
import { waitFor } from '../helpers/infra.js'
import { REPO_ROOT } from '../helpers/pipeline.js'
import { freePort, readmeCommands } from '../helpers/readme.js'

/**
 * `npm start` on a real terminal (a tmux pane, a pseudo-terminal 100 columns wide), as the README's
 * quick start runs it, then the README's example commands in a second shell. The transcript of the
 * first 60 s of the demo must read as written for people: start-up steps only until the banner, no line
 * wider than the terminal, one line per alert, no raw kafkajs warnings and no JSON. Each example file
 * must show in the read API within 10 s of being produced. Then Ctrl-C stops everything.
 *
 * Bounds are generous (a loaded 2-core machine): start-up and shutdown waits only fail instead of hang.
 */

const WIDTH = 100
const READY_BOUND_MS = 180_000
const DEMO_WINDOW_MS = 60_000
const VISIBLE_BOUND_MS = 10_000
const STOP_BOUND_MS = 30_000

/** tmux on a socket of its own inside the test's folder, so nothing of it outlives the test. */
const tmux = (socket: string, ...args: string[]) =>
  execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' })

/** Every descendant of `pid` (children, their children, …). */
function descendants(pid: number): number[] {
  let out: string
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
  } catch {
    return [] // ps exits 1 when there is none
  }
  const children = out
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0)
  return children.flatMap((c) => [c, ...descendants(c)])
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function brokersUsing(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', 'kafka.Kafka'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(dir))
  } catch {
    return []
  }
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (
      /^(KAFKA_|CLICKHOUSE_|REDIS_|AIMS_|COLLECTOR_|PROCESSOR_|DEMO|HTTP_|PUBLIC_BASE_URL|DATA_DIR|LOG_|NODE_OPTIONS|VITEST|TMUX)/.test(
        k,
      )
    )
      continue
    env[k] = v
  }
  return { ...env, TERM: 'xterm-256color', ...extra }
}

function runToEnd(
  command: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (b: Buffer) => {
      output += b.toString()
    })
    child.stderr.on('data', (b: Buffer) => {
      output += b.toString()
    })
    child.once('exit', (code) => resolve({ code, output }))
  })
}

describe('npm start on a terminal', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'aims-e2e-terminal-'))
  const socket = join(dataDir, 'tmux.sock')
  const redisPrefix = `aims-term:${process.pid}_${randomBytes(3).toString('hex')}`
  const figures: Record<string, string> = {}

  afterAll(() => {
    try {
      tmux(socket, 'kill-server')
    } catch {}
    rmSync(dataDir, { recursive: true, force: true })
    process.stderr.write(
      `[terminal transcript] ${Object.entries(figures)
        .map(([k, v]) => `${k}: ${v}`)
        .join(' · ')}\n`,
    )
  })

  it(
    'reads as written for people: steps, banner, one line per alert, no wider than the terminal',
    async () => {
      const quickStart = readmeCommands('## Quick start')[0]!
      expect(quickStart).toMatch(/&& npm start\b/)
      // The README's OCSF variant of the same command: `npm start` with an OCSF topic switched on.
      const [startCommand, ocsfProduce] = readmeCommands('### OCSF in')
      expect(startCommand).toMatch(/^COLLECTOR_OCSF_TOPIC=\S+ npm start$/)
      expect(ocsfProduce).toMatch(/npm run produce -- --ocsf/)
      const examples = readmeCommands('### The examples on the page')
      expect(examples).toHaveLength(3)

      const httpPort = await freePort()
      const kafkaPort = await freePort()
      const base = `http://127.0.0.1:${httpPort}`
      const env = cleanEnv({
        DATA_DIR: dataDir,
        HTTP_PORT: String(httpPort),
        PUBLIC_BASE_URL: base,
        // A fixed port of its own, so the README's produce command finds the broker as it would on 9092.
        KAFKA_LOCAL_PORT: String(kafkaPort),
        REDIS_URL: inject('redisUrl'),
        REDIS_PREFIX: redisPrefix,
      })
      const conf = join(dataDir, 'tmux.conf')
      writeFileSync(conf, 'set -g history-limit 100000\nset -g remain-on-exit on\n')
      execFileSync(
        'tmux',
        [
          '-S',
          socket,
          '-f',
          conf,
          'new-session',
          '-d',
          '-s',
          'aims',
          '-x',
          String(WIDTH),
          '-y',
          '50',
          `cd ${REPO_ROOT} && ${startCommand}`,
        ],
        { env },
      )
      const transcript = () => tmux(socket, 'capture-pane', '-p', '-J', '-S', '-', '-E', '-', '-t', 'aims')
      expect(Number(tmux(socket, 'display', '-p', '-t', 'aims', '#{pane_width}').trim())).toBe(WIDTH)
      const panePid = Number(tmux(socket, 'display', '-p', '-t', 'aims', '#{pane_pid}').trim())

      const t0 = Date.now()
      await waitFor(
        'the ready banner',
        () => (/AIMS KPI pipeline ready in/.test(transcript()) ? true : undefined),
        READY_BOUND_MS,
        500,
      )
      const readyAt = Date.now()
      figures.ready =
        /ready in ([\d.]+ s)/.exec(transcript())?.[1] ?? `${((readyAt - t0) / 1000).toFixed(1)} s`

      // The README's example commands, each visible through the read API within 10 s of being produced.
      const visible: [string, () => Promise<unknown>][] = [
        [
          'privacy-incidents',
          async () => {
            const v = await apiJson<{ incidents: { incidentId: string }[] }>(
              base,
              '/api/views/incidents',
              localAdminToken(dataDir),
            )
            const ids = v.incidents.map((i) => i.incidentId)
            return ids.includes('INC-2025-0142') && ids.includes('INC-2025-0143') ? true : undefined
          },
        ],
        [
          'model-metrics',
          async () => {
            const v = await apiJson<{ models: { modelId: string }[] }>(
              base,
              '/api/views/models',
              localAdminToken(dataDir),
            )
            return v.models.some((m) => m.modelId === 'loan-approval') ? true : undefined
          },
        ],
        [
          'audit-findings',
          async () => {
            const v = await apiJson<{ groups: { findings: { findingId: string }[] }[] }>(
              base,
              '/api/views/nonconformities',
              localAdminToken(dataDir),
            )
            return v.groups.some((g) => g.findings.some((f) => f.findingId === 'F-2025-032'))
              ? true
              : undefined
          },
        ],
      ]
      for (const [file, shows] of visible) {
        const command = examples.find((c) => c.endsWith(`${file}.jsonl`))
        expect(command, `the README sends ${file}.jsonl`).toBeDefined()
        const sent = await runToEnd(command!, env)
        expect(sent.code, sent.output).toBe(0)
        const producedAt = Date.now()
        await waitFor(`${file} on the page`, shows, VISIBLE_BOUND_MS, 200)
        figures[file] = `${((Date.now() - producedAt) / 1000).toFixed(1)} s`
      }

      // The README's OCSF findings: the suspected breach SOC-2025-0912 is on the 72-hour clock.
      const sentOcsf = await runToEnd(ocsfProduce!, env)
      expect(sentOcsf.code, sentOcsf.output).toBe(0)
      expect(sentOcsf.output).toContain('sent 4, invalid 0')
      const ocsfAt = Date.now()
      await waitFor(
        'the OCSF incident on the page',
        async () => {
          const v = await apiJson<{ incidents: { incidentId: string; notifiedAt?: string | null }[] }>(
            base,
            '/api/views/incidents',
            localAdminToken(dataDir),
          )
          return v.incidents.some((i) => i.incidentId === 'SOC-2025-0912' && !i.notifiedAt) ? true : undefined
        },
        VISIBLE_BOUND_MS,
        200,
      )
      figures['ocsf-findings'] = `${((Date.now() - ocsfAt) / 1000).toFixed(1)} s`

      // The first 60 s of the demo after ready.
      await new Promise((r) => setTimeout(r, Math.max(0, readyAt + DEMO_WINDOW_MS - Date.now())))
      const lines = transcript().split('\n')
      while (lines.length > 0 && lines.at(-1) === '') lines.pop()

      mkdirSync(join(REPO_ROOT, 'test-artifacts'), { recursive: true })
      writeFileSync(join(REPO_ROOT, 'test-artifacts', 'terminal-transcript.txt'), `${lines.join('\n')}\n`)
      const tooWide = lines.filter((l) => [...l].length > WIDTH)
      expect(tooWide, 'lines wider than the terminal').toEqual([])
      expect(lines.filter((l) => /kafkajs|coordinator is loading|not the leader/i.test(l))).toEqual([])
      expect(lines.filter((l) => l.trimStart().startsWith('{') || /"(alert|msg|level)":/.test(l))).toEqual([])

      // Start-up is told in steps: between the first line and the banner, only step lines.
      const first = lines.findIndex((l) => l.startsWith('AIMS KPI pipeline starting'))
      const ready = lines.findIndex((l) => l.startsWith('AIMS KPI pipeline ready in'))
      expect(first).toBeGreaterThanOrEqual(0)
      const startup = lines.slice(first + 1, ready).filter((l) => l.trim() !== '')
      expect(startup.length).toBeGreaterThanOrEqual(4)
      for (const l of startup) expect(l).toMatch(/^✔ .+ \(\d+\.\d s\)/)

      // One line per alert: the summary's count of alerts delivered equals the alert lines above it.
      const isAlert = (l: string) => /^\d\d:\d\d:\d\d (FIRING|ESCALATED|RESOLVED)\b/.test(l)
      const isSummary = (l: string) => /^\d\d:\d\d:\d\d · .* alerts? delivered$/.test(l)
      const alerts = lines.filter(isAlert)
      expect(alerts.length, 'the demo fires alerts in its first minute').toBeGreaterThan(0)
      for (const a of alerts) expect(a).toMatch(/: \S+( \w+)? \(threshold /)
      // A summary preceded by a quiet one (no alert between them): every delivery counted by then has
      // long been written, so the comparison cannot race a delivery in flight.
      const summaries = lines.map((l, i) => [l, i] as const).filter(([l]) => isSummary(l))
      let compared = false
      for (let k = summaries.length - 1; k > 0 && !compared; k--) {
        const [line, at] = summaries[k]!
        const [, prevAt] = summaries[k - 1]!
        if (lines.slice(prevAt, at).some(isAlert)) continue
        const delivered = Number(/· ([\d,]+) alerts? delivered$/.exec(line)![1]!.replace(/,/g, ''))
        expect(lines.slice(0, at).filter(isAlert).length, line).toBe(delivered)
        compared = true
      }
      expect(compared, 'two consecutive summaries without an alert between them').toBe(true)
      figures['alert lines'] = String(alerts.length)
      figures.lines = String(lines.length)
      figures.widest = `${Math.max(...lines.map((l) => [...l].length))}/${WIDTH}`

      // Ctrl-C: every process started under the pane exits, the broker JVM included.
      const tree = descendants(panePid)
      expect(tree.length).toBeGreaterThan(0)
      expect(brokersUsing(dataDir)).toHaveLength(1)
      const stopAt = Date.now()
      tmux(socket, 'send-keys', '-t', 'aims', 'C-c')
      await waitFor(
        'every process of npm start gone',
        () => (tree.some(alive) || brokersUsing(dataDir).length > 0 ? undefined : true),
        STOP_BOUND_MS,
        200,
      )
      figures['Ctrl-C → all gone'] = `${((Date.now() - stopAt) / 1000).toFixed(1)} s`
    },
    READY_BOUND_MS + DEMO_WINDOW_MS + 3 * VISIBLE_BOUND_MS + STOP_BOUND_MS + 60_000,
  )
})
