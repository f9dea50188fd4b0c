/**
 * The processor benchmark's load generator, in its own process (so its CPU is not the driver's):
 * produces small valid privacy-incident events as fast as the broker takes them to the given partitions
 * of the incidents topic, until stdin closes or SIGTERM. Prints one JSON line per second with the count
 * produced so far.
 *
 *   tsx tests/bench/processor-load.ts <brokers> <topic> <partitions,comma,separated> <tag>
 */
import { Kafka, logLevel } from 'kafkajs'

const [brokers = '', topic = '', partitionList = '1', tag = 'load'] = process.argv.slice(2)
const partitions = partitionList.split(',').map(Number)
const kafka = new Kafka({
  clientId: `bench-load-${tag}`,
  brokers: brokers.split(','),
  logLevel: logLevel.NOTHING,
})
const producer = kafka.producer({ allowAutoTopicCreation: false })

let running = true
const stop = () => {
  running = false
}
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()

function event(i: number): Buffer {
  const now = new Date().toISOString()
  return Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: `load-${tag}-${i}`,
      source: '/bench/load',
      type: 'aims.privacy_incident.v1',
      time: now,
      data: {
        incidentId: `INC-LOAD-${i % 5000}`,
        status: 'detected',
        severity: 'low',
        category: 'misdirected_email',
        detectedAt: now,
        notifiable: false,
        recordsAffected: 1,
        dataSubjectsAffected: 1,
        controls: ['ISO27001:A.5.24'],
      },
    }),
  )
}

await producer.connect()
let produced = 0
const report = setInterval(() => process.stdout.write(`${JSON.stringify({ produced })}\n`), 1000)
const inFlight = new Set<Promise<unknown>>()
while (running) {
  const batch = Array.from({ length: 1000 }, (_, j) => ({
    value: event(produced + j),
    partition: partitions[(produced / 1000 + j) % partitions.length]!,
  }))
  const p = producer.send({ topic, messages: batch, acks: 1 }).then(() => {
    produced += batch.length
  })
  inFlight.add(p)
  void p.finally(() => inFlight.delete(p))
  if (inFlight.size >= 4) await Promise.race(inFlight)
}
await Promise.allSettled(inFlight)
clearInterval(report)
process.stdout.write(`${JSON.stringify({ produced, done: true })}\n`)
await producer.disconnect()
process.exit(0)
