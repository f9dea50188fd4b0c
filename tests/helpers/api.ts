import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { Authenticator } from '../../shared/http/auth/authenticator.js'
import { LOCAL_ADMIN_TOKEN_FILE } from '../../shared/http/auth/from-config.js'
import { ROLES, type Role } from '../../shared/http/auth/roles.js'
import { SessionCodec } from '../../shared/http/auth/session.js'
import { generateToken, hashToken, type TokenEntry, tokenLine } from '../../shared/http/auth/tokens.js'

/**
 * How a test authenticates against the HTTP API, in one place: one API token per role, the
 * authenticator (in-process servers) or tokens file (spawned processes) that accepts them, and requests
 * that carry them.
 */

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the tests
export type Json = any

export interface TestAuth {
  /** A token per role, named after the role. */
  tokens: Record<Role, string>
  entries: TokenEntry[]
  /** For an in-process `new HttpServer(health, log, { auth })`. */
  authenticator: Authenticator
  /** The HTTP_TOKENS_FILE content that accepts the same tokens (for a spawned process). */
  tokensFile: string
}

export function testAuth(): TestAuth {
  const tokens = {} as Record<Role, string>
  const entries: TokenEntry[] = []
  for (const role of ROLES) {
    tokens[role] = generateToken()
    entries.push({ name: `test-${role}`, roles: [role], sha256: hashToken(tokens[role]) })
  }
  return {
    tokens,
    entries,
    authenticator: new Authenticator({ tokens: entries, sessions: new SessionCodec(undefined, 3600) }),
    tokensFile: `${entries.map(tokenLine).join('\n')}\n`,
  }
}

/** The admin token `npm start` made on loopback (kept under its DATA_DIR). */
export function localAdminToken(dataDir: string): string {
  return readFileSync(join(dataDir, LOCAL_ADMIN_TOKEN_FILE), 'utf8').trim()
}

/** The review page's sign-in link for a token (what `npm start` prints in its banner). */
export const loginLink = (base: string, token: string): string => `${base}/login#token=${token}`

export const bearer = (token: string | undefined): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {}

export interface ApiResponse {
  status: number
  type: string
  headers: Headers
  body: Json
}

/** GET `path` from `base` with the token (none: anonymous); JSON bodies parsed, others as text. */
export async function apiGet(
  base: string,
  path: string,
  token?: string,
  init: RequestInit = {},
): Promise<ApiResponse> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { ...bearer(token), ...(init.headers as Record<string, string> | undefined) },
    redirect: 'manual',
  })
  const type = res.headers.get('content-type') ?? ''
  const body: Json = type.includes('json') ? await res.json() : await res.text()
  return { status: res.status, type, headers: res.headers, body }
}

/** A raw GET: the path goes to the server as written (fetch would normalise `..` and encodings). */
export function rawGet(
  base: string,
  path: string,
  token?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base)
    const req = request(
      { host: url.hostname, port: url.port, path, method: 'GET', headers: bearer(token) },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => {
          body += c.toString()
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly path: string,
    body: string,
  ) {
    super(`GET ${path}: HTTP ${status}: ${body.slice(0, 300)}`)
  }
}

/** GETs `path` from `base` with the token and returns the parsed JSON; throws ApiError on a non-2xx. */
export async function apiJson<T = Json>(base: string, path: string, token?: string): Promise<T> {
  const res = await fetch(`${base.replace(/\/+$/, '')}${path}`, {
    headers: { accept: 'application/json', ...bearer(token) },
    signal: AbortSignal.timeout(15_000),
  })
  const text = await res.text()
  if (!res.ok) throw new ApiError(res.status, path, text)
  return JSON.parse(text) as T
}
