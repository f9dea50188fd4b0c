import { type ChildProcess, spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, it } from 'vitest'
import { type LocalKafka, startLocalKafka } from '../../../deploy/kafka/local-broker.js'
import { loadConfig } from '../../../shared/config/env.js'
import { createKafka } from '../../../shared/kafka/client.js'
import { createLogger } from '../../../shared/logger.js'

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const RUN_SCRIPT = join(REPO_ROOT, 'deploy', 'kafka', 'run.ts')
// Generous: each broker start alone may take up to 60 s on a saturated CI machine.
const TEST_TIMEOUT_MS = 120_000

interface Received {
  partition: number
  value: string
}

const dataDirs: string[] = []

async function newDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aims-kafka-'))
  dataDirs.push(dir)
  return dir
}

afterAll(async () => {
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

function clientFor(broker: LocalKafka): Kafka {
  const cfg = loadConfig({ KAFKA_CLIENT_ID: 'local-broker-test' })
  const silent = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })
  return createKafka(cfg, broker.brokers, silent, { logLevel: logLevel.NOTHING })
}

async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }
}

async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] })
    return topics[0]?.partitions.length ?? 0
  } finally {
    await admin.disconnect()
  }
}

async function produceOnePerPartition(kafka: Kafka, topic: string, partitions: number): Promise<Received[]> {
  const sent = Array.from({ length: partitions }, (_, partition) => ({
    partition,
    value: `${topic}-${partition}`,
  }))
  // Idempotent: a retry right after topic creation ("not the leader yet") must not write a message twice.
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: sent })
  } finally {
    await producer.disconnect()
  }
  return sent
}

async function consumeFromStart(kafka: Kafka, topic: string, count: number): Promise<Received[]> {
  const consumer = kafka.consumer({ groupId: `test-${randomUUID()}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    return await new Promise<Received[]>((resolve, reject) => {
      const received: Received[] = []
      const seen = new Set<string>()
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            // A consumer group may redeliver around its first rebalance; count each offset once.
            if (seen.has(`${partition}:${message.offset}`)) return
            seen.add(`${partition}:${message.offset}`)
            received.push({ partition, value: String(message.value) })
            if (received.length === count) resolve(received)
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
}

function byPartition(messages: Received[]): Received[] {
  return [...messages].sort((a, b) => a.partition - b.partition)
}

/** A killed JVM whose parent died stays a zombie until PID 1 reaps it; that counts as gone. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

async function waitUntilGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (isRunning(pid) && Date.now() < deadline) await sleep(100)
  return !isRunning(pid)
}

function readJvmPid(runner: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = ''
    runner.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /^KAFKA_PID=(\d+)$/m.exec(stdout)
      if (match) resolve(Number(match[1]))
    })
    runner.once('exit', (code) => reject(new Error(`run.ts exited with ${code} before printing KAFKA_PID`)))
  })
}

describe('local Kafka broker', () => {
  it(
    'round-trips messages over 3 partitions and leaves no JVM after stop()',
    async () => {
      const broker = await startLocalKafka({ dataDir: await newDataDir() })
      try {
        const kafka = clientFor(broker)
        await createTopic(kafka, 'kpi-events', 3)
        const sent = await produceOnePerPartition(kafka, 'kpi-events', 3)
        expect(byPartition(await consumeFromStart(kafka, 'kpi-events', 3))).toEqual(sent)
      } finally {
        await broker.stop()
      }
      expect(isRunning(broker.pid)).toBe(false)
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'keeps topics and messages across a restart on the same data dir, and refuses a second broker on it',
    async () => {
      const dataDir = await newDataDir()
      const first = await startLocalKafka({ dataDir })
      let sent: Received[]
      try {
        const kafka = clientFor(first)
        await createTopic(kafka, 'kept', 3)
        sent = await produceOnePerPartition(kafka, 'kept', 3)
      } finally {
        await first.stop()
      }

      const second = await startLocalKafka({ dataDir })
      try {
        await expect(startLocalKafka({ dataDir })).rejects.toThrow(/already used by a local Kafka broker/)
        const kafka = clientFor(second)
        expect(await partitionCount(kafka, 'kept')).toBe(3)
        expect(byPartition(await consumeFromStart(kafka, 'kept', 3))).toEqual(sent)
      } finally {
        await second.stop()
      }
    },
    TEST_TIMEOUT_MS,
  )

  it(
    'takes the JVM down when the Node parent is SIGKILLed',
    async () => {
      const runner = spawn(
        process.execPath,
        ['--import', 'tsx', RUN_SCRIPT, '--data-dir', await newDataDir()],
        {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      )
      let jvmPid: number | undefined
      try {
        jvmPid = await readJvmPid(runner)
        expect(isRunning(jvmPid)).toBe(true)
        runner.kill('SIGKILL')
        expect(await waitUntilGone(jvmPid, 5_000)).toBe(true)
      } finally {
        runner.kill('SIGKILL')
        if (jvmPid !== undefined && isRunning(jvmPid)) process.kill(jvmPid, 'SIGKILL')
      }
    },
    TEST_TIMEOUT_MS,
  )
})
