import type { TopicRole, Topics } from '../kafka/topics.js'
import { AUDIT_FINDING_TYPE } from './audit-finding.js'
import { MODEL_METRICS_TYPE } from './model-metrics.js'
import type { AimsEvent, EventType } from './parse.js'
import { PRIVACY_INCIDENT_TYPE } from './privacy-incident.js'

/** Which topic (by role, see shared/kafka/topics.ts) carries each event type. */
export const topicRoleOfType: Record<EventType, TopicRole> = {
  [PRIVACY_INCIDENT_TYPE]: 'privacyIncidents',
  [MODEL_METRICS_TYPE]: 'modelMetrics',
  [AUDIT_FINDING_TYPE]: 'auditFindings',
}

export function topicForType(type: EventType, topics: Topics): string {
  return topics[topicRoleOfType[type]]
}

/**
 * The Kafka key of an event: the entity whose lifecycle it advances. Same key, same partition, so the
 * events of one incident, model or finding are consumed in the order they were produced.
 */
export function partitionKeyOf(event: AimsEvent): string {
  switch (event.type) {
    case PRIVACY_INCIDENT_TYPE:
      return event.data.incidentId
    case MODEL_METRICS_TYPE:
      return event.data.modelId
    case AUDIT_FINDING_TYPE:
      return event.data.findingId
  }
}
