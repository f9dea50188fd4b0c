/**
 * OCSF findings for the tests, written from the OCSF 1.x class documentation: Incident Finding (2005:
 * category 2 Findings, activity 1 Create / 2 Update / 3 Close, type_uid = 200500 + activity, status_id
 * 1 New … 5 Closed, finding_info_list of findings each with a uid) and Data Security Finding (2006,
 * finding_info, data_security with a data-classification category_id, 1 = Personal). Times are
 * `timestamp_t`: epoch milliseconds.
 */

export const H = 3_600_000

export interface IncidentFindingOptions {
  incidentId: string
  activity?: 1 | 2 | 3
  status?: number
  severity?: number
  /** Event time (ms). */
  time: number
  /** finding_info_list[0].created_time (ms). */
  createdTime?: number
  startTime?: number
  suspectedBreach?: boolean
  eventUid?: string
  aims?: Record<string, unknown>
}

export function incidentFinding(o: IncidentFindingOptions): Record<string, unknown> {
  const activity = o.activity ?? 1
  return {
    class_uid: 2005,
    class_name: 'Incident Finding',
    category_uid: 2,
    category_name: 'Findings',
    activity_id: activity,
    activity_name: ['', 'Create', 'Update', 'Close'][activity],
    type_uid: 200500 + activity,
    time: o.time,
    severity_id: o.severity ?? 4,
    status_id: o.status ?? 1,
    ...(o.startTime === undefined ? {} : { start_time: o.startTime }),
    ...(o.suspectedBreach === undefined ? {} : { is_suspected_breach: o.suspectedBreach }),
    desc: `Privacy incident ${o.incidentId}`,
    assignee_group: { name: 'privacy-office' },
    metadata: {
      version: '1.3.0',
      product: { name: 'Incident Desk', vendor_name: 'Example SOAR' },
      uid: o.eventUid ?? `${o.incidentId}-${activity}-${o.time}`,
      correlation_uid: o.incidentId,
      profiles: ['incident'],
    },
    finding_info_list: [
      {
        uid: `${o.incidentId}-F1`,
        title: 'Customer records sent to an external recipient',
        ...(o.createdTime === undefined ? {} : { created_time: o.createdTime }),
      },
    ],
    ...(o.aims === undefined ? {} : { unmapped: { aims: o.aims } }),
  }
}

export function dataSecurityFinding(o: {
  findingId: string
  time: number
  createdTime: number
  categoryId: number
  status?: number
  suspectedBreach?: boolean
}): Record<string, unknown> {
  return {
    class_uid: 2006,
    category_uid: 2,
    activity_id: 1,
    type_uid: 200601,
    time: o.time,
    severity_id: 3,
    status_id: o.status ?? 1,
    ...(o.suspectedBreach === undefined ? {} : { is_suspected_breach: o.suspectedBreach }),
    metadata: { version: '1.3.0', product: { name: 'DLP', vendor_name: 'Example' } },
    finding_info: {
      uid: o.findingId,
      title: 'Personal data in a public bucket',
      created_time: o.createdTime,
    },
    data_security: { category_id: o.categoryId, data_lifecycle_state_id: 1 },
  }
}
