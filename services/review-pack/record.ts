import { z } from 'zod'

/**
 * The record of a management review (ISO/IEC 27001 and 42001 clause 9.3.3): who attended, what was
 * decided and which actions follow. Supplied by people (CLI `--record <file.json|yaml>` or the API) and
 * attached to the pack that was reviewed; its actions are the next pack's "status of actions".
 */
export const reviewActionSchema = z.strictObject({
  /** Stable id, so the next review can report on it, e.g. `MR-2026-Q3-01`. */
  id: z.string().min(1).max(64),
  title: z.string().min(1).max(500),
  owner: z.string().min(1).max(200),
  /** Due date (ISO 8601 date or date-time). */
  due: z.iso.date().or(z.iso.datetime()).optional(),
  status: z.enum(['open', 'in_progress', 'done', 'cancelled']).default('open'),
  /** Free text on progress, shown in the next pack. */
  note: z.string().max(2000).optional(),
})
export type ReviewAction = z.infer<typeof reviewActionSchema>

export const reviewRecordSchema = z.strictObject({
  /** When the review meeting took place (ISO 8601 date or date-time). */
  heldOn: z.iso.date().or(z.iso.datetime()),
  attendees: z
    .array(z.strictObject({ name: z.string().min(1).max(200), role: z.string().max(200).optional() }))
    .min(1)
    .max(100),
  decisions: z.array(z.string().min(1).max(2000)).max(200),
  actions: z.array(reviewActionSchema).max(200),
})
export type ReviewRecord = z.infer<typeof reviewRecordSchema>
