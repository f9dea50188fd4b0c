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

// ----- v1 extension (issue 12): prediction-only counts and intersectional cells, both optional -----------

const predictionCountsSchema = z.strictObject({
  group: text(100).describe('Group of the protected attribute, e.g. "female" or "18-25".'),
  selected: count(MAX_SAMPLES).describe('Predictions of this group that were positive (selected).'),
  total: count(MAX_SAMPLES).describe('Predictions of this group, labelled or not.'),
})

const predictionAttributeSchema = z.strictObject({
  attribute: text(100).describe('Protected attribute, e.g. "sex" or "age_band".'),
  groups: z
    .array(predictionCountsSchema)
    .min(1, 'must list at least one group')
    .max(100, 'must list at most 100 groups'),
})

/** The joint of the attribute names of an intersection: its `attribute` in facts and KPI scopes. */
export const INTERSECTION_JOINT = '×'

/** The attribute name an intersection's cells are stored and assessed under, e.g. "sex×age_band". */
export function intersectionName(attributes: readonly string[]): string {
  return attributes.join(INTERSECTION_JOINT)
}

const MAX_CELLS = 256

const cellSchema = z.strictObject({
  values: z
    .record(text(100), text(100))
    .describe(
      'The value of every attribute of the intersection, e.g. {"sex": "female", "age_band": "18-25"}.',
    ),
  tp: count(MAX_SAMPLES).optional(),
  fp: count(MAX_SAMPLES).optional(),
  tn: count(MAX_SAMPLES).optional(),
  fn: count(MAX_SAMPLES).optional(),
  selected: count(MAX_SAMPLES).optional(),
  total: count(MAX_SAMPLES).optional(),
})

const intersectionSchema = z.strictObject({
  attributes: z
    .array(text(100))
    .min(2, 'must name at least two attributes')
    .max(4, 'must name at most four attributes')
    .describe('The attributes combined, in order, e.g. ["sex", "age_band"].'),
  cells: z
    .array(cellSchema)
    .min(1, 'must list at least one cell')
    .max(MAX_CELLS, `must list at most ${MAX_CELLS} cells`)
    .describe(
      'One entry per combination of values: confusion counts (tp, fp, tn, fn) or prediction counts (selected, total), the same kind in every cell.',
    ),
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
    predictions: z
      .array(predictionAttributeSchema)
      .max(20, 'must list at most 20 attributes')
      .optional()
      .describe(
        'Prediction-only counts (selected of total) per group, for predictions whose labels have not arrived: selection-rate KPIs are computed from them at once. With predictions, `fairness` holds the labelled subset.',
      ),
    intersections: z
      .array(intersectionSchema)
      .max(10, 'must list at most 10 intersections')
      .optional()
      .describe(
        'Counts per combination of protected attributes (e.g. sex × age band), each combination a group of its own; an attribute named here but absent from `fairness`/`predictions` is assessed from the sums of the cells.',
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
    const countCount =
      (d.fairness?.length ?? 0) + (d.predictions?.length ?? 0) + (d.intersections?.length ?? 0)
    if (metricCount === 0 && countCount === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'carries neither metrics nor fairness counts' })
    }
    const predicted = d.predictions !== undefined && d.predictions.length > 0
    const labelled = predicted ? checkPredictions(d, ctx) : undefined

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
      // double counted, and every rate computed from them would be wrong. With prediction counts, the
      // confusion counts are the labelled subset: every attribute partitions that same subset.
      if (!predicted && total !== d.sampleSize) {
        ctx.addIssue({
          code: 'custom',
          path: ['fairness', a, 'groups'],
          message: `group counts of ${quote(attr.attribute)} add up to ${total}, but sampleSize is ${d.sampleSize}`,
        })
      } else if (predicted && labelled !== undefined && total !== labelled.total) {
        ctx.addIssue({
          code: 'custom',
          path: ['fairness', a, 'groups'],
          message: `labelled counts of ${quote(attr.attribute)} add up to ${total}, but those of ${quote(labelled.attribute)} to ${labelled.total}`,
        })
      }
    })
    d.intersections?.forEach((x, i) => {
      checkIntersection(d, x, i, labelled?.total ?? d.sampleSize, predicted, ctx)
    })
  })
  .describe(
    'One evaluation of one model version over a window. Rules beyond this schema: window.end > window.start; ' +
      'baselineVersion != modelVersion; at least one metric or fairness attribute; metrics.extra does not ' +
      'repeat a named metric (at most 50); per attribute, group names are unique, every group has ' +
      'tp+fp+tn+fn > 0 and the groups add up to sampleSize; attributes are unique. ' +
      'predictions (optional): per attribute, unique groups with 1 <= total, selected <= total, adding up to ' +
      'sampleSize; then the fairness attributes are the labelled subset: each adds up to the same number, and a ' +
      'group listed in both has tp+fp <= selected and tn+fn <= total-selected. ' +
      'intersections (optional): 2-4 unique attributes; every cell names exactly those attributes, once per ' +
      'combination, with either all of tp, fp, tn, fn (sum > 0) or both selected and total (total >= 1, ' +
      'selected <= total), the same kind in every cell; prediction cells add up to sampleSize, confusion cells ' +
      'to the labelled total; the joint name (attributes joined by "×") is not also a plain attribute.',
  )

export const modelMetricsEventSchema = cloudEventSchema(MODEL_METRICS_TYPE, modelMetricsDataSchema)

export type ModelMetricsData = z.infer<typeof modelMetricsDataSchema>
export type ModelMetricsEvent = z.infer<typeof modelMetricsEventSchema>
export type FairnessAttribute = ModelMetricsData['fairness'][number]
export type PredictionAttribute = NonNullable<ModelMetricsData['predictions']>[number]
export type Intersection = NonNullable<ModelMetricsData['intersections']>[number]
export type IntersectionCell = Intersection['cells'][number]

type Ctx = z.RefinementCtx
type Data = {
  sampleSize: number
  fairness?: readonly FairnessAttribute[] | undefined
  predictions?: readonly PredictionAttribute[] | undefined
}

/**
 * Prediction-only counts: unique attributes and groups, 1 <= total, selected <= total, each attribute
 * adding up to sampleSize; confusion counts of the same attribute are a subset of its predictions.
 * Returns the labelled total every `fairness` attribute must add up to (that of the first one).
 */
function checkPredictions(d: Data, ctx: Ctx): { attribute: string; total: number } | undefined {
  const byAttribute = new Map<string, Map<string, { selected: number; total: number }>>()
  d.predictions?.forEach((attr, a) => {
    if (byAttribute.has(attr.attribute)) {
      ctx.addIssue({
        code: 'custom',
        path: ['predictions', a, 'attribute'],
        message: `duplicate attribute ${quote(attr.attribute)}`,
      })
      return
    }
    const groups = new Map<string, { selected: number; total: number }>()
    byAttribute.set(attr.attribute, groups)
    let total = 0
    attr.groups.forEach((g, i) => {
      total += g.total
      if (g.total === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['predictions', a, 'groups', i],
          message: `group ${quote(g.group)} has no predictions (total = 0)`,
        })
      }
      if (g.selected > g.total) {
        ctx.addIssue({
          code: 'custom',
          path: ['predictions', a, 'groups', i, 'selected'],
          message: `selected (${g.selected}) exceeds total (${g.total})`,
        })
      }
      if (groups.has(g.group)) {
        ctx.addIssue({
          code: 'custom',
          path: ['predictions', a, 'groups', i, 'group'],
          message: `duplicate group ${quote(g.group)}`,
        })
      }
      groups.set(g.group, g)
    })
    if (total !== d.sampleSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['predictions', a, 'groups'],
        message: `prediction totals of ${quote(attr.attribute)} add up to ${total}, but sampleSize is ${d.sampleSize}`,
      })
    }
  })
  d.fairness?.forEach((attr, a) => {
    const predicted = byAttribute.get(attr.attribute)
    if (predicted === undefined) return
    attr.groups.forEach((g, i) => {
      const p = predicted.get(g.group)
      const where = ['fairness', a, 'groups', i]
      if (p === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: where,
          message: `group ${quote(g.group)} has labelled counts but no prediction counts in predictions of ${quote(attr.attribute)}`,
        })
      } else if (g.tp + g.fp > p.selected || g.tn + g.fn > p.total - p.selected) {
        ctx.addIssue({
          code: 'custom',
          path: where,
          message: `labelled counts of group ${quote(g.group)} exceed its predictions (tp+fp = ${g.tp + g.fp} of ${p.selected} selected, tn+fn = ${g.tn + g.fn} of ${p.total - p.selected} not selected)`,
        })
      }
    })
  })
  const first = d.fairness?.[0]
  if (first === undefined) return undefined
  return {
    attribute: first.attribute,
    total: first.groups.reduce((n, g) => n + g.tp + g.fp + g.tn + g.fn, 0),
  }
}

const CONFUSION = ['tp', 'fp', 'tn', 'fn'] as const
const PREDICTION = ['selected', 'total'] as const

/** The kind of counts a cell carries, or a message naming what is missing or mixed. */
function cellKind(c: IntersectionCell): 'confusion' | 'prediction' | string {
  const conf = CONFUSION.filter((k) => c[k] !== undefined)
  const pred = PREDICTION.filter((k) => c[k] !== undefined)
  if (conf.length === 4 && pred.length === 0) return 'confusion'
  if (pred.length === 2 && conf.length === 0) return 'prediction'
  if (conf.length > 0 && pred.length > 0)
    return 'carries both confusion and prediction counts: give one kind per intersection'
  if (conf.length > 0)
    return `gives ${conf.join(', ')} but not ${CONFUSION.filter((k) => !conf.includes(k)).join(', ')}`
  if (pred.length > 0) return `gives ${pred[0]} without ${PREDICTION.find((k) => k !== pred[0])}`
  return 'carries no counts (tp, fp, tn, fn or selected, total)'
}

function checkIntersection(
  d: Data,
  x: Intersection,
  i: number,
  labelledTotal: number,
  predicted: boolean,
  ctx: Ctx,
): void {
  const at = (...p: (string | number)[]) => ['intersections', i, ...p]
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message })
  const attrs = x.attributes
  if (new Set(attrs).size !== attrs.length) issue(at('attributes'), 'attributes must be unique')
  const name = intersectionName(attrs)
  const plain = [...(d.fairness ?? []), ...(d.predictions ?? [])].map((a) => a.attribute)
  if (plain.includes(name)) issue(at('attributes'), `${quote(name)} is also a plain attribute of this event`)
  let kind: 'confusion' | 'prediction' | undefined
  let sum = 0
  const seen = new Set<string>()
  x.cells.forEach((c, j) => {
    const keys = Object.keys(c.values)
    const missing = attrs.filter((a) => typeof c.values[a] !== 'string')
    const extra = keys.filter((k) => !attrs.includes(k))
    if (missing.length > 0 || extra.length > 0) {
      issue(
        at('cells', j, 'values'),
        `must name exactly ${attrs.join(', ')}${missing.length > 0 ? `; missing ${missing.join(', ')}` : ''}${extra.length > 0 ? `; unexpected ${extra.join(', ')}` : ''}`,
      )
      return
    }
    const combination = JSON.stringify(attrs.map((a) => c.values[a]))
    if (seen.has(combination)) issue(at('cells', j, 'values'), `duplicate combination ${combination}`)
    seen.add(combination)
    const k = cellKind(c)
    if (k !== 'confusion' && k !== 'prediction') {
      issue(at('cells', j), k)
      return
    }
    if (kind === undefined) kind = k
    else if (k !== kind) {
      issue(
        at('cells', j),
        `carries ${k} counts, cells before it ${kind} counts: give one kind per intersection`,
      )
      return
    }
    if (k === 'confusion') {
      const size = c.tp! + c.fp! + c.tn! + c.fn!
      if (size === 0) issue(at('cells', j), 'cell has no samples (tp+fp+tn+fn = 0)')
      sum += size
    } else {
      if (c.total === 0) issue(at('cells', j), 'cell has no predictions (total = 0)')
      if (c.selected! > c.total!)
        issue(at('cells', j, 'selected'), `selected (${c.selected}) exceeds total (${c.total})`)
      sum += c.total!
    }
  })
  const want = kind === 'prediction' || !predicted ? d.sampleSize : labelledTotal
  // Confusion cells beside predictions, with no plain labelled attribute to agree with: any subset.
  const free = kind === 'confusion' && predicted && (d.fairness?.length ?? 0) === 0
  if (kind !== undefined && (free ? sum > want : sum !== want)) {
    const what = kind === 'prediction' ? 'sampleSize' : predicted ? 'the labelled total' : 'sampleSize'
    issue(at('cells'), `cell counts of ${quote(name)} add up to ${sum}, but ${what} is ${want}`)
  }
}
