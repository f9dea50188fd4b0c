import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { type Principal, type Role, roleSchema } from './roles.js'

/**
 * The review page's session: after the page hands a token (or JWT) to `POST /auth/session` once, the
 * browser holds an HttpOnly, SameSite=Strict cookie instead of the secret. The cookie is stateless:
 * `base64url(json).base64url(hmac-sha256)`, holding the caller's name, roles, how it signed in and an
 * expiry; nothing in it is secret, and it cannot be forged without the key.
 */

export const SESSION_COOKIE = 'aims_session'

interface SessionClaims {
  /** Principal name. */
  n: string
  /** Roles. */
  r: Role[]
  /** How the session's credential was checked. */
  s: 'token' | 'oidc'
  /** Expiry, seconds since the epoch. */
  x: number
}

export class SessionCodec {
  private readonly key: Buffer

  /** `secret` unset: a random key, so sessions end with the process. */
  constructor(
    secret: string | undefined,
    readonly ttlS: number,
    private readonly nowS: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32)
  }

  private sign(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest()
  }

  /** A cookie value for `p`, valid for the TTL but never beyond `notAfterS` (a JWT's own expiry). */
  issue(p: Principal, notAfterS?: number): { value: string; maxAgeS: number } {
    const exp = Math.min(this.nowS() + this.ttlS, notAfterS ?? Number.POSITIVE_INFINITY)
    const claims: SessionClaims = {
      n: p.name,
      r: [...p.roles],
      s: p.via === 'oidc' ? 'oidc' : 'token',
      x: exp,
    }
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
    return {
      value: `${body}.${this.sign(body).toString('base64url')}`,
      maxAgeS: Math.max(0, exp - this.nowS()),
    }
  }

  /** The session's principal, or undefined when the cookie is forged, malformed or expired. */
  read(value: string): { principal: Principal; source: 'token' | 'oidc' } | undefined {
    if (value.length > 4096) return undefined
    const dot = value.indexOf('.')
    if (dot <= 0) return undefined
    const body = value.slice(0, dot)
    const sig = Buffer.from(value.slice(dot + 1), 'base64url')
    const want = this.sign(body)
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return undefined
    let claims: SessionClaims
    try {
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionClaims
    } catch {
      return undefined
    }
    if (typeof claims.x !== 'number' || claims.x <= this.nowS()) return undefined
    if (typeof claims.n !== 'string' || !Array.isArray(claims.r)) return undefined
    const roles = new Set<Role>()
    for (const r of claims.r) if (roleSchema.safeParse(r).success) roles.add(r)
    return {
      principal: { name: claims.n, roles, via: 'session' },
      source: claims.s === 'oidc' ? 'oidc' : 'token',
    }
  }
}

/** The value of one cookie from a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
