import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * The optional SASL_SSL listener of the local broker: TLS with a PEM certificate (Kafka reads PEM key
 * stores directly, no keytool step), SCRAM-SHA-256/512 users written into the metadata log when the
 * storage is formatted (`kafka-storage format --add-scram`), and PLAIN users from the listener's JAAS
 * configuration. The PLAINTEXT listener stays on loopback for the broker's own use.
 */

export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512'

export interface BrokerUser {
  username: string
  password: string
}

export interface ScramUser extends BrokerUser {
  mechanism: ScramMechanism
}

export interface SaslSslOptions {
  /** Port of the SASL_SSL listener on 127.0.0.1; 0 or undefined picks a free port. */
  port?: number
  /** PEM server certificate and its unencrypted PKCS#8 key, valid for 127.0.0.1. */
  cert: string
  key: string
  /** PEM CA that signed `cert`; client certificates are checked against it too. */
  ca: string
  /** Whether clients must present a certificate signed by `ca` (mutual TLS). Default none. */
  clientAuth?: 'none' | 'requested' | 'required'
  /** Client certificate of the readiness probe, needed when clientAuth is required. */
  probeClient?: { cert: string; key: string }
  /** Users created in the metadata log when the storage is formatted; they cannot change afterwards. */
  scramUsers?: ScramUser[]
  /** Users of the PLAIN mechanism (kept in the broker's properties file, mode 0600). */
  plainUsers?: BrokerUser[]
}

const SCRAM_ITERATIONS = 4096
const SCRAM_RECORD = 'scram-users.json'
const USERNAME = /^[A-Za-z0-9._-]+$/

export function checkSaslSslOptions(opts: SaslSslOptions): void {
  const users = [...(opts.scramUsers ?? []), ...(opts.plainUsers ?? [])]
  if (users.length === 0) throw new Error('saslSsl: give at least one SCRAM or PLAIN user')
  for (const u of users) {
    if (!USERNAME.test(u.username))
      throw new Error(`saslSsl: user name ${JSON.stringify(u.username)} may hold only letters, digits, . _ -`)
    if (u.password === '') throw new Error(`saslSsl: user ${u.username} has an empty password`)
  }
  for (const u of opts.plainUsers ?? []) {
    // The JAAS line quotes the password; these characters would end or escape the quote.
    if (/["\\\r\n]/.test(u.password))
      throw new Error(`saslSsl: the PLAIN password of ${u.username} may not contain " \\ or a line break`)
  }
  if (opts.clientAuth === 'required' && !opts.probeClient)
    throw new Error(
      'saslSsl: clientAuth "required" needs probeClient, the certificate of the readiness probe',
    )
}

export interface ListenerProperties {
  LISTENERS_EXTRA: string
  ADVERTISED_EXTRA: string
  PROTOCOLS_EXTRA: string
  SASL_SSL: string
}

export const NO_SASL_SSL: ListenerProperties = {
  LISTENERS_EXTRA: '',
  ADVERTISED_EXTRA: '',
  PROTOCOLS_EXTRA: '',
  SASL_SSL: '',
}

/**
 * The properties of the SASL_SSL listener. Writes the PEM key store (key, then certificate) next to the
 * properties file, since Kafka's PEM key store wants both in one file.
 */
export async function saslSslProperties(
  opts: SaslSslOptions,
  host: string,
  port: number,
  dataDir: string,
): Promise<ListenerProperties> {
  const keystore = join(dataDir, 'sasl-ssl-keystore.pem')
  const [key, cert] = await Promise.all([readFile(opts.key, 'utf8'), readFile(opts.cert, 'utf8')])
  await writeFile(keystore, `${key.trim()}\n${cert.trim()}\n`, { mode: 0o600 })
  await chmod(keystore, 0o600)

  const scram = [...new Set((opts.scramUsers ?? []).map((u) => u.mechanism))].sort()
  const mechanisms = [...scram, ...((opts.plainUsers?.length ?? 0) > 0 ? ['PLAIN'] : [])]
  const prefix = 'listener.name.sasl_ssl'
  const lines = [
    '',
    '# SASL_SSL listener (local-broker.ts option saslSsl): TLS from PEM files, SCRAM users in the metadata',
    '# log, PLAIN users in the JAAS line below. This file is written with mode 0600.',
    `sasl.enabled.mechanisms=${mechanisms.join(',')}`,
    `${prefix}.sasl.enabled.mechanisms=${mechanisms.join(',')}`,
    ...scram.map(
      (m) =>
        `${prefix}.${m.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    ),
    ...((opts.plainUsers?.length ?? 0) > 0
      ? [
          `${prefix}.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required ${opts
            .plainUsers!.map((u) => `user_${u.username}="${u.password}"`)
            .join(' ')};`,
        ]
      : []),
    `${prefix}.ssl.keystore.type=PEM`,
    `${prefix}.ssl.keystore.location=${keystore}`,
    `${prefix}.ssl.truststore.type=PEM`,
    `${prefix}.ssl.truststore.location=${opts.ca}`,
    `${prefix}.ssl.client.auth=${opts.clientAuth ?? 'none'}`,
    // Clients check the broker's certificate against its host name (the default since Kafka 2.0).
    `${prefix}.ssl.endpoint.identification.algorithm=https`,
  ]
  return {
    LISTENERS_EXTRA: `,SASL_SSL://${host}:${port}`,
    ADVERTISED_EXTRA: `,SASL_SSL://${host}:${port}`,
    PROTOCOLS_EXTRA: ',SASL_SSL:SASL_SSL',
    SASL_SSL: lines.join('\n'),
  }
}

interface ScramRecord {
  mechanism: ScramMechanism
  username: string
  iterations: number
  salt: string
  saltedPassword: string
}

/**
 * The `--add-scram` arguments of `kafka-storage format`. The credential is given salted (salt, iterations,
 * salted password: what Kafka would compute), so the password itself never appears on a command line.
 * The records are kept in the data dir, to recognise the same users when the broker restarts.
 */
export async function scramFormatArgs(users: ScramUser[], dataDir: string): Promise<string[]> {
  const records = users.map((u): ScramRecord => {
    const salt = randomBytes(16)
    return {
      mechanism: u.mechanism,
      username: u.username,
      iterations: SCRAM_ITERATIONS,
      salt: salt.toString('base64'),
      saltedPassword: saltedPassword(u, salt, SCRAM_ITERATIONS).toString('base64'),
    }
  })
  await writeFile(join(dataDir, SCRAM_RECORD), JSON.stringify(records), { mode: 0o600 })
  return records.flatMap((r) => [
    '--add-scram',
    `${r.mechanism}=[name=${r.username},iterations=${r.iterations},salt="${r.salt}",saltedpassword="${r.saltedPassword}"]`,
  ])
}

/** SCRAM users live in the metadata log from the format on: a restart must ask for exactly those. */
export async function checkScramUsersUnchanged(users: ScramUser[], dataDir: string): Promise<void> {
  const path = join(dataDir, SCRAM_RECORD)
  let records: ScramRecord[] = []
  try {
    records = JSON.parse(await readFile(path, 'utf8')) as ScramRecord[]
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const same =
    records.length === users.length &&
    users.every((u) => {
      const r = records.find((x) => x.mechanism === u.mechanism && x.username === u.username)
      if (!r) return false
      const expected = Buffer.from(r.saltedPassword, 'base64')
      const actual = saltedPassword(u, Buffer.from(r.salt, 'base64'), r.iterations)
      return expected.length === actual.length && timingSafeEqual(expected, actual)
    })
  if (!same) {
    throw new Error(
      `the Kafka storage in ${dataDir} was formatted with other SCRAM users; SCRAM users are set when the storage is formatted, so use a new data dir (or delete this one)`,
    )
  }
}

/** Hi(password, salt, i) of RFC 5802: PBKDF2 with the mechanism's HMAC, one block. */
function saltedPassword(user: ScramUser, salt: Buffer, iterations: number): Buffer {
  const [digest, length] = user.mechanism === 'SCRAM-SHA-256' ? ['sha256', 32] : ['sha512', 64]
  return pbkdf2Sync(Buffer.from(user.password, 'utf8'), salt, iterations, length as number, digest as string)
}
