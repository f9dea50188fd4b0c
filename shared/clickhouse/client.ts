import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { rootCertificates } from 'node:tls'
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from '@clickhouse/client'
import type { Config } from '../config/env.js'
import { readSecret, readTlsFiles } from '../config/files.js'
import { importChdb } from './chdb.js'

export type { ClickHouseClient }

/**
 * Settings pinned on every query so the HTTP server and embedded chDB answer with the same JSON types:
 * 64-bit integers as strings (JS numbers lose precision past 2^53), DateTime in ISO-8601 UTC.
 */
export const pinnedSettings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_64bit_floats: 0,
  output_format_json_quote_decimals: 0,
  date_time_output_format: 'iso',
  date_time_input_format: 'best_effort',
}

// The client would print every failed query to stderr; callers see the error and log it themselves.
const quiet = { log: { level: ClickHouseLogLevel.OFF } }

export type ClickHouseConfig = Pick<
  Config,
  | 'CLICKHOUSE_URL'
  | 'CLICKHOUSE_USER'
  | 'CLICKHOUSE_PASSWORD'
  | 'CLICKHOUSE_PASSWORD_FILE'
  | 'CLICKHOUSE_DATABASE'
  | 'CLICKHOUSE_DATA_DIR'
  | 'CLICKHOUSE_REQUEST_TIMEOUT_MS'
  | 'CLICKHOUSE_TLS_CA_FILE'
  | 'CLICKHOUSE_TLS_CERT_FILE'
  | 'CLICKHOUSE_TLS_KEY_FILE'
>

export interface ClickHouse {
  client: ClickHouseClient
  database: string
  mode: 'server' | 'embedded'
  /** Where the data lives: the server URL or the embedded folder. */
  location: string
  close(): Promise<void>
}

interface EmbeddedEntry {
  client: ClickHouseClient
  refs: number
  ready: Promise<void>
}
// chDB binds one data folder per process; within it, each purpose gets its own session (a chDB
// connection runs one statement at a time) and callers of the same purpose share it.
const embedded = new Map<string, EmbeddedEntry>()

/**
 * What a ClickHouse handle is used for. In embedded mode each purpose is its own chDB session on the same
 * folder, so ingest, evaluation and the read API never queue behind each other's statements; a server
 * client keeps a pool of connections anyway, so there the purpose only names the client.
 */
export type ClickHousePurpose = 'default' | 'ingest' | 'evaluate' | 'read' | 'alerts'

/**
 * The one ClickHouse client factory. `CLICKHOUSE_URL` set: HTTP to that server. Unset: embedded chDB in
 * this process, same client API, same SQL. The database is created if missing.
 */
export async function createClickHouse(
  cfg: ClickHouseConfig,
  purpose: ClickHousePurpose = 'default',
): Promise<ClickHouse> {
  const database = cfg.CLICKHOUSE_DATABASE
  if (cfg.CLICKHOUSE_URL) {
    const url = new URL(cfg.CLICKHOUSE_URL)
    const connection = serverConnection(cfg)
    const admin = createClient({
      url: url.origin,
      ...connection,
      request_timeout: cfg.CLICKHOUSE_REQUEST_TIMEOUT_MS,
      clickhouse_settings: pinnedSettings,
      ...quiet,
    })
    try {
      await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
    } finally {
      await admin.close()
    }
    const client = createClient({
      url: url.origin,
      ...connection,
      database,
      request_timeout: cfg.CLICKHOUSE_REQUEST_TIMEOUT_MS,
      clickhouse_settings: pinnedSettings,
      compression: { request: false, response: true },
      ...quiet,
    })
    return { client, database, mode: 'server', location: url.origin, close: () => client.close() }
  }
  return openEmbedded(resolve(cfg.CLICKHOUSE_DATA_DIR), database, purpose)
}

/**
 * Credentials and TLS of a ClickHouse server: the password inline or from a file, and for an https:// URL a
 * CA (default: Node's public roots) and optionally a client certificate. With a client certificate
 * @clickhouse/client asks ClickHouse to authenticate the user by that certificate.
 */
function serverConnection(cfg: ClickHouseConfig) {
  const password =
    readSecret(
      cfg.CLICKHOUSE_PASSWORD || undefined,
      'CLICKHOUSE_PASSWORD_FILE',
      cfg.CLICKHOUSE_PASSWORD_FILE,
    ) ?? ''
  const files = readTlsFiles(
    { ca: 'CLICKHOUSE_TLS_CA_FILE', cert: 'CLICKHOUSE_TLS_CERT_FILE', key: 'CLICKHOUSE_TLS_KEY_FILE' },
    { ca: cfg.CLICKHOUSE_TLS_CA_FILE, cert: cfg.CLICKHOUSE_TLS_CERT_FILE, key: cfg.CLICKHOUSE_TLS_KEY_FILE },
  )
  const connection = { username: cfg.CLICKHOUSE_USER, password }
  if (files.ca === undefined && files.cert === undefined) return connection
  // The client's TLS option always takes a CA; without one given, the public roots Node trusts anyway.
  const ca_cert = files.ca ?? Buffer.from(rootCertificates.join('\n'))
  const tls = files.cert && files.key ? { ca_cert, cert: files.cert, key: files.key } : { ca_cert }
  return { ...connection, tls }
}

async function openEmbedded(path: string, database: string, purpose: ClickHousePurpose): Promise<ClickHouse> {
  const key = `${path}\u0000${database}\u0000${purpose}`
  let entry = embedded.get(key)
  if (!entry) {
    for (const [other] of embedded) {
      if (other.split('\u0000')[0] !== path) {
        throw new Error(
          `embedded ClickHouse is already open on ${other.split('\u0000')[0]} in this process; chDB binds one data folder per process (asked for ${path})`,
        )
      }
    }
    mkdirSync(path, { recursive: true })
    // Imported lazily: the native library loads only when embedded mode is actually used.
    const createChdbConnection = await importChdb()
    const client = createClient({
      // The connection hook is typed for the HTTP client's stream type; chDB implements the same interface.
      connection: createChdbConnection({ path }) as never,
      clickhouse_settings: pinnedSettings,
      ...quiet,
    } as Parameters<typeof createClient>[0])
    const created: EmbeddedEntry = {
      client,
      refs: 0,
      // chDB ignores the `database` client option; the session keeps `USE`, so select it once.
      ready: (async () => {
        await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
        await client.command({ query: `USE ${database}` })
      })(),
    }
    entry = created
    embedded.set(key, created)
  }
  const shared = entry
  shared.refs++
  await shared.ready
  let closed = false
  return {
    client: shared.client,
    database,
    mode: 'embedded',
    location: path,
    close: async () => {
      if (closed) return
      closed = true
      shared.refs--
      if (shared.refs === 0) {
        embedded.delete(key)
        await shared.client.close()
      }
    },
  }
}

/** Reads a whole result as typed rows. */
export async function queryRows<T>(
  ch: ClickHouse,
  query: string,
  params: Record<string, unknown> = {},
  settings: ClickHouseSettings = {},
): Promise<T[]> {
  const rs = await ch.client.query({
    query,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: settings,
  })
  return rs.json<T>()
}
