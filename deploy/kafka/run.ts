/**
 * Runs a local single-node Kafka broker until SIGINT/SIGTERM.
 *
 *   tsx deploy/kafka/run.ts [--data-dir DIR] [--port N]
 *   tsx deploy/kafka/run.ts --resolve-only     # only download the jars (CI install step)
 *
 * Prints KAFKA_BROKERS=host:port (and KAFKA_PID) on stdout once the broker is ready;
 * progress goes to stderr.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { KAFKA_CACHE_DIR, resolveKafkaJars, startLocalKafka } from './local-broker.js'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: join(KAFKA_CACHE_DIR, 'data') },
    port: { type: 'string', default: '0' },
    'resolve-only': { type: 'boolean', default: false },
  },
  strict: true,
})

function parsePort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new Error(`--port must be 0-65535, got ${text}`)
  return port
}

function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

async function main(): Promise<number> {
  if (args['resolve-only']) {
    process.stdout.write(`KAFKA_LIBS=${await resolveKafkaJars()}\n`)
    return 0
  }
  const kafka = await startLocalKafka({ dataDir: args['data-dir'], port: parsePort(args.port) })
  process.stdout.write(`KAFKA_BROKERS=${kafka.brokers.join(',')}\nKAFKA_PID=${kafka.pid}\n`)

  const reason = await Promise.race([nextStopSignal(), kafka.exited.then(() => 'exit' as const)])
  if (reason === 'exit') {
    process.stderr.write('[kafka] broker exited on its own; see logs/server.log in the data dir\n')
    return 1
  }
  process.stderr.write(`[kafka] ${reason}: stopping broker\n`)
  await kafka.stop()
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[kafka] ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
