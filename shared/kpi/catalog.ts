import { z } from 'zod'
import { modelEnvironments } from '../events/model-metrics.js'
import { durationSchema } from './duration.js'
import { RATE_DEFINITIONS } from './fairness/rates.js'
import {
  type FairnessKpiSpec,
  fairnessKpiSpecSchema,
  kpiName,
  METRIC_RATES,
  PARITY_METRICS,
  type ParityMetric,
} from './fairness/spec.js'
import { regimeKpiDefinitions } from './regimes.js'

export { factVocabulary } from './vocabulary.js'

/**
 * The KPI catalog (ISO/IEC 27001 & 42001 clause 9.1 "monitoring and measurement"), as data: what each
 * KPI measures, over which scope and window, its default thresholds and the clauses / Annex A controls
 * it evidences. How each is computed:
 * - live, incrementally from the entity state ClickHouse keeps at insert (shared/kpi/engine/*: privacy
 *   and audit aggregates with exact deadlines, model KPIs per model on each evaluation);
 * - by reference, from the facts (shared/kpi/sql.ts): the readable definition, used to check the live
 *   values and to recompute reported figures.
 * The config file (`thresholds.ts`) tunes the thresholds; nothing here does I/O.
 *
 * Model KPIs are scoped by environment: a staging evaluation is its own series. Alerts are for
 * production by default (a catalog override disables breaches elsewhere); the config file can enable
 * another environment with its own thresholds (`overrides: [{ match: { environment: staging }, ... }]`).
 */

export const kpiAreaSchema = z.enum(['privacy', 'model', 'audit'])
export type KpiArea = z.infer<typeof kpiAreaSchema>

export const directionSchema = z.enum(['higher_is_better', 'lower_is_better'])
export type Direction = z.infer<typeof directionSchema>

/**
 * How a value is compared with a threshold: the value breaches when `value <op> threshold`.
 * lower_is_better KPIs use gt/gte, higher_is_better KPIs lt/lte.
 */
export const comparatorSchema = z.enum(['gt', 'gte', 'lt', 'lte'])
export type Comparator = z.infer<typeof comparatorSchema>

const labelName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a snake_case label name')
const thresholdValue = z.number().finite().nullable()

/** A per-scope threshold override; `match` selects scopes by label (a list = any of those values). */
export const thresholdOverrideSchema = z.strictObject({
  /** Scope labels to match, e.g. `{ model_id: credit-scoring }`; a list matches any of its values. */
  match: z
    .record(labelName, z.union([z.string(), z.array(z.string()).min(1)]))
    .refine((m) => Object.keys(m).length > 0, 'must name at least one scope label'),
  /** Turns the KPI off (no breaches) for the matched scopes. */
  enabled: z.boolean().optional(),
  /** How long the condition must hold before the breach fires, e.g. 5m. */
  for: durationSchema.optional(),
  /** Warning threshold; null removes the warning level. */
  warning: thresholdValue.optional(),
  /** Critical threshold; null removes the critical level. */
  critical: thresholdValue.optional(),
})
export type ThresholdOverride = z.infer<typeof thresholdOverrideSchema>

export const isoRefsSchema = z.strictObject({
  iso27001: z.array(z.string().regex(/^(A\.)?\d+(\.\d+)*$/)),
  iso42001: z.array(z.string().regex(/^(A\.)?\d+(\.\d+)*$/)),
})

export const kpiDefinitionSchema = z
  .strictObject({
    /** `<area>.<name>`, stable: it is part of every fingerprint. */
    id: z.string().regex(/^(privacy|model|audit)\.[a-z0-9_]+$/),
    title: z.string().min(1),
    description: z.string().min(1),
    unit: z.string().min(1),
    direction: directionSchema,
    area: kpiAreaSchema,
    /** Labels identifying one series, in output column order; [] = one global value. */
    scope: z.array(labelName),
    /** The look-back window (`30d`, `90d`, ...), `latest` (latest state) or `all` (all history). */
    window: z.union([durationSchema, z.literal('latest'), z.literal('all')]),
    /** True when the value can change with time alone (clocks, due dates, rolling windows): the sweep. */
    timeDriven: z.boolean(),
    thresholds: z.strictObject({
      op: comparatorSchema,
      warning: thresholdValue,
      critical: thresholdValue,
      for: durationSchema,
      /** Catalog-level per-scope defaults (applied before the config file). */
      overrides: z.array(thresholdOverrideSchema),
    }),
    iso: isoRefsSchema,
    /**
     * false: the KPI is computed only when the config file sets `enabled: true` for it (the fairness parity
     * set beyond the small default set). Default true.
     */
    enabledByDefault: z.boolean().optional(),
    /**
     * Fairness KPIs: the parity metric and form computed from the group counts by shared/kpi/fairness, and
     * the reference group by default (the config file may choose another). Their values carry the sample
     * size, a confidence interval and, when not estimable, a reason; they are judged against a tolerance
     * band (|difference| <= threshold; threshold <= ratio <= 1 / threshold) compared exactly.
     */
    fairness: fairnessKpiSpecSchema.optional(),
  })
  .superRefine((k, ctx) => {
    const issue = (message: string, path: (string | number)[]) =>
      ctx.addIssue({ code: 'custom', message, path })
    if (!k.id.startsWith(`${k.area}.`)) issue(`id must start with "${k.area}."`, ['id'])
    const lowerOps: Comparator[] = ['gt', 'gte']
    if ((k.direction === 'lower_is_better') !== lowerOps.includes(k.thresholds.op)) {
      issue(`op ${k.thresholds.op} contradicts direction ${k.direction}`, ['thresholds', 'op'])
    }
    k.thresholds.overrides.forEach((o, i) => {
      for (const label of Object.keys(o.match)) {
        if (!k.scope.includes(label))
          issue(`${label} is not a scope label`, ['thresholds', 'overrides', i, 'match'])
      }
    })
  })
export type KpiDefinition = z.infer<typeof kpiDefinitionSchema>

// ---------------------------------------------------------------------------------------------------
// ISO references.

/** Incident management (27001 A.5.24–A.5.28), PII (A.5.34); AI incident communication (42001 A.8.4). */
const INCIDENT_ISO = {
  iso27001: ['9.1', 'A.5.24', 'A.5.25', 'A.5.26', 'A.5.27', 'A.5.28', 'A.5.34'],
  iso42001: ['9.1', 'A.8.4'],
}
/** Verification and validation, operation and monitoring of AI systems. */
const MODEL_PERFORMANCE_ISO = { iso27001: [], iso42001: ['9.1', 'A.6.2.4', 'A.6.2.6'] }
/**
 * Impact on individuals or groups (A.5.4), operation and monitoring (A.6.2.6), data quality (A.7.4);
 * the protected attributes are personal data, hence 27001 A.5.34.
 */
const FAIRNESS_ISO = { iso27001: ['A.5.34'], iso42001: ['9.1', 'A.5.4', 'A.6.2.6', 'A.7.4'] }
/** Monitoring, internal audit, nonconformity and corrective action, in both management systems. */
const AUDIT_ISO = { iso27001: ['9.1', '9.2', '10.2'], iso42001: ['9.1', '9.2', '10.2'] }

// ---------------------------------------------------------------------------------------------------
// Fairness: the parity set from group counts (shared/kpi/fairness), one KPI per metric and form.

/** The KPIs computed unless the config file turns them off; the rest of the parity set is opt-in. */
export const DEFAULT_FAIRNESS_KPI_IDS = [
  'model.demographic_parity_difference',
  'model.disparate_impact_ratio',
  'model.equalized_odds_difference',
  'model.accuracy_gap',
] as const

const METRIC_TEXT: Record<ParityMetric, { title: string; what: string; also?: string }> = {
  demographic_parity: {
    title: 'Demographic parity',
    what: 'selection rate (share predicted positive; from prediction counts when given)',
  },
  equal_opportunity: { title: 'Equal opportunity', what: 'true positive rate' },
  false_positive_rate: { title: 'False positive rate', what: 'false positive rate' },
  false_negative_rate: { title: 'False negative rate', what: 'false negative rate' },
  predictive_parity: { title: 'Predictive parity', what: 'precision (positive predictive value)' },
  false_discovery_rate: { title: 'False discovery rate', what: 'false discovery rate' },
  false_omission_rate: { title: 'False omission rate', what: 'false omission rate' },
  negative_predictive_value: { title: 'Negative predictive value', what: 'negative predictive value' },
  accuracy: { title: 'Accuracy', what: 'accuracy' },
  average_odds: {
    title: 'Average odds',
    what: 'true and false positive rates, ½[(FPR_g − FPR_ref) + (TPR_g − TPR_ref)] (AIF360)',
  },
  equalized_odds: {
    title: 'Equalized odds',
    what: 'true and false positive rates (the larger gap; Fairlearn)',
  },
}

/** Existing titles and descriptions kept word for word where the KPI predates the parity set. */
const FAIRNESS_TITLES: Record<string, string> = {
  demographic_parity_difference: 'Demographic parity difference',
  disparate_impact_ratio: 'Disparate impact ratio',
  equalized_odds_difference: 'Equalized odds difference',
  accuracy_gap: 'Accuracy gap between groups',
}

function fairnessDefinitions(): KpiDefinition[] {
  const out: KpiDefinition[] = []
  for (const metric of PARITY_METRICS) {
    for (const form of ['difference', 'ratio'] as const) {
      // The default reference: the spread (Fairlearn's max − min, min / max) where the metric has one.
      const reference = metric === 'average_odds' ? 'majority' : 'spread'
      const spec: FairnessKpiSpec = { metric, form, reference }
      if (!fairnessKpiSpecSchema.safeParse(spec).success) continue
      // The module's names of the spread forms (the catalog's four keep theirs); the reference group is a
      // setting of the KPI, not part of its id.
      const name = reference === 'spread' ? kpiName(spec) : `${metric}_${form}`
      const id = `model.${name}`
      const text = METRIC_TEXT[metric]
      const labels = METRIC_RATES[metric].some((r) => RATE_DEFINITIONS[r].needsLabels)
      const compared =
        reference === 'spread'
          ? form === 'difference'
            ? 'max − min'
            : 'min / max'
          : 'each group against the largest group'
      const description = `${form === 'difference' ? 'Difference' : 'Ratio'} in ${text.what} between the groups of a protected attribute (${compared}; the reference group is configurable), from the latest evaluation${labels ? "'s labelled counts" : ''}; with its sample size and ${form === 'difference' ? "Newcombe's" : 'the log (Katz)'} confidence interval. Not estimable (insufficient data) with fewer than two groups of the minimum sample size.${name === 'disparate_impact_ratio' ? ' Below 0.8 fails the four-fifths rule.' : ''}`
      out.push({
        id,
        title: FAIRNESS_TITLES[name] ?? `${text.title} ${form}`,
        description,
        unit: form,
        direction: form === 'difference' ? 'lower_is_better' : 'higher_is_better',
        area: 'model',
        scope: FAIRNESS_SCOPE,
        window: 'latest',
        timeDriven: false,
        thresholds:
          form === 'difference'
            ? {
                op: 'gt',
                warning: metric === 'accuracy' ? 0.05 : 0.1,
                critical: metric === 'accuracy' ? 0.1 : 0.2,
                for: '0s',
                overrides: PRODUCTION_ONLY,
              }
            : { op: 'lt', warning: 0.8, critical: 0.6, for: '0s', overrides: PRODUCTION_ONLY },
        iso: FAIRNESS_ISO,
        enabledByDefault: (DEFAULT_FAIRNESS_KPI_IDS as readonly string[]).includes(id),
        fairness: spec,
      })
    }
  }
  // The default set first, in its historical order (scorecards and dashboards list KPIs in catalog order).
  const rank = (id: string) => {
    const i = (DEFAULT_FAIRNESS_KPI_IDS as readonly string[]).indexOf(id)
    return i < 0 ? DEFAULT_FAIRNESS_KPI_IDS.length : i
  }
  return out
    .map((k, i) => ({ k, i }))
    .sort((a, b) => rank(a.k.id) - rank(b.k.id) || a.i - b.i)
    .map(({ k }) => k)
}

// ---------------------------------------------------------------------------------------------------
// The catalog.

const MODEL_SCOPE = ['model_id', 'environment', 'model_version']
const FAIRNESS_SCOPE = ['model_id', 'environment', 'model_version', 'attribute']
/** Model breaches page for production; other environments are tracked, and alert only if configured. */
const PRODUCTION_ONLY = [
  { match: { environment: modelEnvironments.filter((e) => e !== 'production') }, enabled: false },
]

const definitions: KpiDefinition[] = [
  // ----- privacy -----
  {
    id: 'privacy.incidents_opened',
    title: 'Privacy incidents opened',
    description:
      'Privacy incidents detected in the last 30 days, by current severity. Any critical incident breaches.',
    unit: 'incidents',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: ['severity'],
    window: '30d',
    timeDriven: true,
    thresholds: {
      op: 'gt',
      warning: null,
      critical: null,
      for: '0s',
      overrides: [{ match: { severity: 'critical' }, critical: 0 }],
    },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.records_affected',
    title: 'Records affected by privacy incidents',
    description:
      'Records affected by the privacy incidents detected in the last 30 days (latest reported count).',
    unit: 'records',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: [],
    window: '30d',
    timeDriven: true,
    thresholds: { op: 'gt', warning: null, critical: null, for: '0s', overrides: [] },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.mttd_hours',
    title: 'Mean time to detect (MTTD)',
    description:
      'Mean hours from occurrence to detection of the privacy incidents detected in the last 90 days (those with a known occurrence time).',
    unit: 'hours',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: [],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'gt', warning: null, critical: null, for: '5m', overrides: [] },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.mttc_hours',
    title: 'Mean time to contain (MTTC)',
    description:
      'Mean hours from detection to containment of the privacy incidents contained in the last 90 days.',
    unit: 'hours',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: [],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'gt', warning: 24, critical: 72, for: '5m', overrides: [] },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.mttr_hours',
    title: 'Mean time to resolve (MTTR)',
    description:
      'Mean hours from detection to resolution of the privacy incidents resolved in the last 90 days.',
    unit: 'hours',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: [],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'gt', warning: null, critical: null, for: '5m', overrides: [] },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.notified_within_72h_ratio',
    title: 'Notifiable incidents notified within 72 h',
    description:
      'Of the notifiable incidents detected in the last 90 days whose outcome is known (notified, or 72 h passed), the share notified to the regulator within 72 h of becoming aware (GDPR Art. 33; awareness is the awarenessAt of the incident, else its detection time).',
    unit: 'ratio',
    direction: 'higher_is_better',
    area: 'privacy',
    scope: [],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'lt', warning: 1, critical: null, for: '0s', overrides: [] },
    iso: INCIDENT_ISO,
  },
  {
    id: 'privacy.notification_clock_hours',
    title: '72-hour notification clock',
    description:
      'Per notifiable incident not yet notified to the regulator: hours since becoming aware (awarenessAt, else detection; warning at 48 h, critical at 72 h), sampled exactly at each mark. Reads 0 once notified or no longer notifiable (so an open breach resolves through a value), then the series ends.',
    unit: 'hours',
    direction: 'lower_is_better',
    area: 'privacy',
    scope: ['incident_id'],
    window: 'latest',
    timeDriven: true,
    thresholds: { op: 'gte', warning: 48, critical: 72, for: '0s', overrides: [] },
    iso: INCIDENT_ISO,
  },
  ...regimeKpiDefinitions(),

  // ----- model -----
  ...(
    [
      // Accuracy has a default floor (the design's); F1 and AUC depend so much on the task (class
      // balance, fraud vs. scoring) that a default floor would page on healthy models: they are tracked
      // and breach only against a floor set per model in the config file.
      ['accuracy', 'Model accuracy', 'accuracy', 0.85, 0.8],
      ['f1', 'Model F1 score', 'F1 score', null, null],
      ['auc', 'Model ROC AUC', 'ROC AUC', null, null],
    ] as const
  ).map(
    ([metric, title, name, warning, critical]): KpiDefinition => ({
      id: `model.${metric}`,
      title,
      description: `The ${name} of each model version in its latest evaluation reporting it; below the model's floor breaches (floors overridable per model).`,
      unit: 'score',
      direction: 'higher_is_better',
      area: 'model',
      scope: MODEL_SCOPE,
      window: 'latest',
      timeDriven: false,
      thresholds: { op: 'lt', warning, critical, for: '0s', overrides: PRODUCTION_ONLY },
      iso: MODEL_PERFORMANCE_ISO,
    }),
  ),
  {
    id: 'model.accuracy_drop_points',
    title: 'Accuracy drop vs. baseline',
    description:
      "Accuracy points lost against the baseline version in the same environment (the evaluations' baseline_version, else the version first seen before this one): (baseline − current) × 100. Negative = improvement.",
    unit: 'points',
    direction: 'lower_is_better',
    area: 'model',
    scope: MODEL_SCOPE,
    window: 'latest',
    timeDriven: false,
    thresholds: { op: 'gt', warning: 5, critical: 10, for: '0s', overrides: PRODUCTION_ONLY },
    iso: MODEL_PERFORMANCE_ISO,
  },
  ...(
    [
      ['precision', 'Model precision', 'precision'],
      ['recall', 'Model recall', 'recall (true positive rate)'],
    ] as const
  ).map(
    ([metric, title, name]): KpiDefinition => ({
      id: `model.${metric}`,
      title,
      description: `The ${name} of each model version in its latest evaluation reporting it, else derived from the confusion counts of its latest evaluation; tracked, and breaches only against a floor set per model in the config file.`,
      unit: 'score',
      direction: 'higher_is_better',
      area: 'model',
      scope: MODEL_SCOPE,
      window: 'latest',
      timeDriven: false,
      thresholds: { op: 'lt', warning: null, critical: null, for: '0s', overrides: PRODUCTION_ONLY },
      iso: MODEL_PERFORMANCE_ISO,
    }),
  ),
  {
    id: 'model.label_coverage',
    title: 'Label coverage',
    description:
      "Share of the predictions of each model version's latest evaluation whose labels are known (labelled counts / prediction counts; the lowest over its protected attributes). Label-dependent fairness KPIs are computed from the labelled share only.",
    unit: 'ratio',
    direction: 'higher_is_better',
    area: 'model',
    scope: MODEL_SCOPE,
    window: 'latest',
    timeDriven: false,
    thresholds: { op: 'lt', warning: null, critical: null, for: '0s', overrides: PRODUCTION_ONLY },
    iso: { iso27001: [], iso42001: ['9.1', 'A.6.2.6', 'A.7.4'] },
  },
  ...fairnessDefinitions(),

  // ----- audit -----
  {
    id: 'audit.open_major_ncs',
    title: 'Open major nonconformities',
    description:
      'Major nonconformities not yet closed, by standard and clause / Annex A control (a series exists while the count is above zero, and reports 0 once when it drops).',
    unit: 'findings',
    direction: 'lower_is_better',
    area: 'audit',
    scope: ['standard', 'clause'],
    window: 'latest',
    timeDriven: false,
    thresholds: { op: 'gt', warning: null, critical: 0, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
  {
    id: 'audit.open_minor_ncs',
    title: 'Open minor nonconformities',
    description:
      'Minor nonconformities not yet closed, by standard and clause / Annex A control (a series exists while the count is above zero, and reports 0 once when it drops).',
    unit: 'findings',
    direction: 'lower_is_better',
    area: 'audit',
    scope: ['standard', 'clause'],
    window: 'latest',
    timeDriven: false,
    thresholds: { op: 'gt', warning: null, critical: null, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
  {
    id: 'audit.overdue_corrective_actions',
    title: 'Overdue corrective actions',
    description:
      'Nonconformities (major or minor) still open or in progress past their due date, by standard.',
    unit: 'findings',
    direction: 'lower_is_better',
    area: 'audit',
    scope: ['standard'],
    window: 'latest',
    timeDriven: true,
    thresholds: { op: 'gt', warning: 0, critical: null, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
  {
    id: 'audit.mean_days_to_close',
    title: 'Mean days to close nonconformities',
    description:
      'Mean days from raised to closed of the nonconformities closed in the last 90 days, by standard.',
    unit: 'days',
    direction: 'lower_is_better',
    area: 'audit',
    scope: ['standard'],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'gt', warning: null, critical: null, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
  {
    id: 'audit.on_time_closure_rate',
    title: 'On-time closure rate',
    description:
      'Of the nonconformities with a due date closed in the last 90 days, the share closed by their due date, by standard.',
    unit: 'ratio',
    direction: 'higher_is_better',
    area: 'audit',
    scope: ['standard'],
    window: '90d',
    timeDriven: true,
    thresholds: { op: 'lt', warning: 0.9, critical: 0.75, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
  {
    id: 'audit.repeat_findings',
    title: 'Repeat findings per control',
    description:
      'Findings raised in the last 365 days that repeat an earlier finding (repeat_of given in any of their events), by standard and clause / control; present while above zero.',
    unit: 'findings',
    direction: 'lower_is_better',
    area: 'audit',
    scope: ['standard', 'clause'],
    window: '365d',
    timeDriven: true,
    thresholds: { op: 'gte', warning: 2, critical: 3, for: '0s', overrides: [] },
    iso: AUDIT_ISO,
  },
]

/** The catalog, validated at module load (a bad definition is a bug: fail fast, in every test). */
export const KPIS: readonly KpiDefinition[] = Object.freeze(
  definitions.map((d) => kpiDefinitionSchema.parse(d)),
)

const byId = new Map(KPIS.map((k) => [k.id, k]))
if (byId.size !== KPIS.length) throw new Error('KPI catalog: duplicate id')

export const kpiIds: readonly string[] = KPIS.map((k) => k.id)

export function findKpi(id: string): KpiDefinition | undefined {
  return byId.get(id)
}

export function getKpi(id: string): KpiDefinition {
  const kpi = byId.get(id)
  if (!kpi) throw new Error(`unknown KPI id "${id}"`)
  return kpi
}

/** `now` as ClickHouse parses it for `{now:DateTime64(3)}` whatever the server time zone: unix seconds.ms. */
export function formatNowParam(now: Date): string {
  const t = now.getTime()
  if (!Number.isFinite(t) || t < 0) throw new Error(`invalid evaluation time ${String(now)}`)
  return `${Math.floor(t / 1000)}.${String(t % 1000).padStart(3, '0')}`
}
