import { z } from 'zod'
import { ConfigError } from '../errors.js'

/**
 * The one configuration of every service, read from environment variables.
 * Each field's doc comment is the user documentation; `.env.example` lists them all
 * (a unit test keeps the two in step). Unset or empty means the default.
 */

const hostPort = z
  .string()
  .trim()
  .refine((s) => {
    const m = /^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s)
    return m !== null && Number(m[1]) > 0 && Number(m[1]) < 65536
  }, 'each broker must be host:port with a port of 1-65535')

const brokerList = z
  .string()
  .transform((s) => s.split(',').map((b) => b.trim()))
  .pipe(z.array(hostPort).min(1, 'must name at least one broker'))

const positiveInt = z.coerce.number().int('must be an integer').positive('must be > 0')
const nonNegativeInt = z.coerce.number().int('must be an integer').min(0, 'must be >= 0')
const port = z.coerce.number().int().min(0, 'must be 0-65535').max(65535, 'must be 0-65535')

const filePath = z.string().trim().min(1)

/**
 * Shortest accepted value of a secret that may also come from a file (`<NAME>_FILE`): the schema checks
 * the inline form, the reader of the file (shared/config/files.ts `readSecret`) the same rule.
 */
export const SECRET_MIN_LENGTH = { METRICS_TOKEN: 24, HTTP_SESSION_SECRET: 32 } as const

const boolFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes')

export const envSchema = z
  .object({
    /** Log level: fatal, error, warn, info, debug, trace. Default info. */
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * Log format: json; pretty (pino-pretty, multi-line); or auto: on a terminal one line per entry cut to
     * its width (the run command keeps the full log in <DATA_DIR>/logs/aims.log), JSON otherwise. Default auto.
     */
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    /** Address the HTTP server (metrics, health, read API, review page) binds to. Default 127.0.0.1. */
    HTTP_HOST: z.string().min(1).default('127.0.0.1'),
    /** Port of the HTTP server; 0 picks a free port. Default 8080. */
    HTTP_PORT: port.default(8080),
    /** Base URL that alerts link to (read API, review page). Default http://127.0.0.1:8080. */
    PUBLIC_BASE_URL: z.url({ message: 'must be a URL' }).default('http://127.0.0.1:8080'),
    /**
     * API tokens file: one `name roles sha256` line per token (`npm run token` makes one). Unset, with no
     * OIDC either: on a loopback HTTP_HOST the API serving process makes one admin token under DATA_DIR;
     * on any other address start-up stops. See README "Security".
     */
    HTTP_TOKENS_FILE: z.string().min(1).optional(),
    /** Bearer token that may read /metrics (a Prometheus scraper), at least 24 characters. Unset: admins only. */
    METRICS_TOKEN: z
      .string()
      .min(SECRET_MIN_LENGTH.METRICS_TOKEN, `must be at least ${SECRET_MIN_LENGTH.METRICS_TOKEN} characters`)
      .optional(),
    /** File holding METRICS_TOKEN (a mounted secret; one trailing newline ignored), instead of METRICS_TOKEN. */
    METRICS_TOKEN_FILE: filePath.optional(),
    /** Key signing the review page's session cookies (≥ 32 characters; replicas share it). Unset: random per process. */
    HTTP_SESSION_SECRET: z
      .string()
      .min(
        SECRET_MIN_LENGTH.HTTP_SESSION_SECRET,
        `must be at least ${SECRET_MIN_LENGTH.HTTP_SESSION_SECRET} characters`,
      )
      .optional(),
    /** File holding HTTP_SESSION_SECRET (a mounted secret; one trailing newline ignored), instead of HTTP_SESSION_SECRET. */
    HTTP_SESSION_SECRET_FILE: filePath.optional(),
    /** Lifetime of a review-page session in seconds (never beyond the JWT it came from). Default 28800 (8 h). */
    HTTP_SESSION_TTL_S: positiveInt.max(7 * 86_400, 'must be at most 604800 (7 days)').default(28_800),
    /** OIDC issuer whose bearer JWTs are accepted (the token's `iss` must equal it). Unset: no OIDC. */
    OIDC_ISSUER: z.string().min(1).optional(),
    /** Audience the JWTs must be issued for (`aud`); required with OIDC_ISSUER. */
    OIDC_AUDIENCE: z.string().min(1).optional(),
    /** The issuer's JWKS URL (https, or http on loopback); required with OIDC_ISSUER. */
    OIDC_JWKS_URL: z.url({ message: 'must be a URL' }).optional(),
    /** Claim holding the caller's roles or groups, a dotted path for nested claims (realm_access.roles). Default roles. */
    OIDC_ROLES_CLAIM: z
      .string()
      .regex(/^[A-Za-z0-9_:/.-]+$/, 'must be a claim name or dotted path')
      .default('roles'),
    /**
     * Maps claim values to roles, `value=role[,role];value=role`, e.g. `aims-admins=admin;ml-team=ml`.
     * Unset: claim values that are role names are the roles.
     */
    OIDC_ROLE_MAP: z.string().min(1).optional(),
    /** JWT signature algorithms accepted, comma-separated, asymmetric only. Default RS256,ES256. */
    OIDC_ALGORITHMS: z
      .string()
      .transform((s) => s.split(',').map((a) => a.trim()))
      .pipe(
        z
          .array(
            z.enum(
              ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
              {
                message: 'each must be one of RS256..512, PS256..512, ES256..512, EdDSA',
              },
            ),
          )
          .min(1),
      )
      .default(['RS256', 'ES256']),
    /** Clock skew tolerated on JWT exp/nbf/iat, in seconds. Default 30. */
    OIDC_CLOCK_TOLERANCE_S: nonNegativeInt.max(300, 'must be at most 300').default(30),
    /** Largest request body in bytes (413 beyond). Default 16384. */
    HTTP_BODY_LIMIT_BYTES: positiveInt.default(16_384),
    /** Longest request target (path + query) in bytes (414 beyond). Default 4096. */
    HTTP_MAX_URL_BYTES: positiveInt.default(4_096),
    /** Largest request line + headers in bytes (431 beyond). Default 16384. */
    HTTP_MAX_HEADER_BYTES: positiveInt.default(16_384),
    /** Time a client has to send its request headers, in ms (408 and closed beyond). Default 10000. */
    HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
    /** Time a client has to send its whole request, in ms. Default 30000. */
    HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
    /** Idle keep-alive connections are closed after this many ms. Default 5000. */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
    /** Open connections per process; more are refused. Default 512. */
    HTTP_MAX_CONNECTIONS: positiveInt.default(512),
    /** Requests in progress per process (probes excepted); more get 503 with Retry-After. Default 64. */
    HTTP_MAX_CONCURRENT_REQUESTS: positiveInt.default(64),
    /** Per-client (peer address) rate: tokens added per second to its bucket (429 when empty). Default 20. */
    HTTP_RATE_LIMIT_PER_S: positiveInt.default(20),
    /** Per-client bucket size: the burst a client may send at once. Default 200. */
    HTTP_RATE_LIMIT_BURST: positiveInt.default(200),
    /** Raw payload bytes per dead letter shown to admins by /api/dead-letters (the rest is cut). Default 2048. */
    HTTP_DEAD_LETTER_PAYLOAD_BYTES: positiveInt.max(65_536, 'must be at most 65536').default(2_048),
    /** Folder for local state: embedded ClickHouse, the local Kafka broker. Default ./data. */
    DATA_DIR: z.string().min(1).default('./data'),

    /** Kafka bootstrap brokers, comma-separated host:port. Unset: the run command starts a local broker. */
    KAFKA_BROKERS: brokerList.optional(),
    /** Port of the local Kafka broker started when KAFKA_BROKERS is unset; 0 picks a free port. Default 9092. */
    KAFKA_LOCAL_PORT: port.default(9092),
    /** Kafka client id prefix. Default aims. */
    KAFKA_CLIENT_ID: z.string().min(1).default('aims'),
    /** Prefix put before every topic name (shared clusters, test isolation). Default empty. */
    KAFKA_TOPIC_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, . _ -')
      .default(''),
    /** Partitions of each topic created at start-up (collectors scale up to this). Default 3. */
    KAFKA_TOPIC_PARTITIONS: positiveInt.default(3),
    /** Replication factor of topics created at start-up. Default 1. */
    KAFKA_REPLICATION_FACTOR: positiveInt.default(1),
    /**
     * Connect to the brokers over TLS. Default false. Needed for any of the KAFKA_SSL_* files below and for
     * SASL PLAIN, which would otherwise send the password in clear text.
     */
    KAFKA_SSL: boolFlag.default(false),
    /** PEM file of the CA(s) that signed the brokers' certificates. Unset: Node's public root CAs. */
    KAFKA_SSL_CA_FILE: filePath.optional(),
    /** PEM client certificate for mutual TLS (with KAFKA_SSL_KEY_FILE). Unset: no client certificate. */
    KAFKA_SSL_CERT_FILE: filePath.optional(),
    /** PEM private key of KAFKA_SSL_CERT_FILE (unencrypted; mount it from a secret). */
    KAFKA_SSL_KEY_FILE: filePath.optional(),
    /** Host name checked against the brokers' certificates instead of the address dialled (SNI too). */
    KAFKA_SSL_SERVERNAME: z.string().trim().min(1).optional(),
    /** Check the brokers' certificates. Default true; false is for throwaway test clusters only. */
    KAFKA_SSL_REJECT_UNAUTHORIZED: boolFlag.default(true),
    /** SASL mechanism: scram-sha-256, scram-sha-512 or plain (plain needs KAFKA_SSL=true). Unset: no SASL. */
    KAFKA_SASL_MECHANISM: z
      .string()
      .trim()
      .toLowerCase()
      .pipe(
        z.enum(['scram-sha-256', 'scram-sha-512', 'plain'], {
          message: 'must be scram-sha-256, scram-sha-512 or plain',
        }),
      )
      .optional(),
    /** SASL user name (with KAFKA_SASL_MECHANISM). */
    KAFKA_SASL_USERNAME: z.string().min(1).optional(),
    /** SASL password. Prefer KAFKA_SASL_PASSWORD_FILE, which keeps it out of the environment. */
    KAFKA_SASL_PASSWORD: z.string().optional(),
    /** File holding the SASL password (a mounted secret); one trailing newline is ignored. */
    KAFKA_SASL_PASSWORD_FILE: filePath.optional(),
    /**
     * How long start-up waits for a broker of KAFKA_BROKERS to accept a connection before it stops,
     * naming the addresses, in ms. Default 8000.
     */
    KAFKA_STARTUP_TIMEOUT_MS: positiveInt.default(8_000),

    /** ClickHouse HTTP URL, e.g. http://clickhouse:8123. Unset: embedded ClickHouse (chDB) under CLICKHOUSE_DATA_DIR. */
    CLICKHOUSE_URL: z.url({ message: 'must be a URL' }).optional(),
    /** ClickHouse user (server mode). Default default. */
    CLICKHOUSE_USER: z.string().min(1).default('default'),
    /** ClickHouse password (server mode). Default empty. */
    CLICKHOUSE_PASSWORD: z.string().default(''),
    /** File holding the ClickHouse password (a mounted secret), instead of CLICKHOUSE_PASSWORD. */
    CLICKHOUSE_PASSWORD_FILE: filePath.optional(),
    /** ClickHouse database holding the product's tables, created if missing. Default aims. */
    CLICKHOUSE_DATABASE: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier')
      .default('aims'),
    /** Data folder of embedded ClickHouse. Default <DATA_DIR>/clickhouse. */
    CLICKHOUSE_DATA_DIR: z.string().min(1).optional(),
    /** Timeout of one ClickHouse request in milliseconds. Default 30000. */
    CLICKHOUSE_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
    /** PEM file of the CA that signed the ClickHouse server's certificate (https:// URL). Unset: public root CAs. */
    CLICKHOUSE_TLS_CA_FILE: filePath.optional(),
    /**
     * PEM client certificate for mutual TLS (with CLICKHOUSE_TLS_KEY_FILE). ClickHouse then authenticates the
     * user by this certificate (a user with <ssl_certificates>), not by password.
     */
    CLICKHOUSE_TLS_CERT_FILE: filePath.optional(),
    /** PEM private key of CLICKHOUSE_TLS_CERT_FILE. */
    CLICKHOUSE_TLS_KEY_FILE: filePath.optional(),

    /** Redis URL for the BullMQ queues. Default redis://127.0.0.1:6379. */
    REDIS_URL: z
      .url({ message: 'must be a redis:// or rediss:// URL' })
      .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// or rediss:// URL')
      .default('redis://127.0.0.1:6379'),
    /** Key prefix of every queue in Redis (isolates deployments sharing a server). Default aims. */
    REDIS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_-]+$/, 'may hold only letters, digits, : _ -')
      .default('aims'),
    /** Redis ACL user name (Redis 6+). Unset: the user in REDIS_URL, or `default`. */
    REDIS_USERNAME: z.string().min(1).optional(),
    /** Redis password (requirepass or the ACL user's). Prefer REDIS_PASSWORD_FILE. Unset: the one in REDIS_URL, if any. */
    REDIS_PASSWORD: z.string().optional(),
    /** File holding the Redis password (a mounted secret); one trailing newline is ignored. */
    REDIS_PASSWORD_FILE: filePath.optional(),
    /** PEM file of the CA that signed the Redis server's certificate (rediss:// URL). Unset: public root CAs. */
    REDIS_TLS_CA_FILE: filePath.optional(),
    /** PEM client certificate for mutual TLS (with REDIS_TLS_KEY_FILE; Redis tls-auth-clients). */
    REDIS_TLS_CERT_FILE: filePath.optional(),
    /** PEM private key of REDIS_TLS_CERT_FILE. */
    REDIS_TLS_KEY_FILE: filePath.optional(),

    /** Consumer group of the collector. Default aims-collector. */
    COLLECTOR_GROUP_ID: z.string().min(1).default('aims-collector'),
    /** Most rows written to ClickHouse in one insert. Default 20000. */
    COLLECTOR_MAX_BATCH_ROWS: positiveInt.default(20_000),
    /** Largest accepted event in bytes; larger ones go to the dead-letter topic. Default 1048576. */
    COLLECTOR_MAX_EVENT_BYTES: positiveInt.default(1_048_576),
    /** Longest wait between ClickHouse retries while it is unreachable, in ms. Default 30000. */
    COLLECTOR_MAX_BACKOFF_MS: positiveInt.default(30_000),
    /**
     * Largest record batch the dead-letter topic accepts, in bytes; every dead-letter copy (headers
     * included) is cut to fit it. Unset: read from the broker at start-up (the topic's max.message.bytes),
     * 1048588 (Kafka's default) if the broker cannot be asked.
     */
    COLLECTOR_DEAD_LETTER_MAX_MESSAGE_BYTES: z.coerce
      .number()
      .int('must be an integer')
      .min(4096, 'must be at least 4096 (a dead letter carries a reason and other headers)')
      .optional(),
    /** Most bytes of a rejected value kept in the dead_letters table; beyond it the value is cut (length and sha256 kept). Default 4194304. */
    COLLECTOR_DEAD_LETTER_STORE_MAX_BYTES: positiveInt.default(4_194_304),
    /** Days dead-letter payloads (value and headers) stay in ClickHouse; the row (reason, length, sha256) stays. 0 keeps them. Default 30. */
    COLLECTOR_DEAD_LETTER_TTL_DAYS: nonNegativeInt.default(30),
    /** Attempts at writing a rejected message's topic copy or row that fail because of the message, before it is recorded and skipped. Default 5. */
    COLLECTOR_DEAD_LETTER_ATTEMPTS: positiveInt.default(5),
    /** A partition with lag whose committed offset has not moved for this long (ms) is stuck: /readyz says degraded. Default 60000. */
    COLLECTOR_STUCK_AFTER_MS: positiveInt.default(60_000),
    /**
     * Topic of OCSF findings (Incident Finding 2005, Data Security Finding 2006 about personal data),
     * read as privacy incidents (docs/ocsf-mapping.md); KAFKA_TOPIC_PREFIX applies. Unset: no OCSF input.
     */
    COLLECTOR_OCSF_TOPIC: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be a Kafka topic name (letters, digits, . _ -)')
      .optional(),

    /** Consumer group of the processor. Default aims-processor. */
    PROCESSOR_GROUP_ID: z.string().min(1).default('aims-processor'),
    /**
     * Interval of the processor's sweep, in ms: heartbeat values of aggregate KPIs, re-delivery of
     * recorded transitions whose writes failed. Deadlines do not wait for it (they fire from the timer
     * index within a tick). Default 60000.
     */
    SWEEP_INTERVAL_MS: positiveInt.default(60_000),
    /**
     * How long a silent processor replica keeps its trigger partitions (and the series they carry) before
     * the group hands them to another, in ms: the failover time after a crash. At least 6000 (the
     * broker's minimum). Default 30000.
     */
    PROCESSOR_SESSION_TIMEOUT_MS: z.coerce
      .number()
      .int('must be an integer')
      .min(6000, 'must be >= 6000 (the broker rejects shorter sessions)')
      .default(30_000),
    /** Thresholds, routing and sinks (YAML or JSON). Unset: catalog defaults, console sink only. */
    AIMS_CONFIG_FILE: z.string().min(1).optional(),

    /** Alert deliveries in flight per alerter process. Default 8. */
    ALERTER_CONCURRENCY: positiveInt.default(8),
    /** Delivery attempts per alert and sink before it stays failed. Default 8. */
    ALERTER_MAX_ATTEMPTS: positiveInt.default(8),

    /** Start the demo feed in the all-in-one run command. Default true. */
    DEMO: boolFlag.default(true),
    /** Seconds between the terminal summary lines of the run command; 0 turns them off. Default 5. */
    SUMMARY_INTERVAL_S: nonNegativeInt.default(5),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.OIDC_ISSUER === undefined) return
    for (const key of ['OIDC_AUDIENCE', 'OIDC_JWKS_URL'] as const) {
      if (cfg[key] === undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: 'required with OIDC_ISSUER' })
    }
    const jwks = cfg.OIDC_JWKS_URL ? new URL(cfg.OIDC_JWKS_URL) : undefined
    if (jwks && jwks.protocol !== 'https:' && !(jwks.protocol === 'http:' && isLoopbackHost(jwks.hostname))) {
      ctx.addIssue({
        code: 'custom',
        path: ['OIDC_JWKS_URL'],
        message: 'must be https (http only on loopback)',
      })
    }
  })

export type Config = z.infer<typeof envSchema> & { CLICKHOUSE_DATA_DIR: string }
export const configKeys = Object.keys(envSchema.shape) as (keyof z.infer<typeof envSchema>)[]

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return (
    h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1'
  )
}

/** Variables whose values are secrets (passwords, tokens, signing keys). */
const SECRET_KEY = /(PASSWORD|SECRET|TOKEN)$/

/**
 * Reads the configuration from `env`. Only the variables this schema knows are read, so the rest of the
 * environment cannot trip validation; a wrong value throws a ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const picked: Record<string, string> = {}
  for (const key of configKeys) {
    const value = env[key]
    if (value !== undefined && value.trim() !== '') picked[key] = value
  }
  const parsed = envSchema.safeParse(picked)
  if (!parsed.success) {
    // One line per variable: the first problem found is the one to fix.
    const byKey = new Map<string, string>()
    for (const i of parsed.error.issues) {
      const key = String(i.path[0] ?? '(environment)')
      // Secrets are never echoed: the message goes to logs and terminals.
      const given = key in picked ? ` (got ${shown(key, picked[key]!)})` : ''
      if (!byKey.has(key)) byKey.set(key, `${key}: ${i.message}${given}`)
    }
    const issues = [...byKey.values()]
    throw new ConfigError(`Invalid configuration:\n  ${issues.join('\n  ')}`, issues)
  }
  const cfg = parsed.data
  const issues = [...authIssues(cfg), ...transportIssues(cfg)]
  if (issues.length > 0) throw new ConfigError(`Invalid configuration:\n  ${issues.join('\n  ')}`, issues)
  return { ...cfg, CLICKHOUSE_DATA_DIR: cfg.CLICKHOUSE_DATA_DIR ?? `${cfg.DATA_DIR}/clickhouse` }
}

/** A rejected value as the error message may show it: never a password, never a URL's credentials. */
function shown(key: string, value: string): string {
  if (SECRET_KEY.test(key)) return 'a value, not shown'
  return JSON.stringify(value.replace(/\/\/[^/@]*@/, '//***@'))
}

type Parsed = z.infer<typeof envSchema>

/** A secret given both inline and as a file: which one is meant is unclear, so neither is taken. */
function bothGiven(cfg: Parsed, value: keyof Parsed, file: keyof Parsed): string | undefined {
  return cfg[value] !== undefined && cfg[value] !== '' && cfg[file] !== undefined
    ? `${file}: set ${value} or ${file}, not both`
    : undefined
}

/** The HTTP authentication secrets: each inline or from a file, not both (the files are read by authFromConfig). */
function authIssues(cfg: Parsed): string[] {
  return [
    bothGiven(cfg, 'METRICS_TOKEN', 'METRICS_TOKEN_FILE'),
    bothGiven(cfg, 'HTTP_SESSION_SECRET', 'HTTP_SESSION_SECRET_FILE'),
  ].filter((i) => i !== undefined)
}

/**
 * Combinations of the TLS and SASL variables that cannot work, each as `VARIABLE: what to do`. Files are
 * read (and their certificates checked) by the factories, which name the variable when one is unreadable.
 */
function transportIssues(cfg: Parsed): string[] {
  const issues: string[] = []
  const pair = (cert: keyof Parsed, key: keyof Parsed) => {
    if (cfg[cert] !== undefined && cfg[key] === undefined)
      issues.push(`${cert}: needs ${key}, the private key of the client certificate`)
    if (cfg[key] !== undefined && cfg[cert] === undefined)
      issues.push(`${key}: needs ${cert}, the client certificate of this key`)
  }
  const oneOf = (value: keyof Parsed, file: keyof Parsed) => {
    const issue = bothGiven(cfg, value, file)
    if (issue) issues.push(issue)
  }

  // Kafka
  if (!cfg.KAFKA_SSL) {
    for (const key of [
      'KAFKA_SSL_CA_FILE',
      'KAFKA_SSL_CERT_FILE',
      'KAFKA_SSL_KEY_FILE',
      'KAFKA_SSL_SERVERNAME',
    ] as const) {
      if (cfg[key] !== undefined) issues.push(`${key}: only used with KAFKA_SSL=true`)
    }
  }
  pair('KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE')
  oneOf('KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE')
  const mechanism = cfg.KAFKA_SASL_MECHANISM
  if (mechanism) {
    if (cfg.KAFKA_SASL_USERNAME === undefined)
      issues.push(`KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=${mechanism}`)
    if (cfg.KAFKA_SASL_PASSWORD === undefined && cfg.KAFKA_SASL_PASSWORD_FILE === undefined)
      issues.push(
        `KAFKA_SASL_PASSWORD_FILE: required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD)`,
      )
    if (mechanism === 'plain' && !cfg.KAFKA_SSL)
      issues.push('KAFKA_SASL_MECHANISM: plain sends the password in clear text; set KAFKA_SSL=true')
  } else {
    for (const key of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const) {
      if (cfg[key] !== undefined)
        issues.push(`${key}: needs KAFKA_SASL_MECHANISM (scram-sha-256, scram-sha-512 or plain)`)
    }
  }

  // ClickHouse
  oneOf('CLICKHOUSE_PASSWORD', 'CLICKHOUSE_PASSWORD_FILE')
  pair('CLICKHOUSE_TLS_CERT_FILE', 'CLICKHOUSE_TLS_KEY_FILE')
  if (!cfg.CLICKHOUSE_URL?.startsWith('https://')) {
    for (const key of [
      'CLICKHOUSE_TLS_CA_FILE',
      'CLICKHOUSE_TLS_CERT_FILE',
      'CLICKHOUSE_TLS_KEY_FILE',
    ] as const) {
      if (cfg[key] !== undefined) issues.push(`${key}: needs an https:// CLICKHOUSE_URL`)
    }
  }
  if (cfg.CLICKHOUSE_URL === undefined && cfg.CLICKHOUSE_PASSWORD_FILE !== undefined)
    issues.push('CLICKHOUSE_PASSWORD_FILE: only used with CLICKHOUSE_URL (embedded ClickHouse has no users)')

  // Redis
  oneOf('REDIS_PASSWORD', 'REDIS_PASSWORD_FILE')
  pair('REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE')
  if (!cfg.REDIS_URL.startsWith('rediss://')) {
    for (const key of ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'] as const) {
      if (cfg[key] !== undefined) issues.push(`${key}: needs a rediss:// REDIS_URL`)
    }
  }
  return issues
}
