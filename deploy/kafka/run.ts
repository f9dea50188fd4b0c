/**
 * Runs a local single-node Kafka broker until SIGINT/SIGTERM.
 *
 *   tsx deploy/kafka/run.ts [--data-dir DIR] [--port N]
 *   tsx deploy/kafka/run.ts --sasl-ssl [--sasl-ssl-port N]   # plus a SASL_SSL listener (SCRAM-SHA-512)
 *   tsx deploy/kafka/run.ts --resolve-only     # only download the jars (CI install step)
 *
 * Prints KAFKA_BROKERS=host:port (and KAFKA_PID) on stdout once the broker is ready;
 * progress goes to stderr. With --sasl-ssl it prints the client variables for the SASL_SSL listener
 * instead: a development CA and server certificate (openssl) and a SCRAM-SHA-512 user `aims` with a
 * random password are made once in <data-dir>/tls and reused; the PLAINTEXT listener stays on loopback.
 */
import { randomBytes } from 'node:crypto'
import { access, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type DevCertificates, makeDevCertificates } from '../tls/dev-certs.js'
import { KAFKA_CACHE_DIR, resolveKafkaJars, type SaslSslOptions, startLocalKafka } from './local-broker.js'

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: join(KAFKA_CACHE_DIR, 'data') },
    port: { type: 'string', default: '0' },
    'sasl-ssl': { type: 'boolean', default: false },
    'sasl-ssl-port': { type: 'string', default: '0' },
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
  const secure = args['sasl-ssl'] ? await developmentSaslSsl(args['data-dir']) : undefined
  const kafka = await startLocalKafka({
    dataDir: args['data-dir'],
    port: parsePort(args.port),
    ...(secure ? { saslSsl: { ...secure.options, port: parsePort(args['sasl-ssl-port']) } } : {}),
  })
  if (secure && kafka.saslSslBrokers) {
    process.stdout.write(
      [
        `KAFKA_BROKERS=${kafka.saslSslBrokers.join(',')}`,
        'KAFKA_SSL=true',
        `KAFKA_SSL_CA_FILE=${secure.certs.ca}`,
        'KAFKA_SASL_MECHANISM=scram-sha-512',
        `KAFKA_SASL_USERNAME=${USER}`,
        `KAFKA_SASL_PASSWORD_FILE=${secure.passwordFile}`,
        `KAFKA_PID=${kafka.pid}`,
        '',
      ].join('\n'),
    )
    process.stderr.write(
      `[kafka] PLAINTEXT listener (loopback, no authentication): ${kafka.brokers.join(',')}\n`,
    )
  } else {
    process.stdout.write(`KAFKA_BROKERS=${kafka.brokers.join(',')}\nKAFKA_PID=${kafka.pid}\n`)
  }

  const reason = await Promise.race([nextStopSignal(), kafka.exited.then(() => 'exit' as const)])
  if (reason === 'exit') {
    process.stderr.write('[kafka] broker exited on its own; see logs/server.log in the data dir\n')
    return 1
  }
  process.stderr.write(`[kafka] ${reason}: stopping broker\n`)
  await kafka.stop()
  return 0
}

const USER = 'aims'

/** A development CA, server certificate and SCRAM password, made on the first --sasl-ssl run and reused. */
async function developmentSaslSsl(
  dataDir: string,
): Promise<{ options: SaslSslOptions; certs: DevCertificates; passwordFile: string }> {
  const dir = join(dataDir, 'tls')
  const passwordFile = join(dir, `${USER}.password`)
  const certs: DevCertificates = (await exists(join(dir, 'ca.crt')))
    ? {
        dir,
        ca: join(dir, 'ca.crt'),
        server: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') },
        clients: {},
      }
    : await makeDevCertificates({ dir, days: 365 })
  if (!(await exists(passwordFile))) {
    await writeFile(passwordFile, `${randomBytes(18).toString('base64url')}\n`, { mode: 0o600 })
  }
  const password = (await readFile(passwordFile, 'utf8')).trim()
  return {
    options: {
      cert: certs.server.cert,
      key: certs.server.key,
      ca: certs.ca,
      scramUsers: [{ mechanism: 'SCRAM-SHA-512', username: USER, password }],
    },
    certs,
    passwordFile,
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`[kafka] ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
