import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SERVE_SCRIPT = join(REPO_ROOT, 'deploy', 'clickhouse', 'serve.ts')
const START_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 15_000
const OUTPUT_TAIL_CHARS = 8_000

export interface SpawnedClickHouse {
  /** `http://127.0.0.1:<port>`, for CLICKHOUSE_URL. */
  url: string
  pid: number
  /** SIGTERM, then SIGKILL if the server has not exited within 15 s; resolves once it has exited. */
  stop(): Promise<void>
  /** Sends a signal without waiting (SIGKILL by default: an abrupt outage). */
  kill(signal?: NodeJS.Signals): void
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | NodeJS.Signals>
}

// Every server spawned by this test process, killed when the process exits however the tests ended, so
// no orphan keeps a data folder locked. (`--stop-on-stdin-close` covers this process being SIGKILLed.)
const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `deploy/clickhouse/serve.ts` on `dataDir` in a child process and resolves once it prints its
 * URL. The child's output is drained continuously (a full pipe would stall it) and its tail is kept for
 * the error message when it fails to start.
 */
/**
 * `port` 0 picks a free one; a restart passes the previous port so clients keep their URL. `extraArgs` go
 * to serve.ts as they are (e.g. `--password`, `--tls-cert`).
 */
export function spawnLocalClickHouse(
  dataDir: string,
  port = 0,
  extraArgs: string[] = [],
): Promise<SpawnedClickHouse> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SERVE_SCRIPT,
      '--data-dir',
      dataDir,
      '--port',
      String(port),
      '--stop-on-stdin-close',
      ...extraArgs,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', LOG_FORMAT: 'json' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  running.add(child)
  let output = ''
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS)
  }
  child.stderr!.on('data', keep)
  const exited = new Promise<number | NodeJS.Signals>((done) => {
    child.once('exit', (code, signal) => {
      running.delete(child)
      done(signal ?? code ?? 0)
    })
  })

  return new Promise<SpawnedClickHouse>((resolve, reject) => {
    let stdoutLine = ''
    let ready = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(
        new Error(`local ClickHouse on ${dataDir} did not start within ${START_TIMEOUT_MS} ms:\n${output}`),
      )
    }, START_TIMEOUT_MS)
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk)
      if (ready) return
      stdoutLine += chunk.toString('utf8')
      const m = /^CLICKHOUSE_URL=(\S+)$/m.exec(stdoutLine)
      if (!m) return
      ready = true
      clearTimeout(timer)
      const url = m[1]!
      resolve({
        url,
        pid: child.pid!,
        exited,
        kill: (signal = 'SIGKILL') => {
          child.kill(signal)
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.kill('SIGTERM')
          const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
          await exited
          clearTimeout(force)
        },
      })
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    void exited.then((how) => {
      if (ready) return
      clearTimeout(timer)
      reject(new Error(`local ClickHouse on ${dataDir} exited (${how}) before it was ready:\n${output}`))
    })
  })
}
