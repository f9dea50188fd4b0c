import { isIP } from 'node:net'
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls'
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
  type SASLOptions,
} from 'kafkajs'
import type { Config } from '../config/env.js'
import { readSecret, readTlsFiles } from '../config/files.js'
import { ConfigError, errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { kafkaLogCreator } from './log.js'

/** What the factory reads: the client id and the transport security variables. */
export type KafkaClientConfig = Pick<
  Config,
  | 'KAFKA_CLIENT_ID'
  | 'KAFKA_SSL'
  | 'KAFKA_SSL_CA_FILE'
  | 'KAFKA_SSL_CERT_FILE'
  | 'KAFKA_SSL_KEY_FILE'
  | 'KAFKA_SSL_SERVERNAME'
  | 'KAFKA_SSL_REJECT_UNAUTHORIZED'
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
  | 'KAFKA_SASL_PASSWORD_FILE'
>

export interface KafkaSecurity {
  ssl?: ConnectionOptions | undefined
  sasl?: SASLOptions | undefined
}

/**
 * The TLS and SASL options of every Kafka client, from the configuration. Certificates, keys and the
 * password file are read and checked here, so a wrong one stops start-up naming its variable.
 */
export function kafkaSecurity(cfg: KafkaClientConfig): KafkaSecurity {
  const security: KafkaSecurity = {}
  if (cfg.KAFKA_SSL) {
    const files = readTlsFiles(
      { ca: 'KAFKA_SSL_CA_FILE', cert: 'KAFKA_SSL_CERT_FILE', key: 'KAFKA_SSL_KEY_FILE' },
      { ca: cfg.KAFKA_SSL_CA_FILE, cert: cfg.KAFKA_SSL_CERT_FILE, key: cfg.KAFKA_SSL_KEY_FILE },
    )
    security.ssl = {
      ...files,
      rejectUnauthorized: cfg.KAFKA_SSL_REJECT_UNAUTHORIZED,
      ...(cfg.KAFKA_SSL_SERVERNAME ? { servername: cfg.KAFKA_SSL_SERVERNAME } : {}),
    }
  }
  const mechanism = cfg.KAFKA_SASL_MECHANISM
  if (mechanism) {
    const password = readSecret(
      cfg.KAFKA_SASL_PASSWORD,
      'KAFKA_SASL_PASSWORD_FILE',
      cfg.KAFKA_SASL_PASSWORD_FILE,
    )
    // loadConfig has refused a mechanism without a user name or a password.
    if (cfg.KAFKA_SASL_USERNAME === undefined || password === undefined)
      throw new ConfigError(`KAFKA_SASL_MECHANISM=${mechanism} needs a user name and a password`)
    security.sasl = { mechanism, username: cfg.KAFKA_SASL_USERNAME, password } as SASLOptions
  }
  return security
}

/**
 * The one Kafka client factory: client id, TLS and SASL from the configuration. kafkajs's own logs go
 * through pino (see kafkaLogCreator): one level down, and retried "cluster is settling" answers at debug;
 * real failures reach the caller as exceptions and are logged there.
 *
 * `connect()` of an admin, producer or consumer fails at once, naming the user or the broker, when the
 * brokers refuse the credentials or the TLS handshake: neither gets better by retrying, and kafkajs reports
 * a refused certificate only as a generic connection error after a minute of retries.
 */
export function createKafka(
  cfg: KafkaClientConfig,
  brokers: string[],
  log: Logger,
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  const security = kafkaSecurity(cfg)
  if (security.ssl?.rejectUnauthorized === false)
    log.warn("KAFKA_SSL_REJECT_UNAUTHORIZED=false: the brokers' certificates are not checked")
  const config: KafkaConfig = {
    clientId: cfg.KAFKA_CLIENT_ID,
    brokers,
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    ...(security.ssl ? { ssl: security.ssl } : {}),
    ...(security.sasl ? { sasl: security.sasl } : {}),
    logCreator: kafkaLogCreator(log),
    ...overrides,
  }
  return new CheckedKafka(config, {
    brokers,
    ssl: security.ssl,
    username: cfg.KAFKA_SASL_USERNAME,
    mechanism: cfg.KAFKA_SASL_MECHANISM,
  })
}

/** The brokers refused this client for good: credentials or certificates. Retrying cannot help. */
export class KafkaAccessError extends ConfigError {}

interface AccessContext {
  brokers: string[]
  ssl: ConnectionOptions | undefined
  username: string | undefined
  mechanism: string | undefined
}

class CheckedKafka extends Kafka {
  readonly #access: AccessContext
  #tlsChecked = false

  constructor(config: KafkaConfig, access: AccessContext) {
    super(config)
    this.#access = access
  }

  override admin(...args: Parameters<Kafka['admin']>): Admin {
    return this.#checked(super.admin(...args))
  }

  override producer(...args: Parameters<Kafka['producer']>): Producer {
    return this.#checked(super.producer(...args))
  }

  override consumer(...args: Parameters<Kafka['consumer']>): Consumer {
    return this.#checked(super.consumer(...args))
  }

  #checked<T extends { connect(): Promise<void> }>(client: T): T {
    const connect = client.connect.bind(client)
    client.connect = async () => {
      await this.#checkTls()
      try {
        await connect()
      } catch (err) {
        throw saslFailure(err, this.#access) ?? err
      }
    }
    return client
  }

  /** Once per client: one TLS handshake and request to the first broker, before kafkajs's retries. */
  async #checkTls(): Promise<void> {
    const { ssl, brokers } = this.#access
    if (!ssl || this.#tlsChecked || brokers.length === 0) return
    const outcome = await tlsProbe(brokers[0]!, ssl)
    if (outcome.kind === 'refused') {
      throw new KafkaAccessError(
        `Kafka: TLS with broker ${brokers[0]} failed: ${outcome.reason}; check KAFKA_SSL_CA_FILE, KAFKA_SSL_SERVERNAME, KAFKA_SSL_CERT_FILE/KAFKA_SSL_KEY_FILE and that the listener speaks TLS`,
        ['KAFKA_SSL: TLS handshake refused'],
      )
    }
    // Unreachable is not a TLS verdict: kafkajs's own retries deal with a broker that is not up yet.
    if (outcome.kind === 'ok') this.#tlsChecked = true
  }
}

/**
 * A clear message for refused credentials. kafkajs raises them as a non-retriable SASL error without the
 * user's name; the password never appears, the user name and the broker do.
 */
export function saslFailure(err: unknown, access: Pick<AccessContext, 'brokers' | 'username' | 'mechanism'>) {
  const name = err instanceof Error ? err.name : ''
  if (name !== 'KafkaJSSASLAuthenticationError' && !/SASL_AUTHENTICATION_FAILED/.test(errorMessage(err)))
    return undefined
  const e = err as { broker?: unknown }
  const broker = typeof e.broker === 'string' ? e.broker : access.brokers.join(',')
  // The broker's reason (bad credentials, mechanism not enabled) never carries the password.
  const reason = errorMessage(err).replace(/^SASL [\w ]+ authentication failed: /, '')
  return new KafkaAccessError(
    `Kafka: SASL authentication failed for user "${access.username ?? ''}" at broker ${broker} (${(access.mechanism ?? 'SASL').toUpperCase()}): ${reason}; check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD / KAFKA_SASL_PASSWORD_FILE`,
    ['KAFKA_SASL_PASSWORD: refused by the broker'],
  )
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
])
const CLOSED_IN_HANDSHAKE =
  'the listener closed the connection during the TLS handshake (is it a TLS listener?)'
const CLOSED_AFTER_HANDSHAKE =
  'the broker closed the connection after the handshake (is a client certificate required?)'
const refused = (reason: string): TlsProbeOutcome => ({ kind: 'refused', reason })

type TlsProbeOutcome = { kind: 'ok' } | { kind: 'refused'; reason: string } | { kind: 'unreachable' }

const TLS_PROBE_TIMEOUT_MS = 10_000
// ApiVersions v0 with correlation id 1 and an empty client id: every Kafka broker answers it before SASL.
const API_VERSIONS_V0 = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0])

/**
 * Opens a TLS connection as kafkajs would and sends one ApiVersions request. An answer proves the handshake
 * in both directions (with TLS 1.3 a server rejects a missing client certificate only after the client
 * has finished its side); a certificate or protocol error is a verdict; a refused or timed-out TCP
 * connection is not.
 */
export function tlsProbe(broker: string, ssl: ConnectionOptions): Promise<TlsProbeOutcome> {
  const at = broker.lastIndexOf(':')
  const host = broker.slice(0, at).replace(/^\[|\]$/g, '')
  const port = Number(broker.slice(at + 1))
  return new Promise((resolve) => {
    let connected = false
    let handshaken = false
    const socket = tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl })
    const done = (outcome: TlsProbeOutcome) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(outcome)
    }
    const timer = setTimeout(() => done({ kind: 'unreachable' }), TLS_PROBE_TIMEOUT_MS)
    socket.once('connect', () => {
      connected = true
    })
    socket.once('secureConnect', () => {
      handshaken = true
      socket.write(API_VERSIONS_V0)
    })
    socket.once('data', () => done({ kind: 'ok' }))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected && !handshaken && err.code === 'ECONNRESET') done(refused(CLOSED_IN_HANDSHAKE))
      else if (connected || handshaken || !NETWORK_ERRORS.has(err.code ?? ''))
        done(refused(tlsReason(err.message)))
      else done({ kind: 'unreachable' })
    })
    socket.once('close', () => {
      if (handshaken) done(refused(CLOSED_AFTER_HANDSHAKE))
      else if (connected) done(refused(CLOSED_IN_HANDSHAKE))
      else done({ kind: 'unreachable' })
    })
  })
}

/** OpenSSL's messages carry a source path and codes; keep the reason and the alert number. */
function tlsReason(message: string): string {
  const reason = /SSL routines:[^:]*:([^:\n]+)/.exec(message)?.[1]
  if (!reason) return message.trim()
  const alert = /SSL alert number (\d+)/.exec(message)?.[1]
  return alert ? `${reason} (TLS alert ${alert})` : reason
}
