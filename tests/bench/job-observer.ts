/**
 * Watches the alerts queue from its own process and prints one JSON line per job added: its id, the time
 * BullMQ stamped on it when the processor added it, and what it is about. The processor benchmark reads
 * these lines to time event → alert job without trusting the processor's own account.
 *
 *   tsx tests/bench/job-observer.ts <redis-url> <prefix>
 */
import { Job, Queue, QueueEvents } from 'bullmq'
import { Redis } from 'ioredis'
import { ALERTS_QUEUE, type AlertJob } from '../../shared/alerts/alert-job.js'

const [url = 'redis://127.0.0.1:6379', prefix = 'aims'] = process.argv.slice(2)
const connection = new Redis(url, { maxRetriesPerRequest: null })
const queue = new Queue<AlertJob>(ALERTS_QUEUE, { connection, prefix })
const events = new QueueEvents(ALERTS_QUEUE, {
  connection: new Redis(url, { maxRetriesPerRequest: null }),
  prefix,
})
await events.waitUntilReady()
events.on('added', ({ jobId }) => {
  void Job.fromId<AlertJob>(queue, jobId).then((job) => {
    if (!job) return
    const d = job.data
    process.stdout.write(
      `${JSON.stringify({ jobId, timestamp: job.timestamp, kpi: d.kpi.id, kind: d.kind, scope: d.scope, at: d.at })}\n`,
    )
  })
})
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
const stop = async () => {
  await events.close()
  await queue.close()
  connection.disconnect()
  process.exit(0)
}
process.on('SIGTERM', () => void stop())
process.stdin.on('end', () => void stop())
process.stdin.resume()
