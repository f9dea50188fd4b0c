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
  type JsonlLineResult,
  type KafkaEncoding,
  parseJsonlLine,
  topicForType,
} from '../../shared/events/index.js'
import { decodeOcsfMessage } from '../../shared/events/ocsf/index.js'
import { createKafka } from '../../shared/kafka/client.js'
import { ensureTopics, ocsfTopic, topicNames } from '../../shared/kafka/topics.js'
import { createLogger } from '../../shared/logger.js'
import { shiftLinesToNow } from './time-shift.js'

const USAGE = `Usage: tsx services/cli/produce.ts <file.jsonl | -> [--brokers host:port[,host:port...]] [--dry-run] [--binary] [--shift-to-now] [--ocsf]

Reads AIMS v1 events (CloudEvents JSON, one per line) from a file or stdin ("-"), validates every line
exactly as the collector would, reports each bad one on stderr as "line N: reason", and sends the valid
ones to their topics, keyed by incident, model or finding id. Prints "sent N, invalid M" at the end.

  --brokers       Kafka bootstrap brokers. Default: KAFKA_BROKERS, else the local broker 127.0.0.1:KAFKA_LOCAL_PORT.
  --dry-run       Validate only; connect to nothing, send nothing.
  --binary        Send in CloudEvents binary mode (ce_* headers, data as value) instead of structured JSON.
  --shift-to-now  Move every timestamp by one amount so the file's latest event time is now (gaps kept):
                  example files then land inside today's KPI windows. Reads the whole input first.
  --ocsf          The lines are OCSF findings (Incident Finding 2005, Data Security Finding 2006): validate
                  them with the collector's OCSF mapping and send them, as they are, to COLLECTOR_OCSF_TOPIC.
  --help          Show this text.

Environment: KAFKA_TOPIC_PREFIX, KAFKA_CLIENT_ID, COLLECTOR_MAX_EVENT_BYTES (lines over it are rejected),
COLLECTOR_OCSF_TOPIC (with --ocsf).
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
  shiftToNow: boolean
  ocsf: boolean
}

const optionSpec = {
  brokers: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  binary: { type: 'boolean', default: false },
  'shift-to-now': { type: 'boolean', default: false },
  ocsf: { type: 'boolean', default: false },
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
    shiftToNow: values['shift-to-now'],
    ocsf: values.ocsf,
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

async function readAll(input: Readable): Promise<string[]> {
  const lines: string[] = []
  for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) lines.push(line)
  return lines
}

/** One line of an OCSF file, judged by the collector's OCSF decoder. */
function parseOcsfLine(line: string, maxBytes: number): JsonlLineResult {
  if (line.trim() === '') return { kind: 'blank' }
  const result = decodeOcsfMessage({ value: Buffer.from(line, 'utf8') }, maxBytes)
  return result.ok
    ? { kind: 'event', event: result.event }
    : { kind: 'invalid', errorType: result.errorType, reason: result.reason }
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv)
  if (options === 'help') {
    console.log(USAGE)
    return 0
  }
  const cfg = loadConfig()
  if (options.ocsf && options.encoding === 'binary')
    throw new UsageError('--ocsf sends OCSF JSON as it is; --binary does not apply')
  const ocsf = ocsfTopic(cfg)
  if (options.ocsf && ocsf === undefined)
    throw new UsageError(
      '--ocsf needs COLLECTOR_OCSF_TOPIC: the topic the collector reads OCSF findings from',
    )
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

  const lines: AsyncIterable<string> | Iterable<string> = options.shiftToNow
    ? shiftLinesToNow(await readAll(input), options.ocsf ? 'ocsf' : 'native', Date.now())
    : createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })

  try {
    let lineNumber = 0
    for await (const line of lines) {
      lineNumber++
      const result = options.ocsf
        ? parseOcsfLine(line, cfg.COLLECTOR_MAX_EVENT_BYTES)
        : parseJsonlLine(line, cfg.COLLECTOR_MAX_EVENT_BYTES)
      if (result.kind === 'blank') continue
      if (result.kind === 'invalid') {
        invalid++
        console.error(formatLineError(lineNumber, result.reason))
        continue
      }
      valid++
      const topic = options.ocsf ? ocsf! : topicForType(result.event.type, topics)
      const queue = pending.get(topic)
      const message = options.ocsf
        ? // The OCSF event itself, keyed by its incident so one incident's events stay in order.
          {
            key: (result.event.data as { incidentId: string }).incidentId,
            value: line,
            headers: { 'content-type': 'application/json' },
          }
        : encodeKafkaMessage(result.event, options.encoding)
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
