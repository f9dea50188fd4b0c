import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/pipeline.js'

/** The produce CLI's local checks (`--dry-run`: no broker needed), as a person runs it. */
function produce(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'services/cli/produce.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, COLLECTOR_OCSF_TOPIC: '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

describe('npm run produce', () => {
  it('--shift-to-now keeps every example valid', () => {
    const r = produce(['--dry-run', '--shift-to-now', 'shared/events/examples/privacy-incidents.jsonl'])
    expect(r).toMatchObject({ code: 0, stdout: 'sent 0 (dry run, 13 valid), invalid 0\n' })
  })

  it('--ocsf validates OCSF findings with the collector mapping', () => {
    const ok = produce(
      ['--ocsf', '--dry-run', '--shift-to-now', 'shared/events/examples/ocsf-findings.jsonl'],
      {
        COLLECTOR_OCSF_TOPIC: 'soc.ocsf-findings',
      },
    )
    expect(ok).toMatchObject({ code: 0, stdout: 'sent 0 (dry run, 4 valid), invalid 0\n' })

    const dir = mkdtempSync(join(tmpdir(), 'aims-ocsf-cli-'))
    const file = join(dir, 'findings.jsonl')
    const good = {
      class_uid: 2005,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200501,
      time: 1_772_000_000_000,
      severity_id: 4,
      status_id: 1,
      metadata: { version: '1.3.0', product: { name: 'x' } },
      finding_info_list: [{ uid: 'F-1', created_time: 1_772_000_000_000 }],
    }
    const { finding_info_list: _, ...missing } = good
    writeFileSync(file, `${JSON.stringify(good)}\n${JSON.stringify(missing)}\n`)
    const bad = produce(['--ocsf', '--dry-run', file], { COLLECTOR_OCSF_TOPIC: 'soc.ocsf-findings' })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('line 2: finding_info_list: is required')
    expect(bad.stdout).toBe('sent 0 (dry run, 1 valid), invalid 1\n')
    rmSync(dir, { recursive: true, force: true })
  })

  it('--ocsf without COLLECTOR_OCSF_TOPIC says what is missing', () => {
    const r = produce(['--ocsf', '--dry-run', 'shared/events/examples/ocsf-findings.jsonl'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--ocsf needs COLLECTOR_OCSF_TOPIC')
  })
})
