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
    /** ClickHouse database holding the product's tables, created if missing. Default aims. */
    CLICKHOUSE_DATABASE: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier')
      .default('aims'),
    /** Data folder of embedded ClickHouse. Default <DATA_DIR>/clickhouse. */
    CLICKHOUSE_DATA_DIR: z.string().min(1).optional(),
    /** Timeout of one ClickHouse request in milliseconds. Default 30000. */
    CLICKHOUSE_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),

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

    /** Consumer group of the collector. Default aims-collector. */
    COLLECTOR_GROUP_ID: z.string().min(1).default('aims-collector'),
    /** Most rows written to ClickHouse in one insert. Default 20000. */
    COLLECTOR_MAX_BATCH_ROWS: positiveInt.default(20_000),
    /** Largest accepted event in bytes; larger ones go to the dead-letter topic. Default 1048576. */
    COLLECTOR_MAX_EVENT_BYTES: positiveInt.default(1_048_576),
    /** Longest wait between ClickHouse retries while it is unreachable, in ms. Default 30000. */
    COLLECTOR_MAX_BACKOFF_MS: positiveInt.default(30_000),
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
    /** Interval of the sweep that re-evaluates time-driven KPIs, in ms. Default 60000. */
    SWEEP_INTERVAL_MS: positiveInt.default(60_000),
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

export type Config = z.infer<typeof envSchema> & { CLICKHOUSE_DATA_DIR: string }
export const configKeys = Object.keys(envSchema.shape) as (keyof z.infer<typeof envSchema>)[]

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
      const given = key in picked ? ` (got ${JSON.stringify(picked[key])})` : ''
      if (!byKey.has(key)) byKey.set(key, `${key}: ${i.message}${given}`)
    }
    const issues = [...byKey.values()]
    throw new ConfigError(`Invalid configuration:\n  ${issues.join('\n  ')}`, issues)
  }
  const cfg = parsed.data
  return { ...cfg, CLICKHOUSE_DATA_DIR: cfg.CLICKHOUSE_DATA_DIR ?? `${cfg.DATA_DIR}/clickhouse` }
}
