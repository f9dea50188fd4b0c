import type { z } from 'zod'
import type { HttpRequest, HttpResponse } from './server.js'

/**
 * Validates a request's query string with a (strict) zod schema; a bad parameter becomes a 400 whose
 * `reasons` name each parameter and what is wrong with it.
 */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  req: HttpRequest,
): { ok: true; value: z.infer<S> } | { ok: false; res: HttpResponse } {
  const raw: Record<string, string> = {}
  for (const [k, v] of req.query) raw[k] = v
  const parsed = schema.safeParse(raw)
  if (parsed.success) return { ok: true, value: parsed.data }
  const reasons = parsed.error.issues.map((i) =>
    i.code === 'unrecognized_keys'
      ? `unknown query parameter(s): ${i.keys.join(', ')}`
      : `${i.path.join('.') || 'query'}: ${i.message}`,
  )
  return { ok: false, res: { status: 400, body: { error: 'bad request', reasons } } }
}
