import type { FastifyReply } from 'fastify'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { hasAnyRole, type Role } from '../../shared/http/auth/roles.js'
import { HttpError, NotFoundError } from '../../shared/http/errors.js'
import { protectedErrors } from '../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../shared/http/server.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import type { Logger } from '../../shared/logger.js'
import { type PackJob, PackJobRefusal, PackJobs, packJobSchema } from './jobs.js'
import {
  generatePack,
  listPacks,
  loadPack,
  PackNotFoundError,
  PackOrderError,
  recordReview,
  verifyPack,
} from './pack.js'
import { periodLabelSchema } from './period.js'
import { reviewRecordSchema } from './record.js'
import { PACK_CSP } from './render-html.js'

/**
 * Review packs over HTTP. Who does what:
 * - read a pack, the list, and check it (verify): executive, auditor, admin (the review's readers);
 * - generate a pack: auditor, admin (preparing the review's inputs; the pack is frozen once made);
 * - record the review's outcome (attendees, decisions, actions): executive, admin (top management owns
 *   clause 9.3.3 outputs; an auditor reviews them but does not write them).
 */
export const packAccess = {
  read: ['executive', 'auditor', 'admin'],
  generate: ['auditor', 'admin'],
  record: ['executive', 'admin'],
} as const satisfies Record<string, readonly Role[]>

export interface ReviewPackApiDeps {
  ch: ClickHouse
  config: ResolverConfig
  clock: () => Date
  /** Job state and the one-job-at-a-time lease (jobs.ts). */
  redis: Redis
  redisPrefix: string
  log?: Logger
  /**
   * How long a request waits for its job before answering 202 with the job to poll. Default 20 s; the
   * processor passes `packSyncWaitMs(cfg)`, under the time a connection may sit idle.
   */
  syncWaitMs?: number
}

const jobIdParams = z.strictObject({
  jobId: z.uuid('must be a job id (a UUID, as the 202 answer gave it)'),
})
const accepted = z.object({ jobId: z.string(), status: z.literal('running'), poll: z.string() })

const packIdParams = z.strictObject({
  id: z
    .string()
    .regex(/^\d{4}-(Q[1-4]|\d{2})-\d{8}T\d{6}Z$/, 'must be a pack id, e.g. 2026-Q3-20261002T090000Z'),
})
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500, 'must be at most 500').default(100),
})
const packQuery = z.strictObject({ format: z.enum(['json', 'html']).default('json') })
const generateBody = z.strictObject({ period: periodLabelSchema })

const packSummary = z.object({
  packId: z.string(),
  period: z.string(),
  generatedAt: z.string(),
  sha256: z.string(),
  reviewed: z.boolean(),
})
const verifyResponse = z.object({
  packId: z.string(),
  ok: z.boolean(),
  figures: z.number(),
  differences: z.array(z.string()),
  notes: z.array(z.string()),
})

const notFound = (err: unknown): never => {
  if (err instanceof PackNotFoundError) throw new NotFoundError('no such review pack')
  throw err
}

const byOf = (name: string | undefined) => name ?? 'unknown'

/**
 * The wait of a pack request: 20 s, or less when connections may sit idle for less (the HTTP server
 * closes a socket idle for twice HTTP_REQUEST_TIMEOUT_MS; the answer must leave well before).
 */
export function packSyncWaitMs(cfg: { HTTP_REQUEST_TIMEOUT_MS: number }): number {
  return Math.max(0, Math.min(20_000, cfg.HTTP_REQUEST_TIMEOUT_MS * 2 - 5_000))
}

const reviewPackApi: HttpArea<ReviewPackApiDeps> = async (app, deps) => {
  const jobs = new PackJobs(deps.redis, deps.redisPrefix, deps.log, { clock: deps.clock })
  const syncWaitMs = deps.syncWaitMs ?? 20_000

  /**
   * Runs heavy pack work as a job: answers `okStatus` with its result if it ends within the wait, the
   * job's refusal as an HTTP error, or 202 with the job to poll. 409 while another job runs.
   */
  async function runJob(
    reply: FastifyReply,
    kind: PackJob['kind'],
    target: string,
    by: string,
    okStatus: 200 | 201,
    work: () => Promise<unknown>,
  ) {
    const outcome = await jobs.start(kind, target, by, work)
    if (!outcome.started) {
      const r = outcome.running
      throw new HttpError(
        409,
        r
          ? `another review pack job is running (${r.kind} ${r.target}, job ${r.jobId}, since ${r.startedAt}); try again when it ends`
          : 'another review pack job is running; try again when it ends',
      )
    }
    let timer: NodeJS.Timeout | undefined
    const waited = await Promise.race([
      outcome.finished,
      new Promise<undefined>((r) => {
        timer = setTimeout(() => r(undefined), syncWaitMs)
      }),
    ])
    clearTimeout(timer)
    if (waited === undefined) {
      const poll = `/api/review-packs/jobs/${outcome.job.jobId}`
      return reply
        .code(202)
        .header('location', poll)
        .send({ jobId: outcome.job.jobId, status: 'running', poll })
    }
    if (waited.status === 'failed') throw new HttpError(waited.errorStatus ?? 500, waited.error ?? 'failed')
    return reply.code(okStatus).send(waited.result)
  }

  app.get(
    '/api/review-packs',
    {
      schema: {
        summary: 'Stored management review packs, newest first',
        tags: ['review'],
        querystring: listQuery,
        response: {
          200: z.object({
            packs: z.array(packSummary),
            /** What the caller may do besides reading (the page shows its controls accordingly). */
            canGenerate: z.boolean(),
            canRecord: z.boolean(),
          }),
          ...protectedErrors,
        },
      },
      config: { access: packAccess.read },
    },
    async (req) => ({
      packs: await listPacks(deps.ch, req.query.limit),
      canGenerate: hasAnyRole(req.auth?.principal, packAccess.generate),
      canRecord: hasAnyRole(req.auth?.principal, packAccess.record),
    }),
  )

  app.post(
    '/api/review-packs',
    {
      schema: {
        summary:
          'Generate and freeze the review pack of a quarter (2026-Q3) or month (2026-09): 201 with the pack when done within the wait, else 202 with the job to poll',
        tags: ['review'],
        body: generateBody,
        response: {
          201: z.object({
            packId: z.string(),
            sha256: z.string(),
            prevSha256: z.string(),
            figures: z.number(),
          }),
          202: accepted,
          ...protectedErrors,
        },
      },
      config: { access: packAccess.generate },
    },
    async (req, reply) =>
      runJob(reply, 'generate', req.body.period, byOf(req.auth?.principal.name), 201, async () => {
        const pack = await generatePack(deps.ch, {
          period: req.body.period,
          config: deps.config,
          now: deps.clock(),
        }).catch((err: unknown) => {
          if (err instanceof PackOrderError) throw new PackJobRefusal(409, 'a pack with a later time exists')
          throw err
        })
        return {
          packId: pack.packId,
          sha256: pack.sha256,
          prevSha256: pack.prevSha256,
          figures: pack.manifest.figures.length,
        }
      }),
  )

  app.get(
    '/api/review-packs/jobs/:jobId',
    {
      schema: {
        summary:
          'A review pack job (generate or verify) started by a 202 answer: running, done with its result, or failed with the reason',
        tags: ['review'],
        params: jobIdParams,
        response: { 200: packJobSchema, ...protectedErrors },
      },
      config: { access: packAccess.read },
    },
    async (req) => {
      const job = await jobs.get(req.params.jobId)
      if (!job) throw new NotFoundError('no such review pack job (finished jobs are kept 7 days)')
      return job
    },
  )

  app.get(
    '/api/review-packs/:id',
    {
      schema: {
        summary: 'One review pack: its content and manifest (JSON), or the page (format=html)',
        tags: ['review'],
        params: packIdParams,
        querystring: packQuery,
        response: { 200: z.unknown().describe('The pack (JSON) or its page (HTML)'), ...protectedErrors },
      },
      config: { access: packAccess.read },
    },
    async (req, reply) => {
      const pack = await loadPack(deps.ch, req.params.id)
      if (!pack) throw new NotFoundError('no such review pack')
      if (req.query.format === 'html') {
        return reply
          .type('text/html; charset=utf-8')
          .header('content-security-policy', PACK_CSP)
          .send(pack.html)
      }
      return { ...pack.content, sha256: pack.sha256, prevSha256: pack.prevSha256, manifest: pack.manifest }
    },
  )

  app.get(
    '/api/review-packs/:id/verify',
    {
      schema: {
        summary:
          'Recompute every figure of a pack from the stored facts as known at its time; check the chain: 200 with the outcome when done within the wait, else 202 with the job to poll',
        tags: ['review'],
        params: packIdParams,
        response: { 200: verifyResponse, 202: accepted, ...protectedErrors },
      },
      config: { access: packAccess.read },
    },
    async (req, reply) =>
      runJob(reply, 'verify', req.params.id, byOf(req.auth?.principal.name), 200, () =>
        verifyPack(deps.ch, req.params.id, deps.config).catch((err: unknown) => {
          if (err instanceof PackNotFoundError) throw new PackJobRefusal(404, 'no such review pack')
          throw err
        }),
      ),
  )

  app.post(
    '/api/review-packs/:id/record',
    {
      schema: {
        summary: 'Record the review of a pack: attendees, decisions and actions (clause 9.3.3)',
        tags: ['review'],
        params: packIdParams,
        body: reviewRecordSchema,
        response: { 201: z.object({ packId: z.string(), sha256: z.string() }), ...protectedErrors },
      },
      config: { access: packAccess.record },
    },
    async (req, reply) => {
      const by = req.auth?.principal.name ?? 'unknown'
      const { sha256 } = await recordReview(deps.ch, req.params.id, req.body, by, deps.clock()).catch(
        notFound,
      )
      return reply.code(201).send({ packId: req.params.id, sha256 })
    },
  )
}

export function mountReviewPackApi(http: HttpServer, deps: ReviewPackApiDeps): void {
  http.register(reviewPackApi, deps)
}
