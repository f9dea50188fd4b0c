import type { incidentSeverities } from '../privacy-incident.js'
import { OCSF_DATA_SECURITY_FINDING, OCSF_INCIDENT_FINDING } from './schema.js'

/**
 * OCSF enumerations the mapping translates, with OCSF's captions (reasons quote them, so a producer sees
 * "severity_id: 99 (Other)" rather than a bare number). Values from the OCSF 1.x dictionary.
 */

type Severity = (typeof incidentSeverities)[number]

/** `severity_id` → the contract's severity. 0 Unknown and 99 Other have no equivalent and are refused. */
export const severityById: Record<number, { caption: string; severity?: Severity }> = {
  0: { caption: 'Unknown' },
  1: { caption: 'Informational', severity: 'low' },
  2: { caption: 'Low', severity: 'low' },
  3: { caption: 'Medium', severity: 'medium' },
  4: { caption: 'High', severity: 'high' },
  5: { caption: 'Critical', severity: 'critical' },
  6: { caption: 'Fatal', severity: 'critical' },
  99: { caption: 'Other' },
}

/** Where an incident is in its lifecycle according to `status_id`. */
export type OcsfPhase = 'open' | 'resolved' | 'closed'

/** `activity_id` of both classes: 1 Create, 2 Update, 3 Close. */
export const activityCaptions: Record<number, string> = { 1: 'Create', 2: 'Update', 3: 'Close' }

/**
 * `status_id` per class. Incident Finding: 1 New, 2 In Progress, 3 On Hold, 4 Resolved, 5 Closed.
 * Data Security Finding (the Finding class's triage status): 1 New, 2 In Progress, 3 Suppressed (judged
 * benign or a false positive), 4 Resolved, 5 Archived, 6 Deleted.
 */
export const statusById: Record<number, Record<number, { caption: string; phase?: OcsfPhase }>> = {
  [OCSF_INCIDENT_FINDING]: {
    0: { caption: 'Unknown' },
    1: { caption: 'New', phase: 'open' },
    2: { caption: 'In Progress', phase: 'open' },
    3: { caption: 'On Hold', phase: 'open' },
    4: { caption: 'Resolved', phase: 'resolved' },
    5: { caption: 'Closed', phase: 'closed' },
    99: { caption: 'Other' },
  },
  [OCSF_DATA_SECURITY_FINDING]: {
    0: { caption: 'Unknown' },
    1: { caption: 'New', phase: 'open' },
    2: { caption: 'In Progress', phase: 'open' },
    3: { caption: 'Suppressed', phase: 'closed' },
    4: { caption: 'Resolved', phase: 'resolved' },
    5: { caption: 'Archived', phase: 'closed' },
    6: { caption: 'Deleted' },
    99: { caption: 'Other' },
  },
}

/** OCSF class names, for reasons. */
export const classCaptions: Record<number, string> = {
  [OCSF_INCIDENT_FINDING]: 'Incident Finding',
  [OCSF_DATA_SECURITY_FINDING]: 'Data Security Finding',
}

/** `data_classification.category_id` captions. */
export const dataCategoryCaptions: Record<number, string> = {
  0: 'Unknown',
  1: 'Personal',
  2: 'Governmental',
  3: 'Financial',
  4: 'Business',
  5: 'Military and Law Enforcement',
  6: 'Security',
  99: 'Other',
}

export function caption(table: Record<number, { caption: string } | string>, id: number): string {
  const entry = table[id]
  if (entry === undefined) return `${id} (not defined by OCSF)`
  return `${id} (${typeof entry === 'string' ? entry : entry.caption})`
}
