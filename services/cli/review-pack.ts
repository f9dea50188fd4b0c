import { createClickHouse } from '../../shared/clickhouse/client.js'
import { migrate } from '../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../shared/config/env.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { reviewPackCommand } from '../review-pack/command.js'

const cfg = loadConfig()
const aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined
const ch = await createClickHouse(cfg, 'read')
let status = 1
try {
  await migrate(ch)
  status = await reviewPackCommand(process.argv.slice(2), {
    ch,
    config: aimsConfig,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  })
} finally {
  await ch.close()
}
process.exit(status)
