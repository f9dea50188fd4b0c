import { z } from 'zod'
import { CONTROL_CHARS, plain, quote, timestamp } from './common.js'

/**
 * The CloudEvents 1.0 envelope every event travels in. Core attributes are typed; extension attributes
 * (tracing, partitionkey, ...) are allowed as CloudEvents defines them: lowercase letters and digits,
 * at most 20 characters, with a string, number or boolean value. Anything else is rejected, so a
 * misspelt core attribute with an underscore or capital ("dataContentType") cannot pass unnoticed.
 */

/** CloudEvents attribute names; every core attribute name fits it too. */
export const EXTENSION_NAME = /^[a-z0-9]{1,20}$/

const extensionValue = z.union([plain(2000), z.number(), z.boolean()], {
  message: 'extension attribute values must be a string, number or boolean',
})

/** URI-reference per RFC 3986: no whitespace, controls or the characters it excludes outright. */
const uriReference = z
  .string()
  .min(1, 'must not be empty')
  .max(2000, 'must be at most 2000 characters')
  .regex(
    new RegExp(`^[^\\s${CONTROL_CHARS}<>"{}|\\\\^\`]+$`),
    'must be a URI reference (no spaces, quotes or <>{}|\\^`)',
  )

export function cloudEventSchema<const T extends string, D extends z.ZodType>(type: T, data: D) {
  return z
    .object({
      specversion: z.literal('1.0'),
      id: plain(200)
        .min(1, 'must not be empty')
        .describe('Unique per event; the idempotency key (a redelivered event keeps its id).'),
      source: uriReference.describe('URI reference of the producing system, e.g. "/siem/splunk-prod".'),
      type: z.literal(type),
      time: timestamp.describe(
        'When the occurrence happened (RFC 3339); the latest event of an entity wins.',
      ),
      subject: plain(500).min(1, 'must not be empty').optional(),
      datacontenttype: z
        .string()
        .regex(/^application\/json( *;.*)?$/, 'must be application/json')
        .optional(),
      dataschema: uriReference.optional(),
      data,
    })
    .catchall(extensionValue)
    .superRefine((envelope, ctx) => {
      for (const key in envelope) {
        if (!EXTENSION_NAME.test(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `unknown attribute ${quote(key)} (CloudEvents extension names are 1-20 lowercase letters or digits)`,
          })
        }
      }
    })
}
