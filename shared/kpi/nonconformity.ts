import { z } from 'zod'
import { identifier, text } from '../events/common.js'
import { type IsoStandard, isKnownReference } from '../iso/index.js'
import { KPIS, type KpiDefinition } from './catalog.js'
import { durationSchema, parseDuration } from './duration.js'

/**
 * `nonconformity:` in the config file: a breach that stays critical longer than `after` opens a
 * nonconformity (an audit-finding event on aims.audit-findings.v1, clauses 9.1 and 10.2 of both
 * standards), with a corrective-action due date `dueInDays` after it is raised. Without the section no
 * nonconformity is opened by time; one can still be opened on demand (POST /api/breaches/:id/nonconformity).
 *
 * ```yaml
 * nonconformity:
 *   after: 4h
 *   dueInDays: 30
 *   kpis:
 *     privacy.notification_clock_hours: { after: 1h, dueInDays: 7, kind: major_nc }
 *     model.accuracy: { enabled: false }
 * ```
 */

/** Kinds a breach can open: an observation or OFI is not a nonconformity. */
export const nonconformityKinds = ['major_nc', 'minor_nc'] as const

const dueInDays = z
  .number()
  .int('must be a whole number of days')
  .min(1, 'must be at least 1 day')
  .max(3650, 'must be at most 3650 days')

/** Settings one KPI may change. */
const perKpiSchema = z.strictObject({
  /** Opens nonconformities for this KPI's breaches. Default: true, except audit KPIs (see below). */
  enabled: z.boolean().optional(),
  /** How long a breach must stay critical, e.g. 4h. Default: the section's `after`. */
  after: durationSchema.optional(),
  /** Days from raising the finding to its corrective-action due date. Default: the section's. */
  dueInDays: dueInDays.optional(),
  /** major_nc or minor_nc. Default: the section's. */
  kind: z.enum(nonconformityKinds).optional(),
})

export const nonconformityConfigSchema = z.strictObject({
  /** false: no nonconformity is opened by time (on demand still works). Default true. */
  enabled: z.boolean().optional(),
  /** How long a breach must stay critical before it opens a nonconformity. Default 24h. */
  after: durationSchema.optional(),
  /** Days from raising the finding to its corrective-action due date. Default 30. */
  dueInDays: dueInDays.optional(),
  /** major_nc or minor_nc. Default minor_nc (a major one is itself a critical audit KPI breach). */
  kind: z.enum(nonconformityKinds).optional(),
  /** Who owns the corrective action, as the finding's `owner`. Default "ISMS/AIMS owner". */
  owner: text(200).optional(),
  /** The finding's `auditId`: the monitoring programme these findings belong to. Default "kpi-monitoring". */
  auditId: identifier.optional(),
  /** Per KPI id; unknown ids are rejected. */
  kpis: z
    .strictObject(
      Object.fromEntries(KPIS.map((k) => [k.id, perKpiSchema.optional()])) as Record<
        string,
        z.ZodOptional<typeof perKpiSchema>
      >,
    )
    .optional(),
})
export type NonconformityConfig = z.infer<typeof nonconformityConfigSchema>

/** What opening a nonconformity for one KPI's breach uses, every field resolved. */
export interface NonconformitySettings {
  /** Opened by time (the section is present, enabled, and the KPI not turned off). */
  byTime: boolean
  afterMs: number
  after: string
  dueInDays: number
  kind: (typeof nonconformityKinds)[number]
  owner: string
  auditId: string
}

export const NONCONFORMITY_DEFAULTS = {
  after: '24h',
  dueInDays: 30,
  kind: 'minor_nc',
  owner: 'ISMS/AIMS owner',
  auditId: 'kpi-monitoring',
} as const

/**
 * The settings for `kpi`. Audit KPIs open none by time unless their entry says `enabled: true`: their
 * breaches are about nonconformities already, and a finding about a finding would count in the same KPIs.
 */
export function resolveNonconformity(
  kpi: KpiDefinition,
  config: NonconformityConfig | undefined,
): NonconformitySettings {
  const entry = config?.kpis?.[kpi.id]
  const after = entry?.after ?? config?.after ?? NONCONFORMITY_DEFAULTS.after
  const kpiOn = entry?.enabled ?? kpi.area !== 'audit'
  return {
    byTime: config !== undefined && config.enabled !== false && kpiOn,
    after,
    afterMs: parseDuration(after),
    dueInDays: entry?.dueInDays ?? config?.dueInDays ?? NONCONFORMITY_DEFAULTS.dueInDays,
    kind: entry?.kind ?? config?.kind ?? NONCONFORMITY_DEFAULTS.kind,
    owner: config?.owner ?? NONCONFORMITY_DEFAULTS.owner,
    auditId: config?.auditId ?? NONCONFORMITY_DEFAULTS.auditId,
  }
}

/** The clauses every breach nonconformity cites: monitoring (9.1) and corrective action (10.2). */
const BASE_CLAUSES = ['9.1', '10.2'] as const

/**
 * Every reference a breach nonconformity cites, as "<standard>:<id>": 9.1 and 10.2 of both standards, then
 * the KPI's own references (each once, in the catalog's order).
 */
export function nonconformityReferences(kpi: KpiDefinition): string[] {
  const out = new Set<string>()
  for (const standard of ['ISO27001', 'ISO42001'] as const) {
    for (const c of BASE_CLAUSES) out.add(`${standard}:${c}`)
  }
  for (const id of kpi.iso.iso27001) out.add(`ISO27001:${id}`)
  for (const id of kpi.iso.iso42001) out.add(`ISO42001:${id}`)
  return [...out]
}

/**
 * The one (standard, clause) the finding is filed under (the contract has one): the KPI's first own
 * reference other than 9.1 in its home standard (ISO 42001 for model KPIs, ISO 27001 otherwise; the other
 * when the home one has none), so the NC KPIs count it against the control the KPI evidences and a
 * repeat lands on the same control; 10.2 when the KPI cites nothing else.
 */
export function primaryReference(kpi: KpiDefinition): { standard: IsoStandard; clause: string } {
  const order: IsoStandard[] = kpi.area === 'model' ? ['ISO42001', 'ISO27001'] : ['ISO27001', 'ISO42001']
  for (const standard of order) {
    const own = standard === 'ISO27001' ? kpi.iso.iso27001 : kpi.iso.iso42001
    const clause = own.find((id) => id !== '9.1' && isKnownReference(standard, id))
    if (clause !== undefined) return { standard, clause }
  }
  return { standard: order[0]!, clause: '10.2' }
}
