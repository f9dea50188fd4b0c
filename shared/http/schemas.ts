import { z } from 'zod'

/** The body of every error answer: what went wrong, and for a 400 each parameter at fault. */
export const errorResponse = z.object({
  error: z.string(),
  reasons: z.array(z.string()).optional(),
})

/** Response schemas of the errors a protected route can answer with (documented in OpenAPI). */
export const protectedErrors = {
  400: errorResponse.describe('A parameter is invalid; `reasons` names each one and why'),
  401: errorResponse.describe('No credential, or one that is not valid'),
  403: errorResponse.describe('The credential does not hold a role this route accepts'),
  429: errorResponse.describe('Rate limited; Retry-After says when to try again'),
} as const
