import type { EachBatchPayload, KafkaMessage } from 'kafkajs'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import type { DecodedBatch } from '../../../services/collector/decode-batch.js'
import { type DeliveryControl, Lane, type LaneContext } from '../../../services/collector/lane.js'
import { collectorMetrics } from '../../../services/collector/metrics.js'

/**
 * The collector's per-partition pipeline against a fake consumer and writer: what is delivered, in
 * which order, what is committed and when, and what happens when a delivery gives up or fails.
 */

const TOPIC = 'events'

function message(offset: number): KafkaMessage {
  const event = {
    specversion: '1.0',
    id: `e-${offset}`,
    source: '/test',
    type: 'aims.privacy_incident.v1',
    time: '2026-11-01T10:00:00Z',
    data: {
      incidentId: `INC-${offset % 3}`,
      status: 'detected',
      severity: 'low',
      category: 'other',
      detectedAt: '2026-11-01T09:00:00Z',
      notifiable: false,
      recordsAffected: 1,
      dataSubjectsAffected: 1,
    },
  }
  return {
    key: null,
    value: Buffer.from(JSON.stringify(event)),
    timestamp: '0',
    attributes: 0,
    offset: String(offset),
    headers: {},
  } as KafkaMessage
}

/** A fetched batch of offsets [from, to) of a partition whose high watermark is `highWatermark`. */
function fetched(from: number, to: number, highWatermark: number, running = () => true): EachBatchPayload {
  const messages = Array.from({ length: to - from }, (_, i) => message(from + i))
  return {
    batch: {
      topic: TOPIC,
      partition: 0,
      highWatermark: String(highWatermark),
      messages,
      firstOffset: () => String(from),
      lastOffset: () => String(to - 1),
    },
    heartbeat: async () => undefined,
    isRunning: running,
    isStale: () => false,
  } as unknown as EachBatchPayload
}

interface Delivery {
  offsets: [string, string]
  messages: number
  finish(result: boolean | Error): void
}

function harness(maxRows: number) {
  const deliveries: Delivery[] = []
  const commits: string[] = []
  const seeks: string[] = []
  const events: string[] = []
  /** Deliveries, commits and the pausing and resuming of the partition's fetching, in order. */
  const flow: string[] = []
  const stopping = new AbortController()
  const context: LaneContext = {
    cfg: { COLLECTOR_MAX_BATCH_ROWS: maxRows, COLLECTOR_MAX_EVENT_BYTES: 1_048_576 },
    log: pino({ level: 'silent' }),
    metrics: collectorMetrics(),
    stopping: stopping.signal,
    writer: {
      // Each delivery waits until the test finishes it.
      deliver: (batch: DecodedBatch, control: DeliveryControl) =>
        new Promise<boolean>((resolve, reject) => {
          const first = String(Number(batch.lastOffset) - batch.messages + 1)
          events.push(`deliver ${first}-${batch.lastOffset}`)
          flow.push(`deliver ${first}-${batch.lastOffset}`)
          deliveries.push({
            offsets: [first, batch.lastOffset],
            messages: batch.messages,
            finish: (result) => {
              if (result instanceof Error) reject(result)
              else resolve(result && !control.shouldGiveUp())
            },
          })
        }),
    },
    consumer: {
      commitOffsets: async (offsets) => {
        for (const o of offsets) {
          commits.push(o.offset)
          events.push(`commit ${o.offset}`)
          flow.push(`commit ${o.offset}`)
        }
      },
      seek: ({ offset }) => {
        seeks.push(String(offset))
        events.push(`seek ${offset}`)
      },
      pause: (topics) => {
        expect(topics).toEqual([{ topic: TOPIC, partitions: [0] }])
        flow.push('pause')
      },
      resume: (topics) => {
        expect(topics).toEqual([{ topic: TOPIC, partitions: [0] }])
        flow.push('resume')
      },
    },
  }
  const lane = new Lane(TOPIC, 0, context)
  return { lane, deliveries, commits, seeks, events, flow, stopping }
}

/** Lets the lane's queued work (decoding starts on the next turn of the event loop) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

describe('collector lane', () => {
  it('delivers full batches while behind and the rest once caught up, committing each after it is stored', async () => {
    const { lane, deliveries, events } = harness(5)
    await lane.accept(fetched(0, 4, 12))
    await lane.accept(fetched(4, 8, 12))
    await lane.accept(fetched(8, 12, 12))
    await settle()
    // One delivery at a time: the second full batch waits for the first.
    expect(deliveries.map((d) => d.offsets)).toEqual([['0', '4']])
    deliveries[0]!.finish(true)
    await settle()
    deliveries[1]!.finish(true)
    await settle()
    deliveries[2]!.finish(true)
    await settle()
    expect(deliveries.map((d) => d.offsets)).toEqual([
      ['0', '4'],
      ['5', '9'],
      ['10', '11'],
    ])
    expect(events).toEqual([
      'deliver 0-4',
      'commit 5',
      'deliver 5-9',
      'commit 10',
      'deliver 10-11',
      'commit 12',
    ])
  })

  it('decodes what comes next while a delivery runs, and accepts at most one batch ahead of decoding', async () => {
    const { lane, deliveries, flow } = harness(100)
    await lane.accept(fetched(0, 4, 100))
    // Not caught up and not full: the batch stays open, so the next accept waits for this decode only.
    let secondAccepted = false
    void lane.accept(fetched(4, 8, 100)).then(() => {
      secondAccepted = true
    })
    expect(secondAccepted).toBe(false)
    await settle()
    expect(secondAccepted).toBe(true)
    expect(deliveries).toHaveLength(0)
    expect(flow).toEqual([])
  })

  it('pauses only its own partition while it waits for a delivery, and takes fetched batches at once', async () => {
    const { lane, deliveries, flow } = harness(4)
    await lane.accept(fetched(0, 4, 100))
    await settle()
    expect(deliveries).toHaveLength(1)
    // The next full batch waits for that delivery: the partition's fetching is paused.
    await lane.accept(fetched(4, 8, 100))
    await settle()
    expect(lane.isPaused()).toBe(true)
    expect(flow).toEqual(['deliver 0-3', 'pause'])
    // A batch fetched before the pause took effect is taken without waiting (kafkajs may fetch the
    // other partitions meanwhile) and decoded once the delivery is done.
    let thirdAccepted = false
    void lane.accept(fetched(8, 12, 100)).then(() => {
      thirdAccepted = true
    })
    await settle()
    expect(thirdAccepted).toBe(true)
    deliveries[0]!.finish(true)
    await settle()
    deliveries[1]!.finish(true)
    await settle()
    deliveries[2]!.finish(true)
    await settle()
    expect(lane.isPaused()).toBe(false)
    expect(flow).toEqual([
      'deliver 0-3',
      'pause',
      'commit 4',
      'resume',
      'deliver 4-7',
      'pause',
      'commit 8',
      'resume',
      'deliver 8-11',
      'commit 12',
    ])
  })

  it('resumes a paused partition when the delivery it waits for gives up', async () => {
    const { lane, deliveries, flow, stopping } = harness(4)
    await lane.accept(fetched(0, 4, 100))
    await settle()
    await lane.accept(fetched(4, 8, 100))
    await settle()
    expect(lane.isPaused()).toBe(true)
    stopping.abort()
    deliveries[0]!.finish(true)
    await lane.settled()
    expect(lane.isPaused()).toBe(false)
    expect(flow).toEqual(['deliver 0-3', 'pause', 'resume'])
  })

  it('on shutdown gives up and drops what it holds, committing nothing more', async () => {
    const { lane, deliveries, events, stopping } = harness(4)
    await lane.accept(fetched(0, 4, 100))
    await settle()
    deliveries[0]!.finish(true)
    await lane.accept(fetched(4, 8, 100))
    await lane.accept(fetched(8, 12, 100))
    await settle()
    stopping.abort()
    deliveries[1]!.finish(true)
    await settle()
    // Accepted while stopping: a delivery, if one starts, gives up as well.
    await lane.accept(fetched(12, 16, 100))
    await settle()
    for (const d of deliveries.slice(2)) d.finish(true)
    await lane.settled()
    expect(events.filter((e) => e.startsWith('commit'))).toEqual(['commit 4'])
    expect(events.slice(0, 3)).toEqual(['deliver 0-3', 'commit 4', 'deliver 4-7'])
  })

  it('rewinds the partition to the last commit when a delivery fails unexpectedly', async () => {
    const { lane, deliveries, events } = harness(4)
    await lane.accept(fetched(0, 4, 100))
    await settle()
    deliveries[0]!.finish(true)
    await lane.accept(fetched(4, 8, 100))
    await settle()
    await lane.accept(fetched(8, 12, 100))
    deliveries[1]!.finish(new Error('a bug'))
    await settle()
    // Reading resumes at 4: what was accepted after it is dropped, and delivered again once re-read.
    await lane.accept(fetched(4, 8, 100))
    await settle()
    deliveries[2]!.finish(true)
    await settle()
    expect(events).toEqual(['deliver 0-3', 'commit 4', 'deliver 4-7', 'seek 4', 'deliver 4-7', 'commit 8'])
  })

  it('after a group join drops what it has not sealed, and reads it again', async () => {
    const { lane, deliveries, events } = harness(10)
    await lane.accept(fetched(0, 4, 100))
    await settle()
    expect(deliveries).toHaveLength(0)
    lane.restart()
    await lane.accept(fetched(0, 10, 10))
    await settle()
    deliveries[0]!.finish(true)
    await settle()
    expect(events).toEqual(['deliver 0-9', 'commit 10'])
  })

  it('keeps going after a restart when a delivery of the previous generation gives up', async () => {
    let running = true
    const { lane, deliveries, events } = harness(4)
    await lane.accept(fetched(0, 4, 100, () => running))
    await settle()
    // The consumer restarts (its old run stops, the group is joined again) while 0-3 is being stored.
    running = false
    lane.restart()
    await lane.accept(fetched(0, 4, 100))
    await settle()
    deliveries[0]!.finish(true)
    await settle()
    deliveries[1]!.finish(true)
    await settle()
    expect(events).toEqual(['deliver 0-3', 'deliver 0-3', 'commit 4'])
  })
})
