import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { type AlertingConfig, parseAlertingConfig } from '../../shared/alerts/routing.js'
import { loadConfig } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import { Health } from '../../shared/http/health.js'
import { HttpServer } from '../../shared/http/server.js'
import { createLogger } from '../../shared/logger.js'
import { startAlerter } from './alerter.js'

/**
 * The alerter as its own process: config, the `alerting` section of AIMS_CONFIG_FILE, the ops HTTP
 * server, the worker, and a graceful stop on SIGTERM/SIGINT. All logic lives in alerter.ts.
 */

async function readAlerting(file: string | undefined): Promise<AlertingConfig | undefined> {
  if (!file) return undefined
  const doc = parseYaml(await readFile(file, 'utf8')) as { alerting?: unknown } | null
  return parseAlertingConfig(doc?.alerting, `${file}: alerting`)
}

async function main(): Promise<void> {
  const cfg = loadConfig()
  const log = createLogger(cfg).child({ service: 'alerter' })
  const health = new Health()
  const http = new HttpServer(health, log)
  const alerter = await startAlerter({ cfg, log, health, alerting: await readAlerting(cfg.AIMS_CONFIG_FILE) })
  const { url } = await http.listen(cfg.HTTP_HOST, cfg.HTTP_PORT)
  log.info({ url }, 'alerter ops server listening')
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    await alerter.close()
    await http.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}

main().catch((err) => {
  console.error(`alerter failed to start: ${errorMessage(err)}`)
  process.exit(1)
})
