/**
 * Writes dashboards/*.json from the sources in dashboards/src. Run after changing a source or the KPI
 * catalog (thresholds and ISO references come from it):
 *
 *   npx tsx dashboards/build.ts          # write
 *   npx tsx dashboards/build.ts --check  # exit 1 if a JSON file is out of date (tests do the same)
 */

import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { auditNonconformities } from './src/audit-nonconformities.js'
import { managementReview } from './src/management-review.js'
import { modelFairness } from './src/model-fairness.js'
import { pipelineHealth } from './src/pipeline-health.js'
import { privacyIncidents } from './src/privacy-incidents.js'

export const dashboardsDir = fileURLToPath(new URL('.', import.meta.url))

/** File name → dashboard JSON. */
export const generated: Record<string, unknown> = {
  'management-review.json': managementReview,
  'privacy-incidents.json': privacyIncidents,
  'model-fairness.json': modelFairness,
  'audit-nonconformities.json': auditNonconformities,
  'pipeline-health.json': pipelineHealth,
}

export const render = (dashboard: unknown) => `${JSON.stringify(dashboard, null, 2)}\n`

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check')
  let stale = 0
  for (const [file, dashboard] of Object.entries(generated)) {
    const path = `${dashboardsDir}${file}`
    const text = render(dashboard)
    let current = ''
    try {
      current = readFileSync(path, 'utf8')
    } catch {}
    if (current === text) continue
    if (check) {
      stale++
      console.error(`${file} is out of date: run npx tsx dashboards/build.ts`)
    } else {
      writeFileSync(path, text)
      console.log(`wrote dashboards/${file}`)
    }
  }
  if (stale > 0) process.exit(1)
}
