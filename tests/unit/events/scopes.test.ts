import { describe, expect, it } from 'vitest'
import {
  type AimsEvent,
  distinctScopes,
  eventTypes,
  kpiTriggerJson,
  kpiTriggerSchema,
  parseEvent,
  partitionKeyOf,
  scopeKey,
  scopesOf,
  topicForType,
} from '../../../shared/events/index.js'
import { eventTopics, topicNames } from '../../../shared/kafka/topics.js'
import { allValidLines, sample } from './fixtures.js'

function event(raw: Record<string, unknown>): AimsEvent {
  const result = parseEvent(raw)
  if (!result.ok) throw new Error(result.reason)
  return result.event
}

describe('scopesOf', () => {
  it('names the incident of a privacy event', () => {
    expect(scopesOf(event(sample('privacy-incidents')))).toEqual([
      { area: 'privacy', incidentId: 'INC-2025-0142', businessUnit: 'retail-banking' },
    ])
  })

  it('names the model version and environment of a metrics event', () => {
    expect(scopesOf(event(sample('model-metrics', 1)))).toEqual([
      {
        area: 'model',
        modelId: 'loan-approval',
        modelVersion: '3.2.0',
        environment: 'production',
        businessUnit: 'retail-banking',
      },
    ])
  })

  it('names standard, clause, audit and finding of an audit event', () => {
    expect(scopesOf(event(sample('audit-findings', 4)))).toEqual([
      {
        area: 'audit',
        standard: 'ISO42001',
        clause: 'A.6.2.6',
        auditId: 'CA-2025-01',
        findingId: 'F-2025-032',
        businessUnit: 'retail-banking',
      },
    ])
  })

  it('coalesces the scopes of a batch: one per entity however many lifecycle steps', () => {
    const all = allValidLines().map((line) => event(JSON.parse(line)))
    const scopes = distinctScopes(all.flatMap(scopesOf))
    // 4 incidents; 3 (model, version, environment) slices, as two evaluations share one; 4 findings.
    expect(scopes.filter((s) => s.area === 'privacy')).toHaveLength(4)
    expect(scopes.filter((s) => s.area === 'model')).toHaveLength(3)
    expect(scopes.filter((s) => s.area === 'audit')).toHaveLength(4)
    expect(new Set(scopes.map(scopeKey)).size).toBe(scopes.length)
  })
})

describe('scopeKey and kpiTriggerJson', () => {
  const all = distinctScopes(allValidLines().flatMap((line) => scopesOf(event(JSON.parse(line)))))

  it('keys a scope by its JSON, whatever the order of its fields', () => {
    for (const scope of all) {
      expect(JSON.parse(scopeKey(scope))).toEqual(scope)
      const reversed = Object.fromEntries(Object.entries(scope).reverse()) as typeof scope
      expect(scopeKey(reversed)).toBe(scopeKey(scope))
    }
  })

  it('writes exactly JSON.stringify of the trigger, which the schema accepts', () => {
    const eventTime = '2025-03-03T09:41:07Z'
    const producedAt = '2025-03-03T09:41:08.120Z'
    const json = kpiTriggerJson(all.map(scopeKey), eventTime, producedAt)
    expect(json).toBe(JSON.stringify({ scopes: all, eventTime, producedAt }))
    expect(kpiTriggerSchema.parse(JSON.parse(json))).toEqual({ scopes: all, eventTime, producedAt })
  })
})

describe('kpiTriggerSchema', () => {
  const scopes = scopesOf(event(sample('privacy-incidents')))

  it('accepts a trigger built from scopesOf', () => {
    const trigger = { scopes, eventTime: '2025-03-03T09:41:07Z', producedAt: '2025-03-03T09:41:08.120Z' }
    expect(kpiTriggerSchema.parse(trigger)).toEqual(trigger)
  })

  it('rejects empty scope lists, unknown areas and extra fields', () => {
    const base = { eventTime: '2025-03-03T09:41:07Z', producedAt: '2025-03-03T09:41:08Z' }
    expect(kpiTriggerSchema.safeParse({ ...base, scopes: [] }).success).toBe(false)
    expect(kpiTriggerSchema.safeParse({ ...base, scopes: [{ area: 'finance', id: 'x' }] }).success).toBe(
      false,
    )
    expect(kpiTriggerSchema.safeParse({ ...base, scopes, extra: 1 }).success).toBe(false)
    expect(kpiTriggerSchema.safeParse({ ...base, scopes: [{ ...scopes[0], stray: 'x' }] }).success).toBe(
      false,
    )
  })
})

describe('routing', () => {
  const topics = topicNames({ KAFKA_TOPIC_PREFIX: 'test-' })

  it('maps every event type to one of the event topics, with the prefix', () => {
    expect(topicForType('aims.privacy_incident.v1', topics)).toBe('test-aims.privacy-incidents.v1')
    expect(topicForType('aims.model_metrics.v1', topics)).toBe('test-aims.model-metrics.v1')
    expect(topicForType('aims.audit_finding.v1', topics)).toBe('test-aims.audit-findings.v1')
    expect(eventTypes.map((t) => topicForType(t, topics)).sort()).toEqual([...eventTopics(topics)].sort())
  })

  it('keys events by the entity whose lifecycle they advance', () => {
    expect(partitionKeyOf(event(sample('privacy-incidents', 3)))).toBe('INC-2025-0142')
    expect(partitionKeyOf(event(sample('model-metrics', 1)))).toBe('loan-approval')
    expect(partitionKeyOf(event(sample('audit-findings', 2)))).toBe('F-2025-031')
  })
})
