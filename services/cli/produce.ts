import { open } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { type Message, Partitioners, type Producer } from 'kafkajs'
import { envSchema, loadConfig } from '../../shared/config/env.js'
import { errorMessage } from '../../shared/errors.js'
import {
  encodeKafkaMessage,
  formatLineError,
  type KafkaEncoding,
  parseJsonlLine,
  topicForType,
} from '../../shared/events/index.js'
import { createKafka } from '../../shared/kafka/client.js'
import { ensureTopics, topicNames } from '../../shared/kafka/topics.js'
import { createLogger } from '../../shared/logger.js'

const USAGE = `Usage: tsx services/cli/produce.ts <file.jsonl | -> [--brokers host:port[,host:port...]] [--dry-run] [--binary]

Reads AIMS v1 events (CloudEvents JSON, one per line) from a file or stdin ("-"), validates every line
exactly as the collector would, reports each bad one on stderr as "line N: reason", and sends the valid
ones to their topics, keyed by incident, model or finding id. Prints "sent N, invalid M" at the end.

  --brokers  Kafka bootstrap brokers. Default: KAFKA_BROKERS, else the local broker 127.0.0.1:KAFKA_LOCAL_PORT.
  --dry-run  Validate only; connect to nothing, send nothing.
  --binary   Send in CloudEvents binary mode (ce_* headers, data as value) instead of structured JSON.
  --help     Show this text.

Environment: KAFKA_TOPIC_PREFIX, KAFKA_CLIENT_ID, COLLECTOR_MAX_EVENT_BYTES (lines over it are rejected).
Exit status: 0 every line valid and sent; 1 some lines invalid (the valid ones were still sent);
2 usage or configuration error; 3 Kafka error.`

/** Messages per sendBatch: large enough to amortise round trips, small enough to stream big files. */
const BATCH_SIZE = 500

class UsageError extends Error {}

interface Options {
  input: string
  brokers: string[] | undefined
  dryRun: boolean
  encoding: KafkaEncoding
}

const optionSpec = {
  brokers: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  binary: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: optionSpec, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(errorMessage(err))
  }
}

function parseOptions(argv: string[]): Options | 'help' {
  const parsed = parseCommandLine(argv)
  const { values, positionals } = parsed
  if (values.help) return 'help'
  if (positionals.length !== 1)
    throw new UsageError('expected exactly one input: a .jsonl file or "-" for stdin')
  let brokers: string[] | undefined
  if (values.brokers !== undefined) {
    const checked = envSchema.shape.KAFKA_BROKERS.safeParse(values.brokers)
    if (!checked.success) throw new UsageError(`--brokers: ${checked.error.issues[0]?.message ?? 'invalid'}`)
    brokers = checked.data
  }
  return {
    input: positionals[0]!,
    brokers,
    dryRun: values['dry-run'],
    encoding: values.binary ? 'binary' : 'structured',
  }
}

async function openInput(input: string): Promise<Readable> {
  if (input === '-') return process.stdin
  try {
    return (await open(input, 'r')).createReadStream({ encoding: 'utf8' })
  } catch (err) {
    throw new UsageError(`cannot read ${input}: ${errorMessage(err)}`)
  }
}

class KafkaFailure extends Error {}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv)
  if (options === 'help') {
    console.log(USAGE)
    return 0
  }
  const cfg = loadConfig()
  const input = await openInput(options.input)
  const topics = topicNames(cfg)

  let producer: Producer | undefined
  if (!options.dryRun) {
    const brokers = options.brokers ?? cfg.KAFKA_BROKERS ?? [`127.0.0.1:${cfg.KAFKA_LOCAL_PORT}`]
    const log = createLogger(cfg).child({ service: 'produce' })
    // A person is waiting: give up on an unreachable broker in seconds, not the services' minute of retries.
    const kafka = createKafka(cfg, brokers, log, { retry: { initialRetryTime: 200, retries: 4 } })
    try {
      // Topics created here get the configured partitions; broker auto-creation would give one.
      const admin = kafka.admin()
      await admin.connect()
      try {
        await ensureTopics(admin, cfg)
      } finally {
        await admin.disconnect()
      }
      // Java-compatible murmur2 partitioning, so a key lands on the partition any other producer would
      // pick for it and one entity's events stay ordered whoever sends them.
      producer = kafka.producer({
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      })
      await producer.connect()
    } catch (err) {
      throw new KafkaFailure(`cannot reach Kafka at ${brokers.join(',')}: ${errorMessage(err)}`)
    }
  }

  let sent = 0
  let valid = 0
  let invalid = 0
  let pendingCount = 0
  let pending = new Map<string, Message[]>()

  const flush = async (): Promise<void> => {
    if (pendingCount === 0) return
    const topicMessages = [...pending].map(([topic, messages]) => ({ topic, messages }))
    const count = pendingCount
    pending = new Map()
    pendingCount = 0
    if (producer === undefined) return
    try {
      await producer.sendBatch({ topicMessages, acks: -1 })
    } catch (err) {
      throw new KafkaFailure(`sending ${count} events failed after ${sent} were sent: ${errorMessage(err)}`)
    }
    sent += count
  }

  try {
    let lineNumber = 0
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
      lineNumber++
      const result = parseJsonlLine(line, cfg.COLLECTOR_MAX_EVENT_BYTES)
      if (result.kind === 'blank') continue
      if (result.kind === 'invalid') {
        invalid++
        console.error(formatLineError(lineNumber, result.reason))
        continue
      }
      valid++
      const topic = topicForType(result.event.type, topics)
      const queue = pending.get(topic)
      const message = encodeKafkaMessage(result.event, options.encoding)
      if (queue === undefined) pending.set(topic, [message])
      else queue.push(message)
      if (++pendingCount >= BATCH_SIZE) await flush()
    }
    await flush()
  } finally {
    await producer?.disconnect()
  }

  console.log(
    options.dryRun
      ? `sent 0 (dry run, ${valid} valid), invalid ${invalid}`
      : `sent ${sent}, invalid ${invalid}`,
  )
  return invalid > 0 ? 1 : 0
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`produce: ${err.message}\nRun with --help for usage.`)
    process.exitCode = 2
  } else if (err instanceof KafkaFailure) {
    console.error(`produce: ${err.message}`)
    process.exitCode = 3
  } else if (err instanceof Error && err.name === 'ConfigError') {
    console.error(`produce: ${err.message}`)
    process.exitCode = 2
  } else {
    console.error('produce: unexpected failure:', err)
    process.exitCode = 1
  }
}
