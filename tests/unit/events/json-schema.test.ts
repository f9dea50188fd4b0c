import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { eventTypes } from '../../../shared/events/index.js'
import { eventJsonSchemas } from '../../../shared/events/json-schema.js'
import { exampleEvents, sample, validExampleFiles } from './fixtures.js'

const schemaDir = fileURLToPath(new URL('../../../shared/events/json-schema/', import.meta.url))

/** zod's JSON Schema reader acts as an independent validator of the generated documents. */
const validators = new Map(
  eventJsonSchemas().map((s) => [
    s.type as string,
    z.fromJSONSchema(s.schema as z.core.JSONSchema.JSONSchema),
  ]),
)

function validatorFor(type: string): z.ZodType {
  const validator = validators.get(type)
  if (validator === undefined) throw new Error(`no JSON Schema for ${type}`)
  return validator
}

describe('JSON Schema export', () => {
  it('produces one draft 2020-12 schema per event type, with an $id and the type as const', () => {
    const schemas = eventJsonSchemas()
    expect(schemas.map((s) => s.type).sort()).toEqual([...eventTypes].sort())
    for (const { type, fileName, schema } of schemas) {
      expect(fileName).toBe(`${type}.schema.json`)
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
      expect(schema.$id).toBe(`urn:aims:events:${fileName}`)
      expect((schema.properties as Record<string, { const?: string }>).type?.const).toBe(type)
      expect(schema.required).toEqual(
        expect.arrayContaining(['specversion', 'id', 'source', 'type', 'time', 'data']),
      )
      // Must survive a JSON round trip unchanged: no functions, undefined or regex objects inside.
      expect(JSON.parse(JSON.stringify(schema))).toEqual(schema)
    }
  })

  it('accepts every example event', () => {
    for (const file of validExampleFiles) {
      for (const event of exampleEvents(file)) {
        const result = validatorFor(event.type as string).safeParse(event)
        expect(result.success, `${file} ${event.id}: ${JSON.stringify(result.error?.issues)}`).toBe(true)
      }
    }
  })

  it('rejects unknown data fields, bad enums, bad extension names and missing attributes', () => {
    const validator = validatorFor('aims.privacy_incident.v1')
    const unknownField = sample('privacy-incidents')
    unknownField.data.reporter = 'x'
    const badEnum = sample('privacy-incidents')
    badEnum.data.status = 'escalated'
    const badExtension = sample('privacy-incidents')
    badExtension.Trace_Parent = 'x'
    const missing = sample('privacy-incidents')
    delete missing.time
    for (const event of [unknownField, badEnum, badExtension, missing]) {
      expect(validator.safeParse(event).success).toBe(false)
    }
    const extension = sample('privacy-incidents')
    extension.traceparent = '00-abc-01'
    expect(validator.safeParse(extension).success).toBe(true)
  })

  it('matches the committed files in shared/events/json-schema (run `npm run schemas` after a change)', () => {
    for (const { fileName, schema } of eventJsonSchemas()) {
      const committed = JSON.parse(readFileSync(`${schemaDir}${fileName}`, 'utf8'))
      expect(committed, fileName).toEqual(schema)
    }
  })
})
