import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { AlertJob } from '../../../shared/alerts/alert-job.js'
import { dueNotice } from '../../../shared/alerts/escalation.js'
import { type AlertQueue, createAlertQueue, enqueueAlert } from '../../../shared/alerts/queue.js'
import { type BreachResponse, ResponseState } from '../../../shared/alerts/response.js'
import { type Silence, silenceEnd } from '../../../shared/alerts/silence.js'
import type { ClickHouse } from '../../../shared/clickhouse/client.js'
import type { Config } from '../../../shared/config/env.js'
import { access, areasOf, type Principal, respondAreasOf } from '../../../shared/http/auth/roles.js'
import { BadRequestError, ForbiddenError, HttpError, NotFoundError } from '../../../shared/http/errors.js'
import { protectedErrors } from '../../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../../shared/http/server.js'
import { toClickHouseTime } from '../../../shared/kpi/breach-state.js'
import type { KpiDefinition } from '../../../shared/kpi/catalog.js'
import type { AimsConfig } from '../../../shared/kpi/thresholds.js'
import {
  type ActionKind,
  ackBody,
  actionResponse,
  actionsResponse,
  assignBody,
  breachParams,
  commentBody,
  RESPONSE_BODY_LIMIT_BYTES,
  responseListQuery,
  responseListResponse,
  silenceBody,
  silenceParams,
  silenceResponse,
  silencesQuery,
  silencesResponse,
} from './schemas.js'
import {
  type ActionRow,
  type BreachSummary,
  findBreach,
  insertAction,
  insertSilence,
  kpisOfBreaches,
  listActions,
  listSilences,
} from './store.js'

/**
 * The response API: acknowledge, unacknowledge, assign and comment on a breach (each an append-only
 * `breach_actions` row with who and when), and silences. Acting needs the `respond` roles (security,
 * admin) and a breach of an area the caller's roles cover; reading needs any reader role, narrowed to
 * the caller's areas like the read API. An acknowledgement is also an alert job (`acknowledged`): the
 * alerter sends it to every sink told about the breach (PagerDuty `acknowledge` with the same dedup_key).
 */

export interface ResponseApiDeps {
  ch: ClickHouse
  redis: Redis
  cfg: Pick<Config, 'REDIS_PREFIX' | 'ALERTER_MAX_ATTEMPTS' | 'PUBLIC_BASE_URL'>
  kpis: readonly KpiDefinition[]
  config: AimsConfig | undefined
  clock: () => Date
}

const MAX_SILENCE_MS = 366 * 24 * 3600_000

function presentResponse(r: BreachResponse, config: AimsConfig | undefined) {
  const policy = r.plan ? config?.alerting?.escalation?.find((p) => p.name === r.plan!.policy) : undefined
  const waiting =
    r.plan !== undefined &&
    policy !== undefined &&
    !r.ack &&
    r.resolvedAt === undefined &&
    dueNotice(policy, r.plan) !== undefined
  return {
    acknowledged: r.ack ?? null,
    owner: r.owner ?? null,
    escalation: r.plan
      ? {
          policy: r.plan.policy,
          stepsDone: r.plan.stepsDone,
          steps: policy ? policy.steps.length : null,
          remindersDone: r.plan.remindersDone,
          nextAt: waiting ? new Date(r.plan.due).toISOString() : null,
        }
      : null,
    heldBySilence: r.held ? r.held.silenceId || null : null,
  }
}

function presentAction(r: ActionRow) {
  return {
    actionId: r.action_id,
    action: r.action,
    actor: r.actor,
    actorRoles: r.actor_roles,
    owner: r.owner || null,
    comment: r.comment || null,
    at: r.at,
  }
}

function silenceState(s: Silence, now: number): 'active' | 'pending' | 'ended' {
  if (now >= silenceEnd(s)) return 'ended'
  return now < Date.parse(s.startsAt) ? 'pending' : 'active'
}

const responseApi: HttpArea<ResponseApiDeps> = async (app, deps) => {
  const { ch, config } = deps
  const state = new ResponseState(deps.redis, deps.cfg.REDIS_PREFIX)
  let queue: AlertQueue | undefined
  const alerts = () => {
    queue ??= createAlertQueue(deps.cfg, deps.redis)
    return queue
  }
  app.addHook('onClose', async () => {
    await queue?.close()
  })
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))
  const areaOf = (kpiId: string) => byId.get(kpiId)?.area ?? kpiId.split('.')[0] ?? ''
  const mayRead = (p: Principal | undefined, kpiId: string) =>
    (areasOf(p) as ReadonlySet<string>).has(areaOf(kpiId))
  const mayAct = (p: Principal | undefined, kpiId: string) =>
    (respondAreasOf(p) as ReadonlySet<string>).has(areaOf(kpiId))

  /** The breach in the path, if it exists and the caller's roles cover its area (to read, or to act on). */
  const breachFor = async (
    id: string,
    p: Principal | undefined,
    purpose: 'read' | 'act' = 'read',
  ): Promise<BreachSummary> => {
    const breach = await findBreach(ch, id)
    if (!breach) throw new NotFoundError('unknown breach')
    if (!(purpose === 'act' ? mayAct : mayRead)(p, breach.kpiId)) {
      throw new ForbiddenError(`breaches of area ${areaOf(breach.kpiId)} are not for your role`)
    }
    return breach
  }

  const record = async (
    breach: BreachSummary,
    p: Principal,
    action: ActionKind,
    fields: { owner?: string; comment?: string },
  ): Promise<ActionRow> => {
    const row: ActionRow = {
      action_id: randomUUID(),
      breach_id: breach.breachId,
      fingerprint: breach.fingerprint,
      kpi_id: breach.kpiId,
      scope: breach.scope,
      action,
      actor: p.name,
      actor_roles: [...p.roles].sort(),
      owner: fields.owner ?? '',
      comment: fields.comment ?? '',
      at: toClickHouseTime(deps.clock()),
    }
    await insertAction(ch, row)
    return row
  }

  /** The job telling the breach's sinks that someone took it (acknowledged) or handed it back. */
  const responseJob = (
    kind: 'acknowledged' | 'unacknowledged',
    breach: BreachSummary,
    r: BreachResponse,
    actionId: string,
    by: string,
  ): AlertJob => {
    const kpi = byId.get(breach.kpiId)
    const base = deps.cfg.PUBLIC_BASE_URL.replace(/\/+$/, '')
    const where = Object.entries(breach.scope)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')
    return {
      transitionId: `${breach.breachId}-${kind}-${actionId}`,
      breachId: breach.breachId,
      fingerprint: breach.fingerprint,
      kind,
      severity: breach.severity,
      kpi: {
        id: breach.kpiId,
        title: kpi?.title ?? breach.kpiId,
        unit: kpi?.unit ?? '',
        direction: kpi?.direction ?? 'higher_is_better',
        area: areaOf(breach.kpiId),
      },
      scope: breach.scope,
      value: breach.value,
      threshold: breach.threshold,
      iso: { iso27001: [...(kpi?.iso.iso27001 ?? [])], iso42001: [...(kpi?.iso.iso42001 ?? [])] },
      startsAt: breach.startedAt.toISOString(),
      at: kind === 'acknowledged' ? (r.ack?.at ?? deps.clock().toISOString()) : deps.clock().toISOString(),
      summary:
        kind === 'acknowledged'
          ? `[ACKNOWLEDGED] ${kpi?.title ?? breach.kpiId} by ${r.ack?.by ?? by}, ${where || 'overall'}`
          : `[UNACKNOWLEDGED] ${kpi?.title ?? breach.kpiId}: ${by} handed it back, ${where || 'overall'}`,
      description: kpi?.description ?? '',
      links: {
        review: `${base}/review/breaches/${encodeURIComponent(breach.breachId)}`,
        api: `${base}/api/breaches/${encodeURIComponent(breach.breachId)}`,
      },
      response: {
        ...(r.ack ? { acknowledged: r.ack } : {}),
        ...(r.owner ? { owner: r.owner } : {}),
      },
    }
  }

  const act = { access: access.respond }
  const actSchema = (summary: string) => ({
    summary,
    tags: ['response'],
    params: breachParams,
    response: { 200: actionResponse, ...protectedErrors },
  })

  app.post(
    '/api/breaches/:id/ack',
    {
      schema: {
        ...actSchema('Acknowledge an open breach: stops its escalation, tells PagerDuty/Slack/webhooks'),
        body: ackBody,
      },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req) => {
      const p = req.auth!.principal
      const breach = await breachFor(req.params.id, p, 'act')
      if (breach.resolved) throw new HttpError(409, 'the breach is resolved')
      const at = deps.clock().toISOString()
      const comment = req.body?.comment
      const ack = { by: p.name, at, ...(comment ? { comment } : {}) }
      if (!(await state.acknowledge(breach.breachId, ack))) {
        const current = await state.get(breach.breachId)
        throw new HttpError(409, `already acknowledged by ${current.ack?.by ?? 'someone'}`)
      }
      let row: ActionRow
      try {
        row = await record(breach, p, 'ack', { ...(comment ? { comment } : {}) })
      } catch (err) {
        // No evidence, no acknowledgement: the caller may try again.
        await state.unacknowledge(breach.breachId, deps.clock().getTime())
        throw err
      }
      const r = await state.get(breach.breachId)
      await enqueueAlert(alerts(), responseJob('acknowledged', breach, r, row.action_id, p.name))
      return { breachId: breach.breachId, action: presentAction(row), response: presentResponse(r, config) }
    },
  )

  app.post(
    '/api/breaches/:id/unack',
    {
      schema: {
        ...actSchema(
          'Withdraw the acknowledgement: escalation resumes where it stopped; the sinks told of the breach hear that nobody has it',
        ),
        body: ackBody,
      },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req) => {
      const p = req.auth!.principal
      const breach = await breachFor(req.params.id, p, 'act')
      const before = await state.get(breach.breachId)
      if (!before.ack) throw new HttpError(409, 'the breach is not acknowledged')
      const row = await record(breach, p, 'unack', {
        ...(req.body?.comment ? { comment: req.body.comment } : {}),
      })
      await state.unacknowledge(breach.breachId, deps.clock().getTime())
      const r = await state.get(breach.breachId)
      // Whoever was told someone had it hears that nobody has it now (PagerDuty has no way back from
      // acknowledged: it gets the trigger as a log entry, and the resumed escalation pages onwards).
      await enqueueAlert(alerts(), responseJob('unacknowledged', breach, r, row.action_id, p.name))
      return { breachId: breach.breachId, action: presentAction(row), response: presentResponse(r, config) }
    },
  )

  app.post(
    '/api/breaches/:id/assign',
    {
      schema: { ...actSchema('Assign an owner to a breach'), body: assignBody },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req) => {
      const p = req.auth!.principal
      const breach = await breachFor(req.params.id, p, 'act')
      const { owner, comment } = req.body
      const row = await record(breach, p, 'assign', { owner, ...(comment ? { comment } : {}) })
      await state.setOwner(breach.breachId, owner)
      const r = await state.get(breach.breachId)
      return { breachId: breach.breachId, action: presentAction(row), response: presentResponse(r, config) }
    },
  )

  app.post(
    '/api/breaches/:id/comment',
    {
      schema: { ...actSchema('Comment on a breach'), body: commentBody },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req) => {
      const p = req.auth!.principal
      const breach = await breachFor(req.params.id, p, 'act')
      const row = await record(breach, p, 'comment', { comment: req.body.comment })
      const r = await state.get(breach.breachId)
      return { breachId: breach.breachId, action: presentAction(row), response: presentResponse(r, config) }
    },
  )

  app.get(
    '/api/breaches/:id/actions',
    {
      schema: {
        summary: 'Who acknowledged, assigned and commented on a breach, and where its escalation stands',
        tags: ['response'],
        params: breachParams,
        response: { 200: actionsResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const breach = await breachFor(req.params.id, req.auth?.principal)
      const [rows, r] = await Promise.all([listActions(ch, breach.breachId), state.get(breach.breachId)])
      return {
        breachId: breach.breachId,
        actions: rows.map(presentAction),
        response: presentResponse(r, config),
      }
    },
  )

  app.get(
    '/api/response/breaches',
    {
      schema: {
        summary: 'Acknowledgement, owner, escalation step and holding silence of the breaches named in `ids`',
        tags: ['response'],
        querystring: responseListQuery,
        response: { 200: responseListResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const ids = [...new Set(req.query.ids)]
      const kpis = await kpisOfBreaches(ch, ids)
      const out: Record<string, ReturnType<typeof presentResponse>> = {}
      for (const id of ids) {
        const kpiId = kpis.get(id)
        if (kpiId === undefined || !mayRead(req.auth?.principal, kpiId)) continue
        out[id] = presentResponse(await state.get(id), config)
      }
      return { breaches: out }
    },
  )

  const presentSilence = (s: Silence) => ({
    id: s.id,
    kpi: s.kpi,
    scope: s.scope,
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    author: s.author,
    reason: s.reason,
    createdAt: s.createdAt,
    expiredAt: s.expiredAt ?? null,
    expiredBy: s.expiredBy ?? null,
    state: silenceState(s, deps.clock().getTime()),
  })
  /** A silence of one KPI: the caller must act on its area; of every KPI: admins only. */
  const maySilence = (p: Principal, kpi: string | null) =>
    kpi === null ? p.roles.has('admin') : mayAct(p, kpi)

  app.post(
    '/api/silences',
    {
      schema: {
        summary: 'Silence the alerts of a KPI and/or scope labels over a time range (maintenance window)',
        tags: ['response'],
        body: silenceBody,
        response: { 201: silenceResponse, ...protectedErrors },
      },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req, reply) => {
      const p = req.auth!.principal
      const b = req.body
      if (b.kpi !== undefined && !byId.has(b.kpi)) throw new BadRequestError([`kpi: unknown KPI ${b.kpi}`])
      const kpi = b.kpi ?? null
      if (!maySilence(p, kpi)) {
        throw new ForbiddenError(
          kpi === null
            ? 'only admins may silence every KPI'
            : `KPIs of area ${areaOf(kpi)} are not for your role`,
        )
      }
      const now = deps.clock()
      const startsAt = b.startsAt ? new Date(b.startsAt) : now
      const endsAt = new Date(b.endsAt)
      if (endsAt.getTime() <= startsAt.getTime())
        throw new BadRequestError(['endsAt: must be after startsAt'])
      if (endsAt.getTime() <= now.getTime()) throw new BadRequestError(['endsAt: must be in the future'])
      if (endsAt.getTime() - startsAt.getTime() > MAX_SILENCE_MS)
        throw new BadRequestError(['endsAt: a silence lasts at most 366 days'])
      const silence: Silence = {
        id: randomUUID(),
        kpi,
        scope: b.scope ?? {},
        startsAt: startsAt.toISOString(),
        endsAt: endsAt.toISOString(),
        author: p.name,
        reason: b.reason,
        createdAt: now.toISOString(),
      }
      // The record first: a silence nobody can audit is never in force.
      await insertSilence(ch, silence, now.getTime())
      await state.putSilence(silence)
      return reply.code(201).send({ silence: presentSilence(silence) })
    },
  )

  app.get(
    '/api/silences',
    {
      schema: {
        summary: 'Silences, newest first, with their state now',
        tags: ['response'],
        querystring: silencesQuery,
        response: { 200: silencesResponse, ...protectedErrors },
      },
      config: { access: access.anyReader },
    },
    async (req) => {
      const p = req.auth?.principal
      const list = (await listSilences(ch, 10_000))
        .filter((s) => s.kpi === null || mayRead(p, s.kpi))
        .map(presentSilence)
        .filter((s) => req.query.state === 'all' || s.state === req.query.state)
        .slice(0, req.query.limit)
      return { silences: list }
    },
  )

  app.post(
    '/api/silences/:id/expire',
    {
      schema: {
        summary: 'End a silence now: alerts it held for breaches still firing are delivered once',
        tags: ['response'],
        params: silenceParams,
        response: { 200: silenceResponse, ...protectedErrors },
      },
      config: act,
      bodyLimit: RESPONSE_BODY_LIMIT_BYTES,
    },
    async (req) => {
      const p = req.auth!.principal
      const current = await state.silence(req.params.id)
      if (!current) throw new NotFoundError('unknown silence')
      if (!maySilence(p, current.kpi)) throw new ForbiddenError('this silence is not for your role')
      const now = deps.clock()
      if (silenceEnd(current) <= now.getTime()) throw new HttpError(409, 'the silence has already ended')
      const expired: Silence = { ...current, expiredAt: now.toISOString(), expiredBy: p.name }
      await insertSilence(ch, expired, Math.max(now.getTime(), Date.parse(current.createdAt) + 1))
      await state.putSilence(expired)
      return { silence: presentSilence(expired) }
    },
  )
}

export function mountResponseApi(http: HttpServer, deps: ResponseApiDeps): void {
  http.register(responseApi, deps)
}
