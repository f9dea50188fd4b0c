import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Config, isLoopbackHost, SECRET_MIN_LENGTH } from '../../config/env.js'
import { readSecret } from '../../config/files.js'
import { ConfigError, errorMessage } from '../../errors.js'
import { Authenticator } from './authenticator.js'
import { createOidcVerifier, parseRoleMap } from './oidc.js'
import { SessionCodec } from './session.js'
import { generateToken, hashToken, parseTokensFile, TOKEN_PREFIX, type TokenEntry } from './tokens.js'

/**
 * The authentication a process runs with, from its configuration. Secure by default:
 * - tokens file and/or OIDC configured: those, plus METRICS_TOKEN (or METRICS_TOKEN_FILE) for /metrics;
 * - neither, HTTP_HOST on loopback, a process that serves the API: one admin token, made once and kept
 *   in `<DATA_DIR>/http-admin-token` (mode 0600) so a restart keeps it; only this machine can connect;
 * - neither, any other address: start-up stops naming the variables to set (a process serving only
 *   /metrics may instead set METRICS_TOKEN).
 */

export const LOCAL_ADMIN_TOKEN_FILE = 'http-admin-token'
export const LOCAL_ADMIN_NAME = 'local-admin'

export interface ResolvedAuth {
  authenticator: Authenticator
  /** Set when the process made (or reused) its loopback admin token. */
  localAdmin?: { token: string; file: string }
}

export interface AuthFromConfigOptions {
  /** The process serves the read API and the review page (not only /metrics). */
  servesApi: boolean
}

/** Reads or creates the loopback admin token; the file is the token's only copy. */
export function localAdminToken(dataDir: string): { token: string; file: string } {
  const file = join(dataDir, LOCAL_ADMIN_TOKEN_FILE)
  try {
    const token = readFileSync(file, 'utf8').trim()
    if (token.startsWith(TOKEN_PREFIX) && token.length >= 40) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
      return { token, file }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`DATA_DIR: cannot read ${file}: ${errorMessage(err)}`)
    }
  }
  const token = generateToken()
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(file, `${token}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return { token, file }
}

export function authFromConfig(cfg: Config, opts: AuthFromConfigOptions): ResolvedAuth {
  const tokens: TokenEntry[] = []
  if (cfg.HTTP_TOKENS_FILE) {
    let text: string
    try {
      text = readFileSync(cfg.HTTP_TOKENS_FILE, 'utf8')
    } catch (err) {
      throw new ConfigError(`HTTP_TOKENS_FILE: cannot read ${cfg.HTTP_TOKENS_FILE}: ${errorMessage(err)}`)
    }
    tokens.push(...parseTokensFile(text, cfg.HTTP_TOKENS_FILE))
  }
  const verifyJwt =
    cfg.OIDC_ISSUER && cfg.OIDC_AUDIENCE && cfg.OIDC_JWKS_URL
      ? createOidcVerifier({
          issuer: cfg.OIDC_ISSUER,
          audience: cfg.OIDC_AUDIENCE,
          keys: new URL(cfg.OIDC_JWKS_URL),
          rolesClaim: cfg.OIDC_ROLES_CLAIM,
          ...(cfg.OIDC_ROLE_MAP ? { roleMap: parseRoleMap(cfg.OIDC_ROLE_MAP) } : {}),
          algorithms: cfg.OIDC_ALGORITHMS,
          clockToleranceS: cfg.OIDC_CLOCK_TOLERANCE_S,
        })
      : undefined
  const configured = cfg.HTTP_TOKENS_FILE !== undefined || verifyJwt !== undefined
  const metricsToken = readSecret(cfg.METRICS_TOKEN, 'METRICS_TOKEN_FILE', cfg.METRICS_TOKEN_FILE, {
    minLength: SECRET_MIN_LENGTH.METRICS_TOKEN,
  })
  const sessionSecret = readSecret(
    cfg.HTTP_SESSION_SECRET,
    'HTTP_SESSION_SECRET_FILE',
    cfg.HTTP_SESSION_SECRET_FILE,
    { minLength: SECRET_MIN_LENGTH.HTTP_SESSION_SECRET },
  )
  if (metricsToken) {
    const sha256 = hashToken(metricsToken)
    if (tokens.some((t) => t.sha256 === sha256)) {
      const which = cfg.METRICS_TOKEN_FILE ? 'METRICS_TOKEN_FILE' : 'METRICS_TOKEN'
      throw new ConfigError(`${which}: must differ from every token of HTTP_TOKENS_FILE`)
    }
    tokens.push({ name: 'metrics-scraper', roles: ['metrics'], sha256 })
  }

  let localAdmin: ResolvedAuth['localAdmin']
  if (!configured) {
    if (!isLoopbackHost(cfg.HTTP_HOST)) {
      if (opts.servesApi || !metricsToken) {
        const what = opts.servesApi
          ? 'HTTP_TOKENS_FILE (API tokens, made with `npm run token`) or OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL'
          : 'METRICS_TOKEN or METRICS_TOKEN_FILE (for /metrics), HTTP_TOKENS_FILE, or OIDC_ISSUER, OIDC_AUDIENCE and OIDC_JWKS_URL'
        throw new ConfigError(
          `HTTP_HOST: ${cfg.HTTP_HOST} is not a loopback address and no authentication is configured: set ${what}, or bind HTTP_HOST=127.0.0.1`,
          [`HTTP_HOST: not loopback and no authentication configured; set ${what}`],
        )
      }
    } else if (opts.servesApi) {
      localAdmin = localAdminToken(cfg.DATA_DIR)
      tokens.push({ name: LOCAL_ADMIN_NAME, roles: ['admin'], sha256: hashToken(localAdmin.token) })
    }
  }
  return {
    authenticator: new Authenticator({
      tokens,
      ...(verifyJwt ? { verifyJwt } : {}),
      sessions: new SessionCodec(sessionSecret, cfg.HTTP_SESSION_TTL_S),
    }),
    ...(localAdmin ? { localAdmin } : {}),
  }
}
