/**
 * Errors a route throws to answer with a status: the one error handler (server.ts) maps them. The message
 * goes to the caller, so it names the problem and never holds a stack, a query or a credential.
 */
export class HttpError extends Error {
  override readonly name: string = 'HttpError'
  constructor(
    readonly statusCode: number,
    message: string,
    /** Each problem as `where: what` (400s). */
    readonly reasons?: string[],
  ) {
    super(message)
  }
}

export class BadRequestError extends HttpError {
  override readonly name = 'BadRequestError'
  constructor(reasons: string[]) {
    super(400, 'bad request', reasons)
  }
}

export class NotFoundError extends HttpError {
  override readonly name = 'NotFoundError'
  constructor(message = 'not found') {
    super(404, message)
  }
}

export class ForbiddenError extends HttpError {
  override readonly name = 'ForbiddenError'
  constructor(message = 'forbidden for your role') {
    super(403, message)
  }
}
