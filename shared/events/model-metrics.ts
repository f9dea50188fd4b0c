import { z } from 'zod'
import { businessUnit, count, identifier, ms, quote, text, timestamp } from './common.js'
import { cloudEventSchema } from './envelope.js'

export const MODEL_METRICS_TYPE = 'aims.model_metrics.v1'

export const modelEnvironments = ['production', 'staging', 'shadow', 'canary', 'development'] as const

/** The overall metrics every KPI knows by name; all are ratios. */
export const namedMetrics = ['accuracy', 'precision', 'recall', 'f1', 'auc'] as const

const MAX_SAMPLES = 1e12
const ratio = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1')

const groupCountsSchema = z.strictObject({
  group: text(100).describe('Group of the protected attribute, e.g. "female" or "18-25".'),
  tp: count(MAX_SAMPLES),
  fp: count(MAX_SAMPLES),
  tn: count(MAX_SAMPLES),
  fn: count(MAX_SAMPLES),
})

const fairnessAttributeSchema = z.strictObject({
  attribute: text(100).describe('Protected attribute, e.g. "sex" or "age_band".'),
  groups: z
    .array(groupCountsSchema)
    .min(1, 'must list at least one group')
    .max(100, 'must list at most 100 groups'),
})

export const modelMetricsDataSchema = z
  .strictObject({
    modelId: identifier,
    modelVersion: identifier,
    environment: z.enum(modelEnvironments),
    businessUnit,
    baselineVersion: identifier
      .optional()
      .describe('The version whose accuracy this one is compared against.'),
    window: z
      .strictObject({ start: timestamp, end: timestamp })
      .describe('Evaluation window, end after start.'),
    sampleSize: z
      .number()
      .int('must be an integer')
      .min(1, 'must be > 0')
      .max(MAX_SAMPLES, `must be <= ${MAX_SAMPLES}`),
    metrics: z
      .strictObject({
        accuracy: ratio.optional(),
        precision: ratio.optional(),
        recall: ratio.optional(),
        f1: ratio.optional(),
        auc: ratio.optional(),
        extra: z
          .record(
            z
              .string()
              .regex(
                /^[a-z][a-z0-9_]{0,62}$/,
                'metric names are lowercase snake_case, at most 63 characters',
              ),
            z.number(),
          )
          .optional()
          .describe('Further named metrics (finite numbers), e.g. {"log_loss": 0.31}.'),
      })
      .default({}),
    fairness: z
      .array(fairnessAttributeSchema)
      .max(20, 'must list at most 20 attributes')
      .default([])
      .describe(
        'Confusion counts per group of each protected attribute; fairness KPIs are computed from them.',
      ),
  })
  .superRefine((d, ctx) => {
    if (ms(d.window?.end) <= ms(d.window?.start)) {
      ctx.addIssue({
        code: 'custom',
        path: ['window', 'end'],
        message: `must be after window.start (${d.window.end} <= ${d.window.start})`,
      })
    }
    if (d.baselineVersion !== undefined && d.baselineVersion === d.modelVersion) {
      ctx.addIssue({ code: 'custom', path: ['baselineVersion'], message: 'must differ from modelVersion' })
    }

    const extra = d.metrics?.extra
    const extraNames = extra === undefined ? [] : Object.keys(extra)
    if (extra !== undefined) {
      const names = extraNames
      if (names.length > 50) {
        ctx.addIssue({ code: 'custom', path: ['metrics', 'extra'], message: 'must hold at most 50 metrics' })
      }
      for (const name of names) {
        if ((namedMetrics as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['metrics', 'extra', name],
            message: `duplicates metrics.${name}; give it there`,
          })
        }
      }
    }
    const metricCount = namedMetrics.filter((n) => d.metrics?.[n] !== undefined).length + extraNames.length
    if (metricCount === 0 && (d.fairness?.length ?? 0) === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'carries neither metrics nor fairness counts' })
    }

    const seenAttributes = new Map<string, number>()
    d.fairness?.forEach((attr, a) => {
      const firstAt = seenAttributes.get(attr.attribute)
      if (firstAt !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['fairness', a, 'attribute'],
          message: `duplicate attribute ${quote(attr.attribute)} (also at fairness[${firstAt}])`,
        })
      } else seenAttributes.set(attr.attribute, a)

      const seenGroups = new Map<string, number>()
      let total = 0
      attr.groups.forEach((g, i) => {
        const size = g.tp + g.fp + g.tn + g.fn
        total += size
        if (size === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['fairness', a, 'groups', i],
            message: `group ${quote(g.group)} has no samples (tp+fp+tn+fn = 0)`,
          })
        }
        const firstGroupAt = seenGroups.get(g.group)
        if (firstGroupAt !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['fairness', a, 'groups', i, 'group'],
            message: `duplicate group ${quote(g.group)} (also at groups[${firstGroupAt}])`,
          })
        } else seenGroups.set(g.group, i)
      })
      // Each attribute partitions the same evaluated sample; a mismatch means groups are missing or
      // double counted, and every rate computed from them would be wrong.
      if (total !== d.sampleSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['fairness', a, 'groups'],
          message: `group counts of ${quote(attr.attribute)} add up to ${total}, but sampleSize is ${d.sampleSize}`,
        })
      }
    })
  })
  .describe(
    'One evaluation of one model version over a window. Rules beyond this schema: window.end > window.start; ' +
      'baselineVersion != modelVersion; at least one metric or fairness attribute; metrics.extra does not ' +
      'repeat a named metric (at most 50); per attribute, group names are unique, every group has ' +
      'tp+fp+tn+fn > 0 and the groups add up to sampleSize; attributes are unique.',
  )

export const modelMetricsEventSchema = cloudEventSchema(MODEL_METRICS_TYPE, modelMetricsDataSchema)

export type ModelMetricsData = z.infer<typeof modelMetricsDataSchema>
export type ModelMetricsEvent = z.infer<typeof modelMetricsEventSchema>
export type FairnessAttribute = ModelMetricsData['fairness'][number]
