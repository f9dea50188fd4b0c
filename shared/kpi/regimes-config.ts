import { z } from 'zod'
import { incidentCategories, incidentSeverities } from '../events/privacy-incident.js'
import { REGIME_IDS, type RegimeId, type RegimeIncidentFacts } from './regimes.js'

/**
 * `regimes:` in the config file: which notification regimes apply to an incident whose event names none.
 * Each rule matches on the incident's labels (every key given must match; a list matches any of its
 * values; `jurisdiction` matches when any of the incident's jurisdictions is listed) and adds its
 * regimes; the regimes of all matching rules apply. GDPR Art. 33 is the v1 `notifiable` flag and is not
 * chosen here.
 *
 * ```yaml
 * regimes:
 *   rules:
 *     - match: { jurisdiction: [EU], business_unit: [payments] }
 *       apply: [nis2, dora]
 *     - match: { category: [data_leak], jurisdiction: [US] }
 *       apply: [hipaa]
 * ```
 */

const CONFIGURABLE = REGIME_IDS.filter((r) => r !== 'gdpr_art33') as Exclude<RegimeId, 'gdpr_art33'>[]

const label = z.string().min(1, 'must not be empty').max(100, 'must be at most 100 characters')
const oneOrMany = <T extends z.ZodType<string>>(item: T) =>
  z.union([item, z.array(item).min(1, 'must list at least one value')])

export const regimeRuleSchema = z.strictObject({
  /** Incident labels to match; at least one. */
  match: z
    .strictObject({
      business_unit: oneOrMany(label).optional(),
      category: oneOrMany(z.enum(incidentCategories)).optional(),
      severity: oneOrMany(z.enum(incidentSeverities)).optional(),
      /** A jurisdiction code as producers send it (e.g. EU, DE, US). */
      jurisdiction: oneOrMany(label).optional(),
    })
    .refine((m) => Object.keys(m).length > 0, 'must name at least one label'),
  /** The regimes that apply to the matched incidents (gdpr_art33 follows `notifiable`). */
  apply: z
    .array(
      z.enum(CONFIGURABLE, {
        error: (i) =>
          i.input === 'gdpr_art33'
            ? 'gdpr_art33 applies to incidents marked notifiable; it is not chosen by rules'
            : `must be one of ${CONFIGURABLE.join(', ')}`,
      }),
    )
    .min(1, 'must list at least one regime'),
})
export type RegimeRule = z.infer<typeof regimeRuleSchema>

export const regimesConfigSchema = z.strictObject({
  /** Rules on incident labels, for incidents whose events name no regimes. */
  rules: z.array(regimeRuleSchema).default([]),
})
export type RegimesConfig = z.infer<typeof regimesConfigSchema>

const asList = (v: string | readonly string[]) => (typeof v === 'string' ? [v] : v)

function matches(rule: RegimeRule, f: RegimeIncidentFacts): boolean {
  const m = rule.match
  if (m.business_unit !== undefined && !asList(m.business_unit).includes(f.businessUnit)) return false
  if (m.category !== undefined && !asList(m.category).includes(f.category)) return false
  if (m.severity !== undefined && !asList(m.severity).includes(f.severity)) return false
  if (m.jurisdiction !== undefined) {
    const wanted = asList(m.jurisdiction)
    if (!f.jurisdictions.some((j) => wanted.includes(j))) return false
  }
  return true
}

/**
 * The regimes that apply to an incident: GDPR Art. 33 when it is notifiable; then the regimes its event
 * names, or, when it names none, those of every config rule it matches. In catalog order.
 */
export function applicableRegimes(f: RegimeIncidentFacts, config: RegimesConfig | undefined): Set<RegimeId> {
  const out = new Set<RegimeId>()
  if (f.notifiable) out.add('gdpr_art33')
  const named = f.regimes.filter((r): r is RegimeId => (REGIME_IDS as readonly string[]).includes(r))
  if (named.length > 0) {
    for (const r of named) if (r !== 'gdpr_art33') out.add(r)
  } else {
    for (const rule of config?.rules ?? []) if (matches(rule, f)) for (const r of rule.apply) out.add(r)
  }
  return new Set(REGIME_IDS.filter((r) => out.has(r)))
}
