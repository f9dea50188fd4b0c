/**
 * The baseline of the ingest benchmark: a kafkajs consumer that reads the topic and does nothing with
 * the messages. Prints one JSON line with its rate once it has read `--count` messages.
 *   tsx tests/bench/bare-consumer.ts --brokers B --topic T --count N --group G
 */
import { parseArgs } from 'node:util'
import { Kafka, logLevel } from 'kafkajs'
import { collectorFetchSizes } from '../../services/collector/collector.js'

const { values } = parseArgs({
  options: {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    count: { type: 'string' },
    group: { type: 'string' },
  },
})
const expected = Number(values.count)
const kafka = new Kafka({
  clientId: 'bench-bare',
  brokers: values.brokers!.split(','),
  logLevel: logLevel.NOTHING,
})
// The same fetch sizes as the collector, so the comparison isolates what the collector does per message.
const consumer = kafka.consumer({
  groupId: values.group!,
  ...collectorFetchSizes,
  maxWaitTimeInMs: 250,
})
await consumer.connect()
await consumer.subscribe({ topic: values.topic!, fromBeginning: true })
let seen = 0
// Timed like the collector: from the first batch, counting only the messages read after it.
let start: { at: number; seen: number } | undefined
let maxRss = 0
const done = new Promise<void>((resolve) => {
  void consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      seen += batch.messages.length
      start ??= { at: performance.now(), seen }
      maxRss = Math.max(maxRss, process.memoryUsage().rss)
      if (seen >= expected) resolve()
    },
  })
})
await done
const seconds = (performance.now() - start!.at) / 1000
process.stdout.write(
  `${JSON.stringify({ messages: seen, seconds, rate: (seen - start!.seen) / seconds, maxRssMb: maxRss / 2 ** 20 })}\n`,
)
await consumer.disconnect()
process.exit(0)
