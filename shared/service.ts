import { type Config, loadConfig } from './config/env.js'
import { ConfigError, errorMessage } from './errors.js'
import { Health } from './http/health.js'
import { HttpServer } from './http/server.js'
import { createLogger, type Logger } from './logger.js'

export interface ServiceContext {
  cfg: Config
  log: Logger
  health: Health
  http: HttpServer
}

export interface Running {
  stop(): Promise<void>
}

/** Longest a shutdown may take before the process exits anyway (the JVM of a local broker included). */
export const SHUTDOWN_DEADLINE_MS = 10_000

/**
 * The entry point of every process: config (a bad value stops start-up naming the variable), logger,
 * health and the HTTP server, then the service itself; SIGINT/SIGTERM stop it and exit 0.
 */
export async function runService(
  name: string,
  start: (ctx: ServiceContext) => Promise<Running>,
): Promise<void> {
  let cfg: Config
  try {
    cfg = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(cfg).child({ service: name })
  const health = new Health()
  const http = new HttpServer(health, log)
  let running: Running | undefined
  let stopping = false

  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'shutting down')
    const deadline = setTimeout(() => {
      log.error('shutdown took too long, exiting')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS)
    deadline.unref()
    try {
      await running?.stop()
      await http.close()
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'error during shutdown')
    }
    log.flush()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))

  try {
    const { url } = await http.listen(cfg.HTTP_HOST, cfg.HTTP_PORT)
    running = await start({ cfg, log, health, http })
    log.info({ url, metrics: `${url}/metrics`, ready: `${url}/readyz` }, `${name} started`)
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : errorMessage(err)
    log.fatal({ err: message }, `${name} failed to start`)
    log.flush()
    await running?.stop().catch(() => undefined)
    await http.close()
    process.exitCode = 1
    setTimeout(() => process.exit(1), 200).unref()
  }
}

/** Split services need real brokers; only the all-in-one run command starts a local one. */
export function requireBrokers(cfg: Config, name: string): string[] {
  if (!cfg.KAFKA_BROKERS) {
    throw new ConfigError(
      `KAFKA_BROKERS: required when ${name} runs on its own (npm start runs everything with a local broker)`,
      ['KAFKA_BROKERS: required'],
    )
  }
  return cfg.KAFKA_BROKERS
}
