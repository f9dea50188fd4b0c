import { z } from 'zod'
import { isKnownReference } from '../iso/index.js'
import {
  businessUnit,
  identifier,
  isoStandard,
  ms,
  text,
  timestamp,
  unknownReferenceMessage,
} from './common.js'
import { cloudEventSchema } from './envelope.js'

export const AUDIT_FINDING_TYPE = 'aims.audit_finding.v1'

export const auditTypes = ['internal', 'external', 'certification', 'surveillance'] as const
/** Major / minor nonconformity, observation, opportunity for improvement. */
export const findingKinds = ['major_nc', 'minor_nc', 'observation', 'ofi'] as const
export const findingStatuses = ['open', 'in_progress', 'closed', 'verified'] as const

const closedStatuses: ReadonlySet<string> = new Set(['closed', 'verified'])

export const auditFindingDataSchema = z
  .strictObject({
    findingId: identifier.describe('Stable id of the finding; every status change repeats it.'),
    auditId: identifier,
    auditType: z.enum(auditTypes),
    standard: isoStandard,
    clause: z
      .string()
      .min(1, 'must not be empty')
      .max(20, 'must be at most 20 characters')
      .describe('A clause ("9.2.1") or Annex A control ("A.5.24") of `standard`.'),
    kind: z.enum(findingKinds),
    status: z.enum(findingStatuses),
    title: text(500),
    owner: text(200).describe('Who owns the corrective action.'),
    businessUnit,
    raisedAt: timestamp,
    dueAt: timestamp.optional().describe('Corrective action deadline; past it an open finding is overdue.'),
    closedAt: timestamp.optional(),
    repeatOf: identifier.optional().describe('findingId of an earlier finding this one repeats.'),
  })
  .superRefine((d, ctx) => {
    if (!isKnownReference(d.standard, d.clause)) {
      ctx.addIssue({
        code: 'custom',
        path: ['clause'],
        message: unknownReferenceMessage(d.standard, d.clause),
      })
    }
    const closed = closedStatuses.has(d.status)
    if (closed && d.closedAt === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['closedAt'],
        message: `is required when status is "${d.status}"`,
      })
    }
    // A reopened finding must drop closedAt, or it would count as closed in the closure KPIs.
    if (!closed && d.closedAt !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['closedAt'],
        message: `is set but status is "${d.status}" (only closed or verified findings have closedAt)`,
      })
    }
    for (const field of ['dueAt', 'closedAt'] as const) {
      const value = d[field]
      if (value !== undefined && ms(value) < ms(d.raisedAt)) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} (${value}) is before raisedAt (${d.raisedAt})`,
        })
      }
    }
    if (d.repeatOf !== undefined && d.repeatOf === d.findingId) {
      ctx.addIssue({
        code: 'custom',
        path: ['repeatOf'],
        message: 'must name an earlier finding, not this one',
      })
    }
  })
  .describe(
    'An audit finding lifecycle step; the latest event per findingId wins. Rules beyond this schema: ' +
      'clause is a real clause or Annex A control of standard; closedAt is required for closed/verified ' +
      'and absent otherwise; dueAt and closedAt are not before raisedAt; repeatOf differs from findingId.',
  )

export const auditFindingEventSchema = cloudEventSchema(AUDIT_FINDING_TYPE, auditFindingDataSchema)

export type AuditFindingData = z.infer<typeof auditFindingDataSchema>
export type AuditFindingEvent = z.infer<typeof auditFindingEventSchema>
