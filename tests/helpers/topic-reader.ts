import type { Kafka, KafkaMessage } from 'kafkajs'

/** Every message read from a topic so far, for tests that assert on what the collector published. */
export interface TopicReader {
  readonly messages: (KafkaMessage & { partition: number })[]
  stop(): Promise<void>
}

/** Reads `topic` from the beginning in a group of its own until stopped. */
export async function readTopic(kafka: Kafka, topic: string, groupId: string): Promise<TopicReader> {
  const messages: (KafkaMessage & { partition: number })[] = []
  // Dead letters may be close to the broker's message size limit: fetch them whole.
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeInMs: 100 })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      messages.push({ ...message, partition })
    },
  })
  return { messages, stop: () => consumer.disconnect() }
}

/**
 * The header as text (its first value), or undefined. kafkajs mixes inherited properties into headers
 * named like Object.prototype members (`constructor` → [Object, value]), so only Buffers count.
 */
export function header(message: KafkaMessage, name: string): string | undefined {
  const headers = message.headers ?? {}
  if (!Object.hasOwn(headers, name)) return undefined
  const value = headers[name]
  const values = Array.isArray(value) ? value : [value]
  const first = values.find((v) => Buffer.isBuffer(v) || typeof v === 'string')
  return first === undefined ? undefined : first.toString()
}
