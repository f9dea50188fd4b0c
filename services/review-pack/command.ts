import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parse as parseYaml } from 'yaml'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import { generatePack, listPacks, recordReview, verifyPack } from './pack.js'
import { DEFAULT_CHROMIUM, renderPdf } from './pdf.js'
import { periodLabelSchema } from './period.js'

export const USAGE = `Usage:
  npm run review-pack -- --period 2026-Q3 [--out DIR] [--no-pdf] [--chromium PATH]
  npm run review-pack -- --verify PACK_ID
  npm run review-pack -- --record FILE.{json,yaml} --pack PACK_ID [--by NAME]
  npm run review-pack -- --list

Management review (ISO/IEC 27001 and 42001 clause 9.3). --period generates the pack of a quarter
(2026-Q3) or month (2026-09) from the facts as known now, stores it (append-only, chained to the
previous pack) and writes PACK_ID.html, .json and .pdf (headless Chromium) into --out (default .).
--verify recomputes every figure of a stored pack from the stored facts as known at its time, checks the
chain and the stored bodies, and prints each difference. --record attaches the review's attendees,
decisions and actions (clause 9.3.3) to a pack; the actions are reported on in the next pack.
ClickHouse and the AIMS config file come from the environment (CLICKHOUSE_URL, AIMS_CONFIG_FILE, ...).

Exit status: 0 done (verified); 1 verification found differences or the command failed; 2 usage error.`

export interface CommandDeps {
  ch: ClickHouse
  config?: ResolverConfig
  out: (line: string) => void
  err: (line: string) => void
  now?: () => Date
}

class UsageError extends Error {}

const optionSpec = {
  period: { type: 'string' },
  out: { type: 'string', default: '.' },
  'no-pdf': { type: 'boolean', default: false },
  chromium: { type: 'string', default: DEFAULT_CHROMIUM },
  verify: { type: 'string' },
  record: { type: 'string' },
  pack: { type: 'string' },
  by: { type: 'string', default: 'cli' },
  list: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function parse(argv: string[]) {
  try {
    const { values } = parseArgs({ args: argv, options: optionSpec, strict: true })
    return values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

async function readRecordFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8')
  try {
    return /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text)
  } catch (err) {
    throw new UsageError(
      `--record ${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    )
  }
}

/** The review-pack command on an open ClickHouse; returns the exit status. */
export async function reviewPackCommand(argv: string[], deps: CommandDeps): Promise<number> {
  try {
    const v = parse(argv)
    if (v.help) {
      deps.out(USAGE)
      return 0
    }
    const modes = [v.period !== undefined, v.verify !== undefined, v.record !== undefined, v.list].filter(
      Boolean,
    )
    if (modes.length !== 1) throw new UsageError('choose exactly one of --period, --verify, --record, --list')

    if (v.period !== undefined) {
      const label = periodLabelSchema.safeParse(v.period)
      if (!label.success) throw new UsageError(`--period: ${label.error.issues[0]?.message}`)
      const started = performance.now()
      const pack = await generatePack(deps.ch, { period: label.data, config: deps.config, now: deps.now?.() })
      const base = join(v.out, pack.packId)
      await writeFile(
        `${base}.json`,
        `${JSON.stringify({ ...pack.content, manifest: pack.manifest, sha256: pack.sha256 }, null, 2)}\n`,
      )
      await writeFile(`${base}.html`, pack.html)
      if (!v['no-pdf']) await writeFile(`${base}.pdf`, await renderPdf(pack.html, v.chromium))
      deps.out(`pack ${pack.packId}: ${pack.manifest.figures.length} figures, sha256 ${pack.sha256}`)
      deps.out(`  chained to ${pack.prevSha256 || '(first pack)'}`)
      deps.out(`  wrote ${base}.json, ${base}.html${v['no-pdf'] ? '' : `, ${base}.pdf`}`)
      deps.out(`  generated in ${((performance.now() - started) / 1000).toFixed(2)} s`)
      return 0
    }
    if (v.verify !== undefined) {
      const result = await verifyPack(deps.ch, v.verify, deps.config)
      if (result.notes.length > 0) {
        deps.out(
          `pack ${result.packId}: ${result.notes.length} figure(s) computed under a KPI definition that has changed since (not compared):`,
        )
        for (const n of result.notes) deps.out(`  ${n}`)
      }
      if (result.ok) {
        deps.out(
          `pack ${result.packId}: verified (${result.figures} figures recomputed, chain and bodies intact)`,
        )
        return 0
      }
      deps.err(`pack ${result.packId}: ${result.differences.length} difference(s)`)
      for (const d of result.differences) deps.err(`  ${d}`)
      return 1
    }
    if (v.record !== undefined) {
      if (!v.pack) throw new UsageError('--record needs --pack PACK_ID')
      const input = await readRecordFile(v.record)
      const { sha256, record } = await recordReview(deps.ch, v.pack, input, v.by, deps.now?.())
      deps.out(
        `review of ${v.pack} recorded (sha256 ${sha256}): ${record.attendees.length} attendees, ${record.decisions.length} decisions, ${record.actions.length} actions`,
      )
      return 0
    }
    for (const p of await listPacks(deps.ch)) {
      deps.out(
        `${p.packId}\t${p.period}\t${p.generatedAt}\t${p.reviewed ? 'reviewed' : 'not reviewed'}\t${p.sha256}`,
      )
    }
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      deps.err(`${err.message}\n\n${USAGE}`)
      return 2
    }
    const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues
    if (Array.isArray(issues)) {
      for (const i of issues) deps.err(`${i.path.map(String).join('.') || '(record)'}: ${i.message}`)
      return 1
    }
    deps.err((err as Error).message)
    return 1
  }
}
