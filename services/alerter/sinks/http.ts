import { type DeliveryResult, type FailureReason, ok, permanent, retryable } from './sink.js'

/**
 * What every HTTP sink shares (Alertmanager's `notify/util.go`): which statuses are worth retrying, how
 * Retry-After is read, how a network error is named, and how secrets are kept out of every message.
 */

export interface StatusExtras {
  /** Value of the Retry-After header, honoured on 408, 429 and 503. */
  retryAfter?: string | null
  /** Extra statuses this sink retries (besides 5xx, 408, 429). */
  retryable?: readonly number[]
  /** Statuses this sink never retries, even 5xx. */
  permanent?: readonly number[]
  /** Appended to the status in the result's detail (already secret-free). */
  detail?: string
  /** Clock for HTTP-date Retry-After values; default Date.now(). */
  nowMs?: number
}

/**
 * 2xx ok; 5xx retry; 408 and 429 retry honouring Retry-After; 401/403 permanent auth_error; any other
 * status (other 4xx, 1xx, 3xx: a redirect means a wrong URL) permanent client_error.
 */
export function classifyHttpStatus(status: number, extras: StatusExtras = {}): DeliveryResult {
  const detail = `HTTP ${status}${extras.detail ? `: ${extras.detail}` : ''}`
  if (status >= 200 && status < 300) return ok(status)
  const retryAfterMs = parseRetryAfter(extras.retryAfter, extras.nowMs)
  const withWait = retryAfterMs === undefined ? { status } : { status, retryAfterMs }
  const reasonOf = (): FailureReason => {
    if (status === 401 || status === 403) return 'auth_error'
    if (status === 429) return 'rate_limited'
    if (status === 408) return 'timeout'
    return status >= 500 ? 'server_error' : 'client_error'
  }
  if (extras.permanent?.includes(status)) return permanent(reasonOf(), detail, { status })
  if (status === 429 || status === 408 || status === 503) return retryable(reasonOf(), detail, withWait)
  if (status >= 500 && status < 600) return retryable('server_error', detail, { status })
  if (extras.retryable?.includes(status)) return retryable(reasonOf(), detail, withWait)
  if (status === 401 || status === 403) return permanent('auth_error', detail, { status })
  return permanent('client_error', detail, { status })
}

/** Retry-After as delay-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  const v = value.trim()
  if (v === '') return undefined
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000)
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

/** Replaces every secret (and its URL-encoded form) with `[redacted]`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) {
    if (!s) continue
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('[redacted]')
  }
  return out
}

/** A network failure named by its code only (the error text of undici can carry the URL). */
export function classifyNetworkError(err: unknown): DeliveryResult {
  const e = err as { name?: string; code?: string; cause?: { code?: string; name?: string } }
  if (e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError') {
    return retryable('timeout', 'request timed out')
  }
  if (e?.name === 'AbortError') return retryable('network_error', 'request aborted')
  const code = e?.cause?.code ?? e?.code
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'DNS lookup failed',
    ETIMEDOUT: 'connect timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    EPIPE: 'connection closed',
    UND_ERR_SOCKET: 'connection closed by peer',
    UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
    UND_ERR_HEADERS_TIMEOUT: 'response headers timed out',
    UND_ERR_BODY_TIMEOUT: 'response body timed out',
  }
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return retryable('timeout', known[code]!)
  }
  const what = code ? `${known[code] ?? 'network error'} (${code})` : 'network error'
  return retryable('network_error', what)
}

export interface PostOptions {
  headers?: Record<string, string>
  timeoutMs: number
  /** Values that must never appear in a result detail (routing key, token-bearing URL, HMAC secret). */
  secrets: readonly string[]
  signal?: AbortSignal
  extras?: Omit<StatusExtras, 'retryAfter' | 'detail'>
}

const MAX_BODY_EXCERPT = 300

/**
 * POSTs one JSON body and classifies the answer. Never throws: a network error, a timeout (the whole
 * exchange, body included, within `timeoutMs`) and every status become a DeliveryResult whose detail is
 * scrubbed of the secrets.
 */
export async function postJson(url: string, body: string, opts: PostOptions): Promise<DeliveryResult> {
  const timeout = AbortSignal.timeout(opts.timeoutMs)
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'aims-alerter/1', ...opts.headers },
      body,
      signal,
      redirect: 'manual',
    })
    const text = await res.text()
    // Scrub before cutting: a cut could leave half a secret that no longer matches.
    const excerpt = scrub(text, opts.secrets).replace(/\s+/g, ' ').trim().slice(0, MAX_BODY_EXCERPT)
    return scrubResult(
      classifyHttpStatus(res.status, {
        ...opts.extras,
        retryAfter: res.headers.get('retry-after'),
        ...(res.ok || excerpt === '' ? {} : { detail: excerpt }),
      }),
      opts.secrets,
    )
  } catch (err) {
    return scrubResult(classifyNetworkError(err), opts.secrets)
  }
}

function scrubResult(r: DeliveryResult, secrets: readonly string[]): DeliveryResult {
  return r.outcome === 'ok' ? r : { ...r, detail: scrub(r.detail, secrets) }
}

/**
 * The secret parts of a URL that may carry a token (Slack webhook path, `?token=` query, user:pass):
 * the whole URL, its path and query, its credentials. A bare "/" path is not a secret.
 */
export function urlSecrets(url: string): string[] {
  const out = [url]
  try {
    const u = new URL(url)
    const rest = `${u.pathname}${u.search}`
    if (rest.length > 1) out.push(rest)
    if (u.pathname.length > 1) out.push(u.pathname)
    if (u.search.length > 1) out.push(u.search.slice(1))
    if (u.password) out.push(u.password)
  } catch {
    // not a URL: the whole string is the secret
  }
  return out
}
