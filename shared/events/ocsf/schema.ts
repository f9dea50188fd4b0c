import { z } from 'zod'
import { identifier, timestamp } from '../common.js'
import { incidentCategories } from '../privacy-incident.js'

/**
 * The part of OCSF (Open Cybersecurity Schema Framework, schema 1.x) the privacy-incident mapping reads,
 * as zod schemas. OCSF events carry many more attributes (observables, resources, attacks, …): objects
 * here are loose, so those pass through unread. What the mapping needs is checked with the same rigour as
 * the native contract, and each failure names the OCSF attribute. See docs/ocsf-mapping.md.
 */

/** OCSF class ids this mapping accepts (category 2, Findings). */
export const OCSF_INCIDENT_FINDING = 2005
export const OCSF_DATA_SECURITY_FINDING = 2006
export const OCSF_FINDINGS_CATEGORY = 2

/** `data_classification.category_id` 1, "Personal": PII, ePHI and similar personal information. */
export const OCSF_PERSONAL_DATA = 1

/** DateTime64(3) range the native contract admits (1970-01-01 … 2299-12-31 UTC), in epoch ms. */
const LATEST_MS = Date.UTC(2300, 0, 1) - 1

/** OCSF `timestamp_t`: milliseconds since the Unix epoch. */
export const ocsfTimestamp = z
  .number()
  .int('must be an integer (OCSF timestamp_t: milliseconds since the Unix epoch)')
  .min(0, 'must be >= 0 (OCSF timestamp_t: milliseconds since the Unix epoch)')
  .max(LATEST_MS, 'must lie before 2300-01-01 (OCSF timestamp_t: milliseconds since the Unix epoch)')

/** An extension timestamp: OCSF-style epoch milliseconds, or an RFC 3339 text with a time zone. */
const extensionTime = z.union([ocsfTimestamp, timestamp], {
  message: 'must be epoch milliseconds or an RFC 3339 timestamp with a time zone',
})

const enumId = z.number().int('must be an integer')

/** `metadata` (required by OCSF): product and schema version, and the ids the mapping reads. */
const metadataSchema = z.looseObject({
  /** OCSF schema version the producer wrote, e.g. "1.3.0". Required by OCSF. */
  version: z.string().min(1, 'must not be empty'),
  /** The product that reported the event. Required by OCSF. */
  product: z.looseObject({
    name: z.string().max(200).optional(),
    vendor_name: z.string().max(200).optional(),
  }),
  /** Unique id of this event: the CloudEvents id, so a redelivered event is stored once. */
  uid: identifier.optional(),
  /** Correlates the events of one incident: the incident id when present. */
  correlation_uid: identifier.optional(),
})

/** `finding_info`: `uid` is required by OCSF; `created_time` is when the finding was created. */
const findingInfoSchema = z.looseObject({
  uid: identifier,
  title: z.string().optional(),
  created_time: ocsfTimestamp.optional(),
  first_seen_time: ocsfTimestamp.optional(),
  modified_time: ocsfTimestamp.optional(),
})

/**
 * What OCSF has no attribute for, read from `unmapped.aims` (OCSF's place for source data outside the
 * schema). Field names are those of the native contract; unknown keys are refused, so a misspelt
 * `containedAt` is not silently ignored.
 */
export const aimsExtensionSchema = z.strictObject({
  /** When the incident was detected (also the awareness time when `awarenessAt` is not given). */
  detectedAt: extensionTime.optional(),
  /** When the controller became aware (GDPR Art. 33's 72 hours, NIS2 and HIPAA run from here). */
  awarenessAt: extensionTime.optional(),
  /** When the incident was classified as major (DORA's initial notification runs from here). */
  classifiedAt: extensionTime.optional(),
  /** The notification regimes that apply, the jurisdictions concerned, and the reports sent (the contract checks them). */
  regimes: z.array(z.string()).optional(),
  jurisdictions: z.array(z.string()).optional(),
  reports: z
    .array(z.strictObject({ regime: z.string(), step: z.string(), sentAt: extensionTime }))
    .optional(),
  /** When the incident was contained. */
  containedAt: extensionTime.optional(),
  /** When it was resolved (default: the event's time once status_id says resolved or closed). */
  resolvedAt: extensionTime.optional(),
  /** When it was closed (default: the event's time once status_id says closed). */
  closedAt: extensionTime.optional(),
  /** When the supervisory authority was notified. */
  regulatorNotifiedAt: extensionTime.optional(),
  /** Whether GDPR Art. 33 requires notifying the supervisory authority (default: is_suspected_breach). */
  notifiable: z.boolean().optional(),
  category: z.enum(incidentCategories).optional(),
  businessUnit: z.string().optional(),
  recordsAffected: z.number().optional(),
  dataSubjectsAffected: z.number().optional(),
  aiSystemId: z.string().optional(),
  controls: z.array(z.string()).optional(),
})
export type AimsExtension = z.infer<typeof aimsExtensionSchema>

/** Attributes of the base event and the incident profile that both classes share. */
const findingBase = {
  category_uid: z.literal(OCSF_FINDINGS_CATEGORY),
  activity_id: enumId,
  type_uid: enumId,
  time: ocsfTimestamp,
  severity_id: enumId,
  status_id: enumId,
  metadata: metadataSchema,
  start_time: ocsfTimestamp.optional(),
  end_time: ocsfTimestamp.optional(),
  is_suspected_breach: z.boolean().optional(),
  unmapped: z.looseObject({ aims: aimsExtensionSchema.optional() }).optional(),
}

/** Incident Finding (2005): reports the creation, update or closure of an incident. */
export const incidentFindingSchema = z.looseObject({
  class_uid: z.literal(OCSF_INCIDENT_FINDING),
  ...findingBase,
  finding_info_list: z.array(findingInfoSchema).min(1, 'must list at least one finding'),
})

/** Data Security Finding (2006): a DLP / data classification finding; personal data makes it a privacy incident. */
export const dataSecurityFindingSchema = z.looseObject({
  class_uid: z.literal(OCSF_DATA_SECURITY_FINDING),
  ...findingBase,
  finding_info: findingInfoSchema,
  data_security: z
    .looseObject({
      category_id: enumId.optional(),
      category: z.string().optional(),
    })
    .optional(),
})

export type IncidentFinding = z.infer<typeof incidentFindingSchema>
export type DataSecurityFinding = z.infer<typeof dataSecurityFindingSchema>
export type OcsfFinding = IncidentFinding | DataSecurityFinding
