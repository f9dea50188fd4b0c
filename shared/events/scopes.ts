import { z } from 'zod'
import { AUDIT_FINDING_TYPE } from './audit-finding.js'
import { isoStandard, timestamp } from './common.js'
import { MODEL_METRICS_TYPE, modelEnvironments } from './model-metrics.js'
import type { AimsEvent } from './parse.js'
import { PRIVACY_INCIDENT_TYPE } from './privacy-incident.js'

/**
 * A KPI scope is the slice of facts an event changed; the processor re-evaluates only the KPIs of the
 * scopes named on the kpi-triggers topic. Every field besides `area` is a string, so a scope maps 1:1
 * onto the `scope Map(String, String)` labels of kpi_values and breach fingerprints.
 */

const label = z.string().max(200)

export const privacyScopeSchema = z.strictObject({
  area: z.literal('privacy'),
  incidentId: label.min(1),
  businessUnit: label,
})
export const modelScopeSchema = z.strictObject({
  area: z.literal('model'),
  modelId: label.min(1),
  modelVersion: label.min(1),
  environment: z.enum(modelEnvironments),
  businessUnit: label,
})
export const auditScopeSchema = z.strictObject({
  area: z.literal('audit'),
  standard: isoStandard,
  clause: label.min(1),
  auditId: label.min(1),
  findingId: label.min(1),
  businessUnit: label,
})

export const scopeSchema = z.discriminatedUnion('area', [
  privacyScopeSchema,
  modelScopeSchema,
  auditScopeSchema,
])
export type Scope = z.infer<typeof scopeSchema>
/** Same as Scope, named for readers outside this module. */
export type KpiScope = Scope
export type ScopeArea = Scope['area']

/**
 * Scopes per trigger message, so one stays well under Kafka's default 1 MB message limit (a scope is
 * ~100-200 bytes of JSON); a producer with more splits them over several triggers.
 */
export const MAX_SCOPES_PER_TRIGGER = 2000

/** The message on aims.kpi-triggers.v1, published by the collector after the facts are stored. */
export const kpiTriggerSchema = z.strictObject({
  scopes: z.array(scopeSchema).min(1).max(MAX_SCOPES_PER_TRIGGER),
  /** The latest `time` among the events behind these scopes. */
  eventTime: timestamp,
  /** When the collector published the trigger; eventTime → producedAt is the ingest latency. */
  producedAt: timestamp,
})
export type KpiTrigger = z.infer<typeof kpiTriggerSchema>

/** The scopes one valid event touches. */
export function scopesOf(event: AimsEvent): Scope[] {
  switch (event.type) {
    case PRIVACY_INCIDENT_TYPE: {
      const d = event.data
      return [{ area: 'privacy', incidentId: d.incidentId, businessUnit: d.businessUnit }]
    }
    case MODEL_METRICS_TYPE: {
      const d = event.data
      return [
        {
          area: 'model',
          modelId: d.modelId,
          modelVersion: d.modelVersion,
          environment: d.environment,
          businessUnit: d.businessUnit,
        },
      ]
    }
    case AUDIT_FINDING_TYPE: {
      const d = event.data
      return [
        {
          area: 'audit',
          standard: d.standard,
          clause: d.clause,
          auditId: d.auditId,
          findingId: d.findingId,
          businessUnit: d.businessUnit,
        },
      ]
    }
  }
}

/**
 * A stable identity for a scope, for coalescing a batch's scopes: its JSON with the fields in a fixed
 * order, so equal scopes have equal keys whatever order their fields came in. Being the scope's own JSON,
 * a key goes into a trigger message as it is (kpiTriggerJson).
 */
export function scopeKey(scope: Scope): string {
  switch (scope.area) {
    case 'privacy':
      return JSON.stringify({
        area: 'privacy',
        incidentId: scope.incidentId,
        businessUnit: scope.businessUnit,
      })
    case 'model':
      return JSON.stringify({
        area: 'model',
        modelId: scope.modelId,
        modelVersion: scope.modelVersion,
        environment: scope.environment,
        businessUnit: scope.businessUnit,
      })
    case 'audit':
      return JSON.stringify({
        area: 'audit',
        standard: scope.standard,
        clause: scope.clause,
        auditId: scope.auditId,
        findingId: scope.findingId,
        businessUnit: scope.businessUnit,
      })
  }
}

/**
 * The trigger message for the scopes with these keys, exactly JSON.stringify of the KpiTrigger: written
 * from the keys, so a batch can hold its distinct scopes as key strings alone (one small object each).
 */
export function kpiTriggerJson(scopeKeys: readonly string[], eventTime: string, producedAt: string): string {
  return `{"scopes":[${scopeKeys.join(',')}],"eventTime":${JSON.stringify(eventTime)},"producedAt":${JSON.stringify(producedAt)}}`
}

/**
 * The Kafka key of a trigger carrying this scope: the unit of ownership in the processor. Privacy and audit
 * KPIs aggregate over every incident / finding, so each area is one key (one owner evaluates its windows
 * and deadlines); model KPIs never cross models, so each model is its own key and models spread over the
 * partitions.
 */
export function triggerKeyOf(scope: Scope): string {
  switch (scope.area) {
    case 'privacy':
      return 'area:privacy'
    case 'audit':
      return 'area:audit'
    case 'model':
      return `model:${scope.modelId}`
  }
}

/** The trigger key of a scope held as its `scopeKey` JSON (how the collector holds a batch's scopes). */
export function triggerKeyOfScopeKey(key: string): string {
  return triggerKeyOf(JSON.parse(key) as Scope)
}

/** The distinct scopes of many events, first occurrence kept: a batch of 10k updates to one incident → 1. */
export function distinctScopes(scopes: Iterable<Scope>): Scope[] {
  const byKey = new Map<string, Scope>()
  for (const scope of scopes) {
    const key = scopeKey(scope)
    if (!byKey.has(key)) byKey.set(key, scope)
  }
  return [...byKey.values()]
}
