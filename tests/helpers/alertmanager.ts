import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './http-receiver.js'

/**
 * A real Prometheus Alertmanager (Debian package prometheus-alertmanager) on free loopback ports, with
 * clustering off and one route sending every alert group to `webhookUrl`, for tests.
 */

export const ALERTMANAGER_BIN = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager'

export interface AlertmanagerOptions {
  /** Where Alertmanager posts its notifications (a receiver the test runs). */
  webhookUrl: string
  /** Default 0s. */
  groupWait?: string
  /** Default 1s. */
  groupInterval?: string
  /** Default 1h. */
  repeatInterval?: string
}

export interface RunningAlertmanager {
  url: string
  port: number
  /** stdout + stderr so far (for failure messages). */
  output(): string
  stop(): Promise<void>
}

export async function startAlertmanager(opts: AlertmanagerOptions): Promise<RunningAlertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'aims-am-'))
  const config = [
    'route:',
    '  receiver: test',
    "  group_by: ['...']",
    `  group_wait: ${opts.groupWait ?? '0s'}`,
    `  group_interval: ${opts.groupInterval ?? '1s'}`,
    `  repeat_interval: ${opts.repeatInterval ?? '1h'}`,
    'receivers:',
    '  - name: test',
    '    webhook_configs:',
    `      - url: ${JSON.stringify(opts.webhookUrl)}`,
    '        send_resolved: true',
    '',
  ].join('\n')
  await writeFile(join(dir, 'alertmanager.yml'), config)
  const port = await freePort()
  let out = ''
  const child: ChildProcess = spawn(
    ALERTMANAGER_BIN,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null) {
      await stop()
      throw new Error(`alertmanager exited with code ${child.exitCode}: ${out}`)
    }
    try {
      const res = await fetch(`${url}/-/ready`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`alertmanager not ready after 15 s: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return { url, port, output: () => out, stop }
}
