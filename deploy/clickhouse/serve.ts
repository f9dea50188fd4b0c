/**
 * Runs the local ClickHouse server in its own process:
 *
 *   tsx deploy/clickhouse/serve.ts --data-dir DIR [--port N] [--host H] [--password P] [--sessions N]
 *                                  [--stop-on-stdin-close] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]
 *
 * The first line on stdout is `CLICKHOUSE_URL=http://host:port`, printed once the server answers; logs
 * come after it. SIGTERM or SIGINT closes chDB cleanly and exits 0, so killing and restarting this process
 * is how tests and the split all-in-one mode take ClickHouse away and bring it back.
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../../shared/config/env.js'
import { createLogger } from '../../shared/logger.js'
import { startLocalClickHouseServer } from './local-server.js'

// A production ClickHouse runs on UTC and chDB takes its time zone from the process: pin it unless the
// operator chose one. Set before chDB loads, which happens when the server starts.
process.env.TZ ??= 'UTC'

const usage =
  'usage: tsx deploy/clickhouse/serve.ts --data-dir DIR [--port N] [--host H] [--password P] [--sessions N] [--stop-on-stdin-close] [--tls-cert FILE --tls-key FILE [--tls-ca FILE]]'

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

let args: ReturnType<typeof parseCli>
function parseCli() {
  return parseArgs({
    options: {
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      password: { type: 'string' },
      // Concurrent chDB sessions; a real server answers many queries at once, so does this one.
      sessions: { type: 'string' },
      // HTTPS with this PEM certificate and key; --tls-ca also requires client certificates signed by it.
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-ca': { type: 'string' },
      // A parent that spawns this server holds its stdin; when the parent dies, however abruptly, stdin
      // closes and the server goes too, instead of holding the data folder's lock as an orphan.
      'stop-on-stdin-close': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values
}
try {
  args = parseCli()
} catch (err) {
  fail((err as Error).message)
}
if (args.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
const dataDir = args['data-dir'] ?? fail('--data-dir is required')
const port = args.port === undefined ? 0 : Number(args.port)
const tlsCert = args['tls-cert']
const tlsKey = args['tls-key']
if ((tlsCert === undefined) !== (tlsKey === undefined)) fail('--tls-cert and --tls-key go together')
if (args['tls-ca'] !== undefined && tlsCert === undefined) fail('--tls-ca needs --tls-cert and --tls-key')
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535 (got ${args.port})`)
const sessions = args.sessions === undefined ? 4 : Number(args.sessions)
if (!Number.isInteger(sessions) || sessions < 1 || sessions > 64)
  fail(`--sessions must be 1-64 (got ${args.sessions})`)

// Only the logging variables: this process must not fail over another service's configuration.
const cfg = loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL, LOG_FORMAT: process.env.LOG_FORMAT })
const log = createLogger(cfg).child({ service: 'clickhouse-local' })

let server: Awaited<ReturnType<typeof startLocalClickHouseServer>>
try {
  server = await startLocalClickHouseServer({
    dataDir,
    port,
    sessions,
    ...(args.host === undefined ? {} : { host: args.host }),
    ...(args.password === undefined ? {} : { password: args.password }),
    ...(tlsCert && tlsKey
      ? { tls: { cert: tlsCert, key: tlsKey, ...(args['tls-ca'] ? { ca: args['tls-ca'] } : {}) } }
      : {}),
    log,
  })
} catch (err) {
  log.fatal({ err, dataDir }, 'local ClickHouse failed to start')
  process.exit(1)
}
process.stdout.write(`CLICKHOUSE_URL=${server.url}\n`)
log.info({ url: server.url, dataDir }, 'local ClickHouse ready')

let stopping = false
async function shutdown(reason: string): Promise<void> {
  if (stopping) {
    // A second signal while closing: the operator wants out now.
    process.exit(1)
  }
  stopping = true
  log.info({ reason }, 'local ClickHouse stopping')
  try {
    await server.stop()
    process.exit(0)
  } catch (err) {
    log.error({ err }, 'local ClickHouse did not stop cleanly')
    process.exit(1)
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))
if (args['stop-on-stdin-close']) {
  process.stdin.on('end', () => void shutdown('stdin closed'))
  process.stdin.on('error', () => void shutdown('stdin closed'))
  process.stdin.resume()
}
