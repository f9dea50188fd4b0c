import { z } from 'zod'
import { REGIME_IDS, stepNames } from '../kpi/regimes.js'
import { identifier, ms, timestamp } from './common.js'

/**
 * The optional fields of a privacy incident that drive the regulatory notification clocks
 * (shared/kpi/regimes.ts). All optional: a v1 event without them is valid and means what it meant
 * (GDPR Art. 33 from `notifiable`, awareness = detection).
 */

export const regimeReportSchema = z
  .strictObject({
    regime: z.enum(REGIME_IDS),
    step: identifier.describe('The step of the regime, e.g. early_warning, notification, final_report.'),
    sentAt: timestamp.describe('When the report was sent to the authority (or the individuals).'),
  })
  .describe("A report sent for one step of a regime; it stops that step's clock.")

export const regimesField = {
  awarenessAt: timestamp
    .optional()
    .describe(
      'When the organisation became aware of the incident (NIS2, HIPAA anchors); default detectedAt.',
    ),
  classifiedAt: timestamp
    .optional()
    .describe('When the incident was classified as major (DORA: the initial notification is due 4 h after).'),
  regimes: z
    .array(z.enum(REGIME_IDS))
    .max(REGIME_IDS.length, `must list at most ${REGIME_IDS.length} regimes`)
    .optional()
    .describe('The notification regimes that apply; absent: the config rules on labels decide.'),
  jurisdictions: z
    .array(identifier.max(20, 'must be at most 20 characters'))
    .max(50, 'must list at most 50 jurisdictions')
    .optional()
    .describe('Jurisdictions concerned, e.g. ["EU", "DE"], matched by the config\'s regime rules.'),
  reports: z
    .array(regimeReportSchema)
    .max(50, 'must list at most 50 reports')
    .optional()
    .describe('Reports sent so far; a report once sent stays sent (later events may omit it).'),
}

interface RegimeFields {
  detectedAt: string
  notifiable: boolean
  awarenessAt?: string | undefined
  classifiedAt?: string | undefined
  regimes?: readonly string[] | undefined
  reports?: readonly { regime: string; step: string; sentAt: string }[] | undefined
}

/** Rules across fields: times not before detection, steps that exist, GDPR Art. 33 only when notifiable. */
export function regimeStepFieldChecks(d: RegimeFields, ctx: z.RefinementCtx): void {
  const detected = ms(d.detectedAt)
  for (const field of ['awarenessAt', 'classifiedAt'] as const) {
    const value = d[field]
    if (value !== undefined && ms(value) < detected) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `${field} (${value}) is before detectedAt (${d.detectedAt})`,
      })
    }
  }
  if (d.regimes?.includes('gdpr_art33') && !d.notifiable) {
    ctx.addIssue({
      code: 'custom',
      path: ['regimes'],
      message: 'lists gdpr_art33 but notifiable is false (GDPR Art. 33 applies to notifiable incidents)',
    })
  }
  d.reports?.forEach((r, i) => {
    if (!stepNames.includes(`${r.regime}/${r.step}`)) {
      const steps = stepNames.filter((s) => s.startsWith(`${r.regime}/`)).map((s) => s.split('/')[1])
      ctx.addIssue({
        code: 'custom',
        path: ['reports', i, 'step'],
        message: `"${r.step}" is not a step of ${r.regime} (steps: ${steps.join(', ')})`,
      })
    }
    if (ms(r.sentAt) < detected) {
      ctx.addIssue({
        code: 'custom',
        path: ['reports', i, 'sentAt'],
        message: `sentAt (${r.sentAt}) is before detectedAt (${d.detectedAt})`,
      })
    }
  })
}
