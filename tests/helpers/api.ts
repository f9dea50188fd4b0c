/**
 * The one way tests call a running pipeline over HTTP: the read API, the views and the ops endpoints.
 * When the HTTP layer gains authentication, this is the one place that learns to send credentials.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    body: string,
  ) {
    super(`GET ${path}: HTTP ${status}: ${body.slice(0, 300)}`)
  }
}

/** GETs `path` (e.g. `/api/views/models`) from `baseUrl` and returns the parsed JSON; throws on a non-2xx. */
export async function apiGet<T = unknown>(baseUrl: string, path: string): Promise<T> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}${path}`, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  if (!res.ok) throw new ApiError(res.status, path, text)
  return JSON.parse(text) as T
}
