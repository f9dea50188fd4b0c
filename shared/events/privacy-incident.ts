import { z } from 'zod'
import { businessUnit, controlReference, count, identifier, ms, timestamp } from './common.js'
import { cloudEventSchema } from './envelope.js'
import { regimeStepFieldChecks, regimesField } from './privacy-incident-regimes.js'

export const PRIVACY_INCIDENT_TYPE = 'aims.privacy_incident.v1'

export const incidentStatuses = ['detected', 'contained', 'notified', 'resolved', 'closed'] as const
export const incidentSeverities = ['low', 'medium', 'high', 'critical'] as const
export const incidentCategories = [
  'unauthorised_access',
  'data_leak',
  'lost_device',
  'misdirected_email',
  'ai_data_exposure',
  'malware',
  'phishing',
  'insider_misuse',
  'other',
] as const

/** The lifecycle timestamps in the order they must occur; each present one is checked against the last. */
const timeline = ['occurredAt', 'detectedAt', 'containedAt', 'resolvedAt', 'closedAt'] as const

/** The timestamp a status asserts: reporting "contained" without saying when defeats MTTC. */
const timestampOfStatus = {
  detected: 'detectedAt',
  contained: 'containedAt',
  notified: 'regulatorNotifiedAt',
  resolved: 'resolvedAt',
  closed: 'closedAt',
} as const

export const privacyIncidentDataSchema = z
  .strictObject({
    incidentId: identifier.describe('Stable id of the incident; every lifecycle event repeats it.'),
    status: z.enum(incidentStatuses),
    severity: z.enum(incidentSeverities),
    category: z.enum(incidentCategories),
    businessUnit,
    occurredAt: timestamp.optional().describe('When the incident began, if known.'),
    detectedAt: timestamp,
    containedAt: timestamp.optional(),
    resolvedAt: timestamp.optional(),
    closedAt: timestamp.optional(),
    notifiable: z
      .boolean()
      .describe('Whether GDPR Art. 33 requires notifying the supervisory authority (72 h).'),
    regulatorNotifiedAt: timestamp.optional(),
    recordsAffected: count(1e12),
    dataSubjectsAffected: count(1e10),
    aiSystemId: identifier
      .optional()
      .describe('The AI system involved, if any (required for ai_data_exposure).'),
    controls: z
      .array(controlReference)
      .max(50, 'must list at most 50 references')
      .default([])
      .describe('Controls and clauses the incident relates to, e.g. ["ISO27001:A.5.24", "ISO42001:A.8.4"].'),
    ...regimesField,
  })
  .superRefine((d, ctx) => {
    let previous: { field: string; at: number; text: string } | undefined
    for (const field of timeline) {
      const value = d[field]
      if (value === undefined) continue
      const at = ms(value)
      if (previous !== undefined && at < previous.at) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${field} (${value}) is before ${previous.field} (${previous.text})`,
        })
      }
      previous = { field, at, text: value }
    }
    if (d.regulatorNotifiedAt !== undefined && ms(d.regulatorNotifiedAt) < ms(d.detectedAt)) {
      ctx.addIssue({
        code: 'custom',
        path: ['regulatorNotifiedAt'],
        message: `regulatorNotifiedAt (${d.regulatorNotifiedAt}) is before detectedAt (${d.detectedAt})`,
      })
    }

    const required = timestampOfStatus[d.status]
    if (required !== undefined && d[required] === undefined) {
      ctx.addIssue({ code: 'custom', path: [required], message: `is required when status is "${d.status}"` })
    }
    // A reopened incident must drop the later timestamps, or KPIs would count it as resolved/closed.
    if (d.closedAt !== undefined && d.status !== 'closed') {
      ctx.addIssue({
        code: 'custom',
        path: ['closedAt'],
        message: `is set but status is "${d.status}" (only closed incidents have closedAt)`,
      })
    }
    if (d.resolvedAt !== undefined && d.status !== 'resolved' && d.status !== 'closed') {
      ctx.addIssue({
        code: 'custom',
        path: ['resolvedAt'],
        message: `is set but status is "${d.status}" (only resolved or closed incidents have resolvedAt)`,
      })
    }
    if (d.resolvedAt !== undefined && d.containedAt === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['containedAt'],
        message: 'is required once resolvedAt is set (use the same time if both happened at once)',
      })
    }
    regimeStepFieldChecks(d, ctx)
    if (d.category === 'ai_data_exposure' && d.aiSystemId === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['aiSystemId'],
        message: 'is required when category is "ai_data_exposure"',
      })
    }
  })
  .describe(
    'A privacy incident lifecycle step; the latest event per incidentId wins. Rules beyond this schema: ' +
      'occurredAt <= detectedAt <= containedAt <= resolvedAt <= closedAt and regulatorNotifiedAt >= detectedAt; ' +
      'status contained/notified/resolved/closed requires containedAt/regulatorNotifiedAt/resolvedAt/closedAt; ' +
      'closedAt only when closed, resolvedAt only when resolved or closed, resolvedAt requires containedAt; ' +
      'category ai_data_exposure requires aiSystemId; controls must name real clauses or Annex A controls.',
  )

export const privacyIncidentEventSchema = cloudEventSchema(PRIVACY_INCIDENT_TYPE, privacyIncidentDataSchema)

export type PrivacyIncidentData = z.infer<typeof privacyIncidentDataSchema>
export type PrivacyIncidentEvent = z.infer<typeof privacyIncidentEventSchema>
