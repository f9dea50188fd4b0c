import type { Admin } from 'kafkajs'
import { errorMessage } from '../../shared/errors.js'
import type { Health } from '../../shared/http/health.js'
import type { Logger } from '../../shared/logger.js'
import { errorsTotal } from '../../shared/metrics/registry.js'
import type { CollectorMetrics } from './metrics.js'

/**
 * Whether each partition this collector owns is advancing. The broker is asked (not the lanes), so a
 * partition that never delivers still shows: its lag is the end offset minus the group's committed
 * offset, and it is "stalled" while it has lag and that committed offset does not move. Stalled for
 * COLLECTOR_STUCK_AFTER_MS makes the partition stuck: /readyz reports the collector degraded naming it,
 * aims_collector_partition_stalled_seconds grows, and the AimsCollectorPartitionStuck alert fires.
 */

export interface PartitionObservation {
  lag: bigint
  stalledMs: number
  stuck: boolean
}

/** The pure part: from successive (committed, end) readings to lag and stall time. */
export class ProgressTracker {
  private readonly last = new Map<string, { committed: bigint; since: number }>()

  constructor(private readonly stuckAfterMs: number) {}

  /** `committed` is where consumption resumes (the log start when the group has committed nothing). */
  observe(key: string, committed: bigint, end: bigint, now: number): PartitionObservation {
    const lag = end > committed ? end - committed : 0n
    const previous = this.last.get(key)
    if (lag === 0n || previous === undefined || previous.committed !== committed) {
      this.last.set(key, { committed, since: now })
      return { lag, stalledMs: 0, stuck: false }
    }
    const stalledMs = now - previous.since
    return { lag, stalledMs, stuck: stalledMs >= this.stuckAfterMs }
  }

  /** Drops partitions no longer owned, so one moved back later starts afresh. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.last.keys()) if (!keys.has(key)) this.last.delete(key)
  }
}

export interface ProgressMonitorOptions {
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>
  groupId: string
  /** The partitions this member owns, by topic (from the latest group join). */
  assignment: () => ReadonlyMap<string, readonly number[]>
  metrics: CollectorMetrics
  health: Health
  log: Logger
  stuckAfterMs: number
  intervalMs: number
}

export const PROGRESS_COMPONENT = 'kafka-partitions'

export interface ProgressMonitor {
  /** One reading now (tests; the timer does the same every intervalMs). */
  check(): Promise<void>
  stop(): void
}

export function startProgressMonitor(o: ProgressMonitorOptions): ProgressMonitor {
  const tracker = new ProgressTracker(o.stuckAfterMs)
  const labelled = new Set<string>()
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let running: Promise<void> = Promise.resolve()

  const readOnce = async () => {
    const assignment = o.assignment()
    const owned = new Set<string>()
    const stuck: string[] = []
    const topics = [...assignment.keys()]
    const committedByTopic = new Map<string, Map<number, string>>()
    if (topics.length > 0) {
      for (const t of await o.admin.fetchOffsets({ groupId: o.groupId, topics })) {
        committedByTopic.set(t.topic, new Map(t.partitions.map((p) => [p.partition, p.offset])))
      }
    }
    const now = Date.now()
    for (const [topic, partitions] of assignment) {
      const ends = new Map((await o.admin.fetchTopicOffsets(topic)).map((p) => [p.partition, p]))
      for (const partition of partitions) {
        const end = ends.get(partition)
        if (end === undefined) continue
        const key = `${topic}\u0000${partition}`
        owned.add(key)
        const raw = committedByTopic.get(topic)?.get(partition) ?? '-1'
        const committed = BigInt(raw) >= 0n ? BigInt(raw) : BigInt(end.low)
        const seen = tracker.observe(key, committed, BigInt(end.high), now)
        const labels = { topic, partition: String(partition) }
        labelled.add(key)
        o.metrics.lag.set(labels, Number(seen.lag))
        o.metrics.committedOffset.set(labels, Number(committed))
        o.metrics.stalledSeconds.set(labels, Math.floor(seen.stalledMs / 1000))
        if (seen.stuck) {
          stuck.push(
            `${topic}[${partition}] has not advanced for ${Math.round(seen.stalledMs / 1000)} s at offset ${committed} with lag ${seen.lag}`,
          )
        }
      }
    }
    tracker.retain(owned)
    // A partition that moved to another member is reported by that member from now on.
    for (const key of labelled) {
      if (owned.has(key)) continue
      const [topic, partition] = key.split('\u0000') as [string, string]
      for (const gauge of [o.metrics.lag, o.metrics.committedOffset, o.metrics.stalledSeconds]) {
        gauge.remove({ topic, partition })
      }
      labelled.delete(key)
    }
    if (stuck.length === 0) o.health.set(PROGRESS_COMPONENT, true)
    else {
      const shown = stuck.slice(0, 10).join('; ')
      o.health.degrade(
        PROGRESS_COMPONENT,
        stuck.length > 10 ? `${shown}; and ${stuck.length - 10} more` : shown,
      )
    }
  }

  const check = () => {
    running = running.then(readOnce).catch((err: unknown) => {
      errorsTotal().inc({ stage: 'collector_progress', error_type: (err as Error)?.name ?? 'Error' })
      o.log.warn({ err: errorMessage(err) }, 'could not read partition progress from the broker')
    })
    return running
  }

  const schedule = () => {
    if (stopped) return
    timer = setTimeout(() => void check().then(schedule), o.intervalMs)
    timer.unref()
  }
  o.health.set(PROGRESS_COMPONENT, true)
  schedule()

  return {
    check,
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      o.health.remove(PROGRESS_COMPONENT)
    },
  }
}
