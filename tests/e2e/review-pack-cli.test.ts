import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/pipeline.js'

/**
 * `npm run review-pack` as a process, wired as a user runs it: configuration from the environment, its
 * own embedded ClickHouse folder, migrations applied, a pack generated with its three files, listed and
 * verified; a bad period is a usage error (exit 2) naming the flag.
 */

const dir = mkdtempSync(join(tmpdir(), 'aims-review-pack-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function reviewPack(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/review-pack.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    // Generous: a run takes seconds; the bound only makes a hung Chromium fail instead of hanging.
    timeout: 240_000,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      CLICKHOUSE_DATA_DIR: join(dir, 'clickhouse'),
      CLICKHOUSE_DATABASE: 'packs',
      LOG_LEVEL: 'warn',
    },
  })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('npm run review-pack', () => {
  it('generates, lists and verifies a pack; a bad period is a usage error', () => {
    const made = reviewPack(['--period', '2026-09', '--out', dir])
    expect(made.stderr).toBe('')
    expect(made.status).toBe(0)
    const packId = /^pack (\S+):/.exec(made.stdout)?.[1]
    expect(packId).toMatch(/^2026-09-\d{8}T\d{6}Z$/)
    for (const ext of ['html', 'json', 'pdf'])
      expect(existsSync(join(dir, `${packId}.${ext}`)), ext).toBe(true)

    const list = reviewPack(['--list'])
    expect(list.stdout).toContain(`${packId}\t2026-09\t`)
    const verified = reviewPack(['--verify', packId!])
    expect(verified.status).toBe(0)
    expect(verified.stdout).toMatch(/verified/)

    const bad = reviewPack(['--period', '2026-Q9'])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/^--period: expected a quarter like 2026-Q3/)
  }, 300_000)
})
