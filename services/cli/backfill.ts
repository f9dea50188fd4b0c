import { createClickHouse } from '../../shared/clickhouse/client.js'
import { migrate } from '../../shared/clickhouse/migrate.js'
import { loadConfig } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { createLogger } from '../../shared/logger.js'
import { createProgressBar } from '../demo/progress.js'
import { backfill } from '../processor/history.js'
import { BACKFILL_USAGE, type BackfillArgs, parseBackfillArgs } from './backfill-args.js'

async function main(argv: string[]): Promise<number> {
  let args: BackfillArgs | 'help'
  let cfg: ReturnType<typeof loadConfig>
  try {
    args = parseBackfillArgs(argv, new Date())
    if (args === 'help') {
      process.stdout.write(`${BACKFILL_USAGE}\n`)
      return 0
    }
    cfg = loadConfig()
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n\n${BACKFILL_USAGE}\n`)
    return 2
  }
  const log = createLogger(cfg).child({ service: 'backfill' })
  let aimsConfig: Awaited<ReturnType<typeof loadAimsConfigFile>> | undefined
  try {
    aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined
  } catch (err) {
    process.stderr.write(`${errorMessage(err)}\n`)
    return 2
  }
  const ch = await createClickHouse(cfg)
  try {
    await migrate(ch, log)
    const bar = createProgressBar(`backfill ${args.axis}`, 0)
    const started = performance.now()
    const result = await backfill(ch, {
      ...args,
      config: aimsConfig,
      onProgress: (finished, total) => bar.update(finished, total),
    })
    const seconds = (performance.now() - started) / 1000
    bar.done(`${seconds.toFixed(1)} s`)
    log.info(
      {
        ...result,
        from: args.from.toISOString(),
        to: args.to.toISOString(),
        seconds: Number(seconds.toFixed(2)),
      },
      'backfill done',
    )
    return 0
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'backfill failed')
    return 1
  } finally {
    await ch.close()
  }
}

process.exitCode = await main(process.argv.slice(2))
