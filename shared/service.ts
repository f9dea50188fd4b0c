import { createServer } from 'node:net'
import { explainAddressInUse } from './address-in-use.js'
import { type Config, loadConfig } from './config/env.js'
import { ConfigError, errorMessage } from './errors.js'
import { authFromConfig, type ResolvedAuth } from './http/auth/from-config.js'
import { Health } from './http/health.js'
import { httpLimits } from './http/limits.js'
import { HttpServer } from './http/server.js'
import { createLogger, type Logger } from './logger.js'
import { getCounter } from './metrics/registry.js'

export interface ServiceContext {
  cfg: Config
  log: Logger
  health: Health
  /** Register HTTP areas here during start; the server listens once start has returned. */
  http: HttpServer
}

export interface Listening {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:8080. */
  url: string
  port: number
  /**
   * Loopback without configured authentication: the sign-in link of the generated admin token (for a
   * terminal banner only, never a log) and the file that keeps the token.
   */
  localAdmin?: { loginUrl: string; file: string }
}

export interface Running {
  stop(): Promise<void>
  /** Called once the HTTP server listens (the run command prints its banner here). */
  listening?(at: Listening): void
}

export interface ServiceOptions {
  /** The process serves the read API and review page, not only /metrics and the probes. Default false. */
  servesApi?: boolean
  /** The process's logger (default createLogger(cfg)); the run command keeps its full log in a file. */
  logger?: (cfg: Config) => Logger
}

/**
 * Fails at once, with a message for a person, when the HTTP address is taken: most often the same
 * service started twice. Checked before the service starts (the server itself listens only once the
 * service has registered its routes), so a second `npm start` stops before touching anything.
 */
async function ensureAddressFree(host: string, port: number): Promise<void> {
  if (port === 0) return
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const probe = createServer()
    probe.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(true) : reject(err),
    )
    probe.listen(port, host, () => probe.close(() => resolve(false)))
  })
  if (inUse) throw new Error(await explainAddressInUse(host, port))
}

/** Longest a shutdown may take before the process exits anyway (the JVM of a local broker included). */
export const SHUTDOWN_DEADLINE_MS = 10_000
/** Exit code after an uncaught exception (sysexits EX_SOFTWARE): a supervisor restarts the process. */
export const FATAL_EXIT_CODE = 70

/**
 * What a process does with errors nothing else caught. A rejected promise nobody awaited is a bug in one
 * piece of work (one request, one batch): logged, counted in `aims_unhandled_rejections_total`, and the
 * process goes on. An uncaught exception leaves the process in an unknown state: one fatal log line and
 * exit code 70, so that a supervisor (systemd, Kubernetes, compose) starts a clean one.
 */
export function installProcessHandlers(name: string, log: Logger): void {
  const rejections = getCounter({
    name: 'aims_unhandled_rejections_total',
    help: 'Promise rejections nothing handled: logged, and the process kept running',
  })
  process.on('unhandledRejection', (reason) => {
    rejections.inc()
    log.error(
      { err: reason instanceof Error ? reason : new Error(String(reason)) },
      'unhandled promise rejection (logged and counted; the process keeps running)',
    )
  })
  process.on('uncaughtException', (err, origin) => {
    log.fatal(
      { err, origin },
      `${name}: uncaught exception, exiting with code ${FATAL_EXIT_CODE} for a restart`,
    )
    log.flush()
    process.exit(FATAL_EXIT_CODE)
  })
}

/**
 * The entry point of every process: config (a bad value stops start-up naming the variable), logger,
 * authentication (secure by default, see `authFromConfig`), health and the HTTP server, then the service
 * itself; the server listens once the service has registered its routes. SIGINT/SIGTERM stop it and
 * exit 0.
 */
export type StartService = (ctx: ServiceContext) => Promise<Running>

export async function runService(name: string, start: StartService): Promise<void>
export async function runService(name: string, options: ServiceOptions, start: StartService): Promise<void>
export async function runService(
  name: string,
  optionsOrStart: ServiceOptions | StartService,
  maybeStart?: StartService,
): Promise<void> {
  const options = typeof optionsOrStart === 'function' ? {} : optionsOrStart
  const start = typeof optionsOrStart === 'function' ? optionsOrStart : maybeStart!
  let cfg: Config
  let auth: ResolvedAuth
  try {
    cfg = loadConfig()
    auth = authFromConfig(cfg, { servesApi: options.servesApi ?? false })
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = (options.logger?.(cfg) ?? createLogger(cfg)).child({ service: name })
  installProcessHandlers(name, log)
  const health = new Health()
  const http = new HttpServer(health, log, {
    limits: httpLimits(cfg),
    auth: auth.authenticator,
    secureCookies: cfg.PUBLIC_BASE_URL.startsWith('https:'),
  })
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
      await http.close()
      await running?.stop()
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'error during shutdown')
    }
    log.flush()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))

  try {
    await ensureAddressFree(cfg.HTTP_HOST, cfg.HTTP_PORT)
    running = await start({ cfg, log, health, http })
    const { url, port } = await http.listen(cfg.HTTP_HOST, cfg.HTTP_PORT).catch(async (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
      throw new Error(await explainAddressInUse(cfg.HTTP_HOST, cfg.HTTP_PORT))
    })
    const local = auth.localAdmin
    running.listening?.({
      url,
      port,
      ...(local ? { localAdmin: { loginUrl: `${url}/login#token=${local.token}`, file: local.file } } : {}),
    })
    log.info(
      {
        url,
        metrics: `${url}/metrics`,
        ready: `${url}/readyz`,
        // Where the generated admin token is kept: the path, never the token.
        ...(local ? { adminTokenFile: local.file } : {}),
      },
      `${name} started`,
    )
  } catch (err) {
    // Written for a person as it is (a config error spans several lines), and logged for machines.
    process.stderr.write(`${name} failed to start: ${errorMessage(err)}\n`)
    if (err instanceof ConfigError)
      log.fatal({ issues: err.issues }, `${name} failed to start: invalid configuration`)
    else log.fatal({ err: errorMessage(err) }, `${name} failed to start`)
    log.flush()
    await running?.stop().catch(() => undefined)
    await http.close()
    // 2: the configuration is wrong (fix it, do not restart); 1: anything else (a supervisor may retry).
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
