import { createHash, randomBytes } from 'node:crypto'
import { ConfigError } from '../../errors.js'
import { parseRoles, type Role } from './roles.js'

/**
 * API tokens. A token is random (32 bytes, base64url, prefixed `aims_` so secret scanners can spot a
 * leaked one), shown once when it is made, and stored only as its SHA-256 in the tokens file:
 *
 *     # name        roles                sha256 of the token
 *     grafana-ops   auditor              5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8
 *     ci-reader     ml,security          ...
 *
 * One token per line, `#` starts a comment. Names are unique; roles come from `roles.ts`.
 */

export const TOKEN_PREFIX = 'aims_'
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/
const SHA256_HEX = /^[0-9a-f]{64}$/

export interface TokenEntry {
  name: string
  roles: Role[]
  sha256: string
}

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** The tokens-file line for a token: what `npm run token` prints for the operator to add. */
export function tokenLine(entry: TokenEntry): string {
  return `${entry.name} ${entry.roles.join(',')} ${entry.sha256}`
}

export function checkTokenName(name: string): string | undefined {
  return NAME.test(name)
    ? undefined
    : 'a name is 1-64 characters: letters, digits and . _ @ - (starting with a letter or digit)'
}

/** Parses a tokens file; any bad line stops start-up naming the file, the line and what is wrong. */
export function parseTokensFile(text: string, path: string): TokenEntry[] {
  const entries: TokenEntry[] = []
  const names = new Map<string, number>()
  const hashes = new Map<string, number>()
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    const where = `${path}:${i + 1}`
    const fields = line.split(/\s+/)
    if (fields.length !== 3) {
      problems.push(`${where}: expected "name roles sha256", got ${fields.length} field(s)`)
      return
    }
    const [name, roleText, sha256] = fields as [string, string, string]
    const badName = checkTokenName(name)
    if (badName) problems.push(`${where}: name: ${badName}`)
    let roles: Role[] = []
    try {
      roles = parseRoles(roleText)
    } catch (err) {
      problems.push(`${where}: roles: ${(err as Error).message}`)
    }
    if (!SHA256_HEX.test(sha256)) {
      problems.push(`${where}: sha256: must be 64 lowercase hex digits (the hash, never the token itself)`)
    }
    // Values are not echoed: a token pasted into the wrong field must not reach the logs.
    if (names.has(name)) problems.push(`${where}: name: already used on line ${names.get(name)}`)
    if (hashes.has(sha256)) problems.push(`${where}: sha256: same token as line ${hashes.get(sha256)}`)
    names.set(name, i + 1)
    hashes.set(sha256, i + 1)
    entries.push({ name, roles, sha256 })
  })
  if (problems.length > 0) {
    throw new ConfigError(`HTTP_TOKENS_FILE: ${problems.join('; ')}`, problems)
  }
  return entries
}
