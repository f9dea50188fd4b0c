import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'
import { ConfigError, errorMessage } from '../errors.js'

/**
 * Files named by configuration variables (certificates, keys, passwords mounted from secrets), read when a
 * factory builds its client. Every failure is a ConfigError naming the variable, never showing the content.
 */

/** Reads the file that `variable` names; a missing or unreadable file names both. */
export function readConfigFile(variable: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err)
    throw new ConfigError(`${variable}: cannot read ${path} (${why})`, [`${variable}: cannot read ${path}`])
  }
}

export interface SecretRules {
  /** Fewest characters the secret may have, as its inline variable requires. Default 1. */
  minLength?: number
}

/**
 * A secret given either inline (`value`) or as a file (`fileVariable` → path); the config loader has
 * already refused both at once, and checked the inline value. One trailing newline is dropped
 * (`echo pw > file`, Kubernetes secrets written from a shell); an empty file is an error, not an empty
 * password, and a file's content must pass `rules` as the inline value had to.
 */
export function readSecret(
  value: string | undefined,
  fileVariable: string,
  path: string | undefined,
  rules: SecretRules = {},
): string | undefined {
  if (path === undefined) return value
  const secret = readConfigFile(fileVariable, path)
    .toString('utf8')
    .replace(/\r?\n$/, '')
  if (secret === '') {
    throw new ConfigError(`${fileVariable}: ${path} is empty`, [`${fileVariable}: ${path} is empty`])
  }
  const min = rules.minLength ?? 1
  if (secret.length < min) {
    // The length alone: never the content, nor how short it is.
    const issue = `${fileVariable}: ${path} must hold at least ${min} characters`
    throw new ConfigError(issue, [issue])
  }
  return secret
}

export interface TlsFileVariables {
  /** Variable names, for the messages: e.g. KAFKA_SSL_CA_FILE. */
  ca: string
  cert: string
  key: string
}

export interface TlsFiles {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
}

/**
 * Reads a CA bundle and an optional client certificate and key, and checks them the way the TLS stack will
 * (PEM that parses, a key that matches the certificate) so a wrong file stops start-up with its variable
 * named rather than failing every connection later.
 */
export function readTlsFiles(
  names: TlsFileVariables,
  paths: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined },
): TlsFiles {
  const files: TlsFiles = {}
  if (paths.ca !== undefined) {
    const ca = readConfigFile(names.ca, paths.ca)
    files.ca = ca
    check(names.ca, paths.ca, () => parseCertificates(ca), 'is not a PEM certificate bundle')
  }
  if (paths.cert !== undefined && paths.key !== undefined) {
    files.cert = readConfigFile(names.cert, paths.cert)
    files.key = readConfigFile(names.key, paths.key)
    check(
      `${names.cert}/${names.key}`,
      `${paths.cert} and ${paths.key}`,
      () => createSecureContext({ cert: files.cert, key: files.key }),
      'are not a PEM certificate and its unencrypted private key',
    )
  }
  return files
}

/** Every certificate of a PEM bundle; none at all is an error too (createSecureContext would accept it). */
function parseCertificates(pem: Buffer): X509Certificate[] {
  const blocks =
    pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (blocks.length === 0) throw new Error('no "BEGIN CERTIFICATE" block')
  return blocks.map((b) => new X509Certificate(b))
}

function check(variable: string, path: string, load: () => unknown, what: string): void {
  try {
    load()
  } catch (err) {
    // OpenSSL's reason (e.g. "key values mismatch", "no start line") says which part is wrong.
    const reason = errorMessage(err).replace(/^error:[0-9A-F]+:[^:]*:/i, '')
    throw new ConfigError(`${variable}: ${path} ${what} (${reason})`, [`${variable}: ${what}`])
  }
}
