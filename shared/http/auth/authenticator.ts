import type { IncomingHttpHeaders } from 'node:http'
import type { JwtOutcome } from './oidc.js'
import type { Principal, Role } from './roles.js'
import { cookieValue, SESSION_COOKIE, type SessionCodec } from './session.js'
import { hashToken, TOKEN_PREFIX, type TokenEntry } from './tokens.js'

/**
 * Turns a request's credentials into a principal: `Authorization: Bearer <API token | OIDC JWT>`, or the
 * review page's session cookie. The header wins when both are present. Failures carry a reason from a
 * fixed set (for metrics); nothing here ever logs or returns a credential.
 */

export type AuthFailure =
  | 'missing'
  | 'malformed_header'
  | 'unknown_token'
  | 'oidc_not_configured'
  | 'bad_session'
  | `jwt_${Exclude<JwtOutcome, { ok: true }>['reason']}`

export type AuthOutcome =
  | {
      ok: true
      principal: Principal /** Seconds since the epoch when the credential expires. */
      exp?: number
      source: 'bearer' | 'cookie'
    }
  | { ok: false; reason: AuthFailure }

export interface AuthenticatorOptions {
  tokens: readonly TokenEntry[]
  verifyJwt?: (jwt: string) => Promise<JwtOutcome>
  sessions: SessionCodec
}

/** A JWS compact serialization: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

export class Authenticator {
  private readonly byHash = new Map<string, TokenEntry>()
  private readonly byName = new Map<string, TokenEntry>()

  constructor(private readonly opts: AuthenticatorOptions) {
    for (const t of opts.tokens) {
      this.byHash.set(t.sha256, t)
      this.byName.set(t.name, t)
    }
  }

  get sessions(): SessionCodec {
    return this.opts.sessions
  }

  /** Whether any credential can succeed (an empty authenticator refuses everything). */
  get hasCredentials(): boolean {
    return this.byHash.size > 0 || this.opts.verifyJwt !== undefined
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<AuthOutcome> {
    const header = headers.authorization
    if (header !== undefined) return this.bearer(header)
    const cookie = cookieValue(headers.cookie, SESSION_COOKIE)
    if (cookie !== undefined) return this.session(cookie)
    return { ok: false, reason: 'missing' }
  }

  private async bearer(header: string): Promise<AuthOutcome> {
    const m = /^Bearer +([^\s]{1,8192})\s*$/i.exec(header)
    if (!m) return { ok: false, reason: 'malformed_header' }
    const credential = m[1]!
    if (credential.startsWith(TOKEN_PREFIX) || !JWT_SHAPE.test(credential)) {
      const entry = this.byHash.get(hashToken(credential))
      return entry
        ? {
            ok: true,
            principal: { name: entry.name, roles: new Set(entry.roles), via: 'token' },
            source: 'bearer',
          }
        : { ok: false, reason: 'unknown_token' }
    }
    if (!this.opts.verifyJwt) return { ok: false, reason: 'oidc_not_configured' }
    const out = await this.opts.verifyJwt(credential)
    return out.ok
      ? { ok: true, principal: out.principal, ...(out.exp ? { exp: out.exp } : {}), source: 'bearer' }
      : { ok: false, reason: `jwt_${out.reason}` }
  }

  private session(cookie: string): AuthOutcome {
    const s = this.opts.sessions.read(cookie)
    if (!s) return { ok: false, reason: 'bad_session' }
    if (s.source === 'token') {
      // A token removed from the file (or whose roles shrank) takes its sessions with it.
      const entry = this.byName.get(s.principal.name)
      if (!entry) return { ok: false, reason: 'bad_session' }
      const roles = new Set<Role>([...s.principal.roles].filter((r) => entry.roles.includes(r)))
      if (roles.size === 0) return { ok: false, reason: 'bad_session' }
      return { ok: true, principal: { ...s.principal, roles }, source: 'cookie' }
    }
    return { ok: true, principal: s.principal, source: 'cookie' }
  }
}
