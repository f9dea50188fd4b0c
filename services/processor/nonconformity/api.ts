import { z } from 'zod'
import { text } from '../../../shared/events/common.js'
import { areasOf, type Role } from '../../../shared/http/auth/roles.js'
import { ForbiddenError, HttpError, NotFoundError } from '../../../shared/http/errors.js'
import { errorResponse, protectedErrors } from '../../../shared/http/schemas.js'
import type { HttpArea, HttpServer } from '../../../shared/http/server.js'
import type { KpiDefinition } from '../../../shared/kpi/catalog.js'
import { breachIdParams } from '../api-schemas.js'
import { KpiGoneError, type NonconformityOpener } from './opener.js'

/**
 * POST /api/breaches/:id/nonconformity: opens the breach's nonconformity now (the review page's button,
 * an auditor's script), or answers with the one it already has. Security, auditors and admins only:
 * it raises a finding in the management system's records.
 */

export const NONCONFORMITY_ROLES = ['security', 'auditor', 'admin'] as const satisfies readonly Role[]

export const nonconformityRequestBody = z.strictObject({
  /** Why it is opened by hand; part of the finding's title. */
  reason: text(300).optional(),
})

export const nonconformityResponse = z.object({
  breachId: z.string(),
  created: z.boolean().describe('false: the breach already had this nonconformity; nothing new was sent'),
  nonconformity: z.object({
    findingId: z.string(),
    eventId: z.string(),
    kind: z.string(),
    standard: z.string(),
    clause: z.string(),
    references: z.array(z.string()),
    repeatOf: z.string().nullable(),
    openedBy: z.string(),
    requestedBy: z.string().nullable(),
    criticalSince: z.string().nullable(),
    raisedAt: z.string(),
    dueAt: z.string(),
  }),
})

export interface NonconformityApiDeps {
  opener: NonconformityOpener
  kpis: readonly KpiDefinition[]
}

const nonconformityApi: HttpArea<NonconformityApiDeps> = async (app, deps) => {
  const byId = new Map(deps.kpis.map((k) => [k.id, k]))
  app.post(
    '/api/breaches/:id/nonconformity',
    {
      schema: {
        summary: 'Open the breach’s nonconformity (an audit finding on aims.audit-findings.v1) now',
        tags: ['breaches'],
        params: breachIdParams,
        body: nonconformityRequestBody,
        response: {
          200: nonconformityResponse,
          201: nonconformityResponse,
          404: errorResponse.describe('No breach has this id'),
          409: errorResponse.describe('The breach’s KPI is no longer in the catalog'),
          ...protectedErrors,
        },
      },
      // A reason is a few hundred characters: a body far over that is not a request of this route.
      bodyLimit: 4096,
      config: { access: NONCONFORMITY_ROLES },
    },
    async (req, reply) => {
      const episode = await deps.opener.episode(req.params.id)
      if (!episode) throw new NotFoundError('unknown breach')
      const area = byId.get(episode.kpiId)?.area ?? episode.kpiId.split('.')[0] ?? ''
      if (!(areasOf(req.auth?.principal) as ReadonlySet<string>).has(area)) {
        throw new ForbiddenError(`breaches of area ${area} are not for your role`)
      }
      const result = await deps.opener
        .openOnRequest(episode, req.auth!.principal.name, req.body.reason)
        .catch((err: unknown) => {
          throw err instanceof KpiGoneError ? new HttpError(409, err.message) : err
        })
      return reply
        .code(result.created ? 201 : 200)
        .send({ breachId: episode.breachId, created: result.created, nonconformity: result.link })
    },
  )
}

export function mountNonconformityApi(http: HttpServer, deps: NonconformityApiDeps): void {
  http.register(nonconformityApi, deps)
}
