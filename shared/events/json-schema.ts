import { z } from 'zod'
import { EXTENSION_NAME } from './envelope.js'
import { type EventType, eventSchemas, eventTypes } from './parse.js'

/**
 * JSON Schema (draft 2020-12) of each event type, envelope and data, for producers outside TypeScript.
 * Generated from the zod schemas, so the two cannot drift. What JSON Schema cannot say (cross-field
 * rules such as "containedAt >= detectedAt", real ISO clause ids) is spelt out in each data schema's
 * description; the pipeline still enforces it and reports a reason on the dead-letter topic.
 */

/** A URN rather than an https address: nothing serves these files, and tools must not try to fetch them. */
export const JSON_SCHEMA_BASE_ID = 'urn:aims:events:'

export interface EventJsonSchema {
  type: EventType
  /** File name under shared/events/json-schema/, e.g. "aims.privacy_incident.v1.schema.json". */
  fileName: string
  schema: Record<string, unknown>
}

export function eventJsonSchema(type: EventType): EventJsonSchema {
  const fileName = `${type}.schema.json`
  const generated = z.toJSONSchema(eventSchemas[type], {
    target: 'draft-2020-12',
    // Producers write the input side: defaulted fields are optional for them.
    io: 'input',
    override: (ctx) => {
      if (ctx.path.length !== 0) return
      // zod renders the catch-all as additionalProperties (the extension value types); CloudEvents also
      // restricts extension *names*. propertyNames says so (every core name fits the same pattern), where
      // patternProperties would also match core names like "data" and impose extension value types on them.
      ctx.jsonSchema.propertyNames = { pattern: EXTENSION_NAME.source }
    },
  }) as Record<string, unknown>
  const { $schema, ...rest } = generated
  return {
    type,
    fileName,
    schema: {
      $schema,
      $id: `${JSON_SCHEMA_BASE_ID}${fileName}`,
      title: type,
      description: `CloudEvents 1.0 event of type "${type}" (structured JSON form).`,
      ...rest,
    },
  }
}

export function eventJsonSchemas(): EventJsonSchema[] {
  return eventTypes.map(eventJsonSchema)
}
