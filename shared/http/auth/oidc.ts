import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { ConfigError } from '../../errors.js'
import { type Principal, parseRoles, type Role, roleSchema } from './roles.js'

/**
 * OIDC bearer JWTs, verified with `jose` against the issuer's JWKS: signature with a pinned list of
 * asymmetric algorithms (never `none`, never HMAC), `iss` and `aud` exact, `exp`/`nbf` with a small clock
 * tolerance. Roles come from one claim (a dotted path), mapped through an optional value → roles table.
 */

export interface OidcOptions {
  issuer: string
  audience: string
  /** The key set; a URL fetches (and caches) the issuer's JWKS. */
  keys: URL | JWTVerifyGetKey
  rolesClaim: string
  /** Claim value → roles. Absent: claim values that are role names are the roles. */
  roleMap?: ReadonlyMap<string, readonly Role[]>
  algorithms: readonly string[]
  clockToleranceS: number
}

/** Why a JWT was refused, as a metrics label: a fixed set, never the token. */
export type JwtFailure = 'expired' | 'claim' | 'signature' | 'algorithm' | 'malformed' | 'keys'

export type JwtOutcome =
  | { ok: true; principal: Principal; exp: number | undefined }
  | { ok: false; reason: JwtFailure }

/** Parses `aims-admins=admin;ml-team=ml,auditor`; a bad entry stops start-up naming OIDC_ROLE_MAP. */
export function parseRoleMap(text: string): Map<string, Role[]> {
  const map = new Map<string, Role[]>()
  for (const part of text.split(';')) {
    const entry = part.trim()
    if (entry === '') continue
    const eq = entry.lastIndexOf('=')
    if (eq <= 0) throw new ConfigError(`OIDC_ROLE_MAP: "${entry}" is not value=role[,role]`)
    try {
      map.set(entry.slice(0, eq).trim(), parseRoles(entry.slice(eq + 1)))
    } catch (err) {
      throw new ConfigError(`OIDC_ROLE_MAP: ${entry.slice(0, eq).trim()}: ${(err as Error).message}`)
    }
  }
  if (map.size === 0) throw new ConfigError('OIDC_ROLE_MAP: maps no value to a role')
  return map
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let node: unknown = payload
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined
    node = (node as Record<string, unknown>)[key]
  }
  return node
}

function claimValues(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter((s) => s.length > 0)
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string')
  return []
}

export function rolesFromClaims(
  payload: JWTPayload,
  claim: string,
  roleMap: ReadonlyMap<string, readonly Role[]> | undefined,
): Set<Role> {
  const roles = new Set<Role>()
  for (const value of claimValues(claimAt(payload, claim))) {
    if (roleMap) for (const r of roleMap.get(value) ?? []) roles.add(r)
    else if (roleSchema.safeParse(value).success) roles.add(value as Role)
  }
  return roles
}

function failureOf(err: unknown): JwtFailure {
  if (err instanceof errors.JWTExpired) return 'expired'
  if (err instanceof errors.JWTClaimValidationFailed) return 'claim'
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature'
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'algorithm'
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return 'signature'
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return 'keys'
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'malformed'
  // A JWKS that cannot be fetched surfaces as a plain (fetch) error.
  return err instanceof errors.JOSEError ? 'malformed' : 'keys'
}

export function createOidcVerifier(opts: OidcOptions): (jwt: string) => Promise<JwtOutcome> {
  const keys: JWTVerifyGetKey =
    opts.keys instanceof URL ? createRemoteJWKSet(opts.keys, { timeoutDuration: 5_000 }) : opts.keys
  return async (jwt) => {
    try {
      const { payload } = await jwtVerify(jwt, keys, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: [...opts.algorithms],
        clockTolerance: opts.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      })
      // A valid JWT without a known role is a caller we know but may not serve: 403 on every route.
      const roles = rolesFromClaims(payload, opts.rolesClaim, opts.roleMap)
      return {
        ok: true,
        principal: { name: String(payload.sub).slice(0, 200), roles, via: 'oidc' },
        exp: payload.exp,
      }
    } catch (err) {
      return { ok: false, reason: failureOf(err) }
    }
  }
}
