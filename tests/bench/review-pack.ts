import { join } from 'node:path'
import { generatePack, verifyPack } from '../../services/review-pack/pack.js'
import { renderPdf } from '../../services/review-pack/pdf.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import { migrate } from '../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../shared/config/env.js'
import { generateFacts } from '../integration/kpi/fact-generator.js'

/**
 * Review pack generation for a quarter (issue 14's figure): the generated fact history (a year up to the
 * end of 2026-Q3, ~1.2 M rows per unit of scale, 5 % duplicates) in embedded ClickHouse, then the pack
 * of 2026-Q3 generated and stored (every figure and input hash), printed to PDF, and verified.
 */
export interface ReviewPackBenchResult {
  clickhouse: 'embedded'
  scale: number
  facts: number
  figures: number
  inputs: number
  generate_s: number
  pdf_s: number
  pdf_bytes: number
  verify_s: number
  verified: boolean
}

export async function benchReviewPack(
  workDir: string,
  log: (s: string) => void,
  opts: { scale?: number } = {},
): Promise<ReviewPackBenchResult> {
  const scale = opts.scale ?? 1
  const ch = await createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: join(workDir, 'pack-ch'),
      CLICKHOUSE_DATABASE: 'bench_pack',
      LOG_LEVEL: 'warn',
    }),
  )
  try {
    await migrate(ch)
    const seeded = performance.now()
    const counts = await generateFacts(ch, { now: new Date('2026-10-01T00:00:00.000Z'), scale })
    log(
      `review-pack: seeded ${counts.total} fact rows (scale ${scale}) in ${((performance.now() - seeded) / 1000).toFixed(1)} s`,
    )
    let t = performance.now()
    const pack = await generatePack(ch, { period: '2026-Q3' })
    const generateS = (performance.now() - t) / 1000
    log(`review-pack: ${pack.packId}, ${pack.manifest.figures.length} figures in ${generateS.toFixed(2)} s`)
    t = performance.now()
    const pdf = await renderPdf(pack.html)
    const pdfS = (performance.now() - t) / 1000
    t = performance.now()
    const verified = await verifyPack(ch, pack.packId)
    const verifyS = (performance.now() - t) / 1000
    if (!verified.ok)
      log(`review-pack: verification differences: ${verified.differences.slice(0, 5).join('; ')}`)
    return {
      clickhouse: 'embedded',
      scale,
      facts: counts.total,
      figures: pack.manifest.figures.length,
      inputs: pack.manifest.inputs.length,
      generate_s: generateS,
      pdf_s: pdfS,
      pdf_bytes: pdf.length,
      verify_s: verifyS,
      verified: verified.ok,
    }
  } finally {
    await ch.close()
  }
}

export function formatReviewPackBench(r: ReviewPackBenchResult): string {
  return `review-pack: quarter 2026-Q3 over ${r.facts} facts (embedded ClickHouse, scale ${r.scale}): generated and stored in ${r.generate_s.toFixed(2)} s (${r.figures} figures, ${r.inputs} input sets), PDF ${r.pdf_s.toFixed(2)} s (${Math.round(r.pdf_bytes / 1024)} KB), verified in ${r.verify_s.toFixed(2)} s: ${r.verified ? 'ok' : 'DIFFERENCES'}`
}
