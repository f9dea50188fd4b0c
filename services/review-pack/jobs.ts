import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Logger } from '../../shared/logger.js'

/**
 * Review-pack work that can outlast an HTTP request: generating or verifying a quarter over millions of
 * facts takes minutes, longer than a connection may sit idle. Each run is a job whose state lives in
 * Redis, so any processor replica answers for it; one job of each kind runs at a time across replicas
 * (a lease the running process renews), because each reads the whole period and would slow the
 * pipeline's own queries, and verifications (any reader may start one) never hold up a generation.
 * Keys under `<prefix>:review-pack:`: `job:<id>` (JSON, kept `ttlSec`), `lease:<kind>` (the running
 * job's id, expiring `leaseMs` after the last renewal: a process that dies frees it, late but surely; the
 * lease is long because a renewal can wait behind a long synchronous query of embedded ClickHouse).
 */

export const packJobSchema = z.object({
  jobId: z.string(),
  kind: z.enum(['generate', 'verify']),
  /** The period generated (2026-Q3) or the pack verified. */
  target: z.string(),
  by: z.string(),
  status: z.enum(['running', 'done', 'failed']),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** What the work returned (done). */
  result: z.unknown().optional(),
  /** Why it failed, for the user: a known refusal's message, else a pointer to the log (no internals). */
  error: z.string().optional(),
  /** HTTP status the failure maps to (409 a refused order, 404 no such pack, 500 otherwise). */
  errorStatus: z.number().optional(),
})
export type PackJob = z.infer<typeof packJobSchema>

/** A failure the user can act on: its message and status are shown as they are. */
export class PackJobRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

export interface PackJobsOptions {
  clock?: () => Date
  /** The lease lapses this long after the running process last renewed it. Default 10 min. */
  leaseMs?: number
  /** A finished job's record is kept this long. Default 7 days. */
  ttlSec?: number
}

export type StartOutcome =
  | { started: true; job: PackJob; finished: Promise<PackJob> }
  | { started: false; running: PackJob | undefined }

export class PackJobs {
  private readonly clock: () => Date
  private readonly leaseMs: number
  private readonly ttlSec: number

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger | undefined,
    opts: PackJobsOptions = {},
  ) {
    this.clock = opts.clock ?? (() => new Date())
    this.leaseMs = opts.leaseMs ?? 600_000
    this.ttlSec = opts.ttlSec ?? 7 * 86_400
  }

  private key(jobId: string): string {
    return `${this.prefix}:review-pack:job:${jobId}`
  }
  private lease(kind: PackJob['kind']): string {
    return `${this.prefix}:review-pack:lease:${kind}`
  }
  /** Jobs running in this process: never reported interrupted here, whatever their lease. */
  private readonly local = new Set<string>()

  /** Starts `work` unless another job of its kind holds the lease (then: that job, if its record is still there). */
  async start(
    kind: PackJob['kind'],
    target: string,
    by: string,
    work: () => Promise<unknown>,
  ): Promise<StartOutcome> {
    const jobId = randomUUID()
    const lease = this.lease(kind)
    const took = await this.redis.set(lease, jobId, 'PX', this.leaseMs, 'NX')
    if (took !== 'OK') {
      const holder = await this.redis.get(lease)
      return { started: false, running: holder ? await this.get(holder) : undefined }
    }
    const job: PackJob = { jobId, kind, target, by, status: 'running', startedAt: this.clock().toISOString() }
    try {
      await this.save(job)
    } catch (err) {
      await this.redis.eval(RELEASE, 1, lease, jobId).catch(() => undefined)
      throw err
    }
    this.local.add(jobId)
    const renew = setInterval(
      () =>
        void this.redis
          .eval(RENEW, 1, lease, jobId, String(this.leaseMs))
          .then((renewed) => {
            if (renewed !== 1) this.log?.warn({ jobId, kind }, 'review pack job lost its lease; it goes on')
          })
          .catch(() => undefined),
      Math.max(10, Math.min(20_000, Math.floor(this.leaseMs / 3))),
    )
    renew.unref()
    const finished = (async (): Promise<PackJob> => {
      let end: PackJob
      try {
        const result = await work()
        end = { ...job, status: 'done', finishedAt: this.clock().toISOString(), result }
      } catch (err) {
        const known = err instanceof PackJobRefusal
        if (!known) this.log?.error({ err, jobId, kind, target }, 'review pack job failed')
        end = {
          ...job,
          status: 'failed',
          finishedAt: this.clock().toISOString(),
          error: known
            ? err.message
            : `the ${kind} job failed; the processor log has the cause (job ${jobId})`,
          errorStatus: known ? err.status : 500,
        }
      } finally {
        clearInterval(renew)
      }
      // The record first, then the lease: a running record without a lease means an interrupted job.
      await this.save(end).catch((err: unknown) =>
        this.log?.error({ err, jobId }, 'review pack job not saved'),
      )
      this.local.delete(jobId)
      await this.redis.eval(RELEASE, 1, lease, jobId).catch(() => undefined)
      return end
    })()
    return { started: true, job, finished }
  }

  /** A job's record; one still "running" whose lease is gone was interrupted (its process stopped). */
  async get(jobId: string): Promise<PackJob | undefined> {
    const raw = await this.redis.get(this.key(jobId))
    if (raw === null) return undefined
    const parsed = packJobSchema.safeParse(JSON.parse(raw))
    if (!parsed.success) return undefined
    const job = parsed.data
    if (
      job.status === 'running' &&
      !this.local.has(jobId) &&
      (await this.redis.get(this.lease(job.kind))) !== jobId
    ) {
      // Read again: the job may have finished between the two reads.
      const again = packJobSchema.safeParse(JSON.parse((await this.redis.get(this.key(jobId))) ?? 'null'))
      if (again.success && again.data.status !== 'running') return again.data
      return {
        ...job,
        status: 'failed',
        error: 'interrupted: the process running it stopped; start it again',
        errorStatus: 500,
      }
    }
    return job
  }

  private async save(job: PackJob): Promise<void> {
    await this.redis.set(this.key(job.jobId), JSON.stringify(job), 'EX', this.ttlSec)
  }
}
