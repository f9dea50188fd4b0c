import { explainAddressInUse } from './address-in-use.js'
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
export interface RunOptions {
  /** The process's logger (default createLogger(cfg)); the run command keeps its full log in a file. */
  logger?: (cfg: Config) => Logger
}

export async function runService(
  name: string,
  start: (ctx: ServiceContext) => Promise<Running>,
  options: RunOptions = {},
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
  const log = (options.logger?.(cfg) ?? createLogger(cfg)).child({ service: name })
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
    let url: string
    try {
      ;({ url } = await http.listen(cfg.HTTP_HOST, cfg.HTTP_PORT))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
      throw new Error(await explainAddressInUse(cfg.HTTP_HOST, cfg.HTTP_PORT))
    }
    running = await start({ cfg, log, health, http })
    log.info({ url, metrics: `${url}/metrics`, ready: `${url}/readyz` }, `${name} started`)
  } catch (err) {
    // Written for a person as it is (a config error spans several lines), and logged for machines.
    process.stderr.write(`${name} failed to start: ${errorMessage(err)}\n`)
    if (err instanceof ConfigError)
      log.fatal({ issues: err.issues }, `${name} failed to start: invalid configuration`)
    else log.fatal({ err: errorMessage(err) }, `${name} failed to start`)
    log.flush()
    await running?.stop().catch(() => undefined)
    await http.close()
    const code = err instanceof ConfigError ? 2 : 1
    process.exitCode = code
    setTimeout(() => process.exit(code), 200).unref()
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
