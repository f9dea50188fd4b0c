import { parseArgs } from 'node:util'
import { envSchema } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import type { Seed } from './generator.js'

export const DEMO_USAGE = `Usage: npm run demo -- [--rate N] [--duration 60s] [--brokers host:port] [--seed 42] [--months 4] [--no-history]

Produces the seeded demo story (privacy incidents, model evaluations, audit findings) to the AIMS topics:
first the history of the last months as fast as the broker takes it, then live events at a steady rate.

  --rate N          Live events per second; 0 produces the history only. Default 20.
  --duration D      How long the live phase runs: 90s, 5m, 1h, 1500ms. Default: until Ctrl-C.
  --brokers LIST    Kafka bootstrap brokers. Default: KAFKA_BROKERS, else 127.0.0.1:KAFKA_LOCAL_PORT.
  --seed S          Seed of the story; same seed and start time, same events. Default 42.
  --months N        Months of history, 1-36. Default 4.
  --no-history      Skip the history; live events only.
  --help            Show this text.

Environment: KAFKA_TOPIC_PREFIX, KAFKA_CLIENT_ID, KAFKA_TOPIC_PARTITIONS, LOG_LEVEL.
Exit status: 0 done (or stopped with Ctrl-C); 2 usage or configuration error; 3 Kafka error.`

export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface DemoArgs {
  rate: number
  durationMs: number | undefined
  brokers: string[] | undefined
  seed: Seed
  months: number
  history: boolean
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** "60s", "5m", "1h", "1500ms", "1.5m"; a bare number is seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!m)
    throw new UsageError(`--duration: ${JSON.stringify(text)} is not a duration (examples: 90s, 5m, 1h)`)
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's']!
  if (!Number.isFinite(ms) || ms <= 0) throw new UsageError('--duration: must be greater than 0')
  return Math.round(ms)
}

const optionSpec = {
  rate: { type: 'string' },
  duration: { type: 'string' },
  brokers: { type: 'string' },
  seed: { type: 'string' },
  months: { type: 'string' },
  'no-history': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

export function parseDemoArgs(argv: string[]): DemoArgs | 'help' {
  let values: ReturnType<typeof parse>['values']
  try {
    values = parse(argv).values
  } catch (err) {
    throw new UsageError(errorMessage(err))
  }
  if (values.help) return 'help'

  let rate = 20
  if (values.rate !== undefined) {
    rate = Number(values.rate)
    if (values.rate.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1_000_000) {
      throw new UsageError(
        `--rate: ${JSON.stringify(values.rate)} is not a number of events per second (0-1000000)`,
      )
    }
  }
  let months = 4
  if (values.months !== undefined) {
    months = Number(values.months)
    if (!Number.isInteger(months) || months < 1 || months > 36) {
      throw new UsageError(`--months: ${JSON.stringify(values.months)} is not a whole number from 1 to 36`)
    }
  }
  let seed: Seed = 42
  if (values.seed !== undefined) {
    const s = values.seed.trim()
    if (s === '') throw new UsageError('--seed: must not be empty')
    seed = /^-?\d{1,15}$/.test(s) ? Number(s) : s
  }
  let brokers: string[] | undefined
  if (values.brokers !== undefined) {
    const checked = envSchema.shape.KAFKA_BROKERS.safeParse(values.brokers)
    if (!checked.success) throw new UsageError(`--brokers: ${checked.error.issues[0]?.message ?? 'invalid'}`)
    brokers = checked.data
  }
  return {
    rate,
    durationMs: values.duration === undefined ? undefined : parseDuration(values.duration),
    brokers,
    seed,
    months,
    history: !values['no-history'],
  }
}

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: optionSpec, allowPositionals: false, strict: true })
}
