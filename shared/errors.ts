/**
 * Errors by intent. Callers branch on `name` (not `instanceof`) so the decision survives
 * crossing a process boundary, e.g. a BullMQ job failure serialised through Redis.
 */

/** Bad input from a user or producer: reported back to them, never retried, not a bug. */
export class UserInputError extends Error {
  override readonly name = 'UserInputError'
}

/** A configuration value is wrong: start-up stops and the message names the variable or field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    message: string,
    /** Each problem as `where: what`, e.g. `KAFKA_BROKERS: "not a host" is not host:port`. */
    readonly issues: string[] = [],
  ) {
    super(message)
  }
}

/** Transient failure of a dependency (network, timeout, server overloaded): worth retrying. */
export class TransientError extends Error {
  override readonly name = 'TransientError'
}

/** A failure that will not go away by retrying (bad credentials, rejected payload). */
export class PermanentError extends Error {
  override readonly name = 'PermanentError'
}

export function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (err.message) return err.message
  // Some clients throw errors without a message (an HTTP status, a socket code): say at least what.
  const code = (err as { code?: unknown }).code
  return `${err.name}${code === undefined ? '' : ` (${String(code)})`}`
}
