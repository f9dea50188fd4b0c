import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A throwaway certificate authority for local brokers and tests, made with the openssl command line: one
 * CA, a server certificate for the loopback names and any number of client certificates for mutual TLS.
 * Keys are EC P-256 in unencrypted PKCS#8 PEM, the form Node, Kafka (PEM keystores), ClickHouse and Redis
 * all read. Never for production: the CA key sits next to the certificates.
 */

export interface CertPair {
  cert: string
  key: string
}

export interface DevCertificates {
  dir: string
  /** CA certificate (PEM): what clients trust, and what servers check client certificates against. */
  ca: string
  /** The server's certificate (with the CA after it, a full chain) and key. */
  server: CertPair
  /** Client certificates by name (the certificate's CN). */
  clients: Record<string, CertPair>
}

export interface MakeDevCertificatesOptions {
  dir: string
  /** Names the server certificate is valid for. Default 127.0.0.1, ::1 and localhost. */
  serverNames?: string[]
  /** One client certificate per name. Default none. */
  clients?: string[]
  /** Validity in days. Default 30. */
  days?: number
}

export async function makeDevCertificates(opts: MakeDevCertificatesOptions): Promise<DevCertificates> {
  const { dir } = opts
  const days = String(opts.days ?? 30)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const path = (name: string) => join(dir, name)

  await newKey(path('ca.key'))
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    path('ca.key'),
    '-sha256',
    '-days',
    days,
    '-subj',
    `/CN=AIMS development CA ${randomBytes(4).toString('hex')}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    path('ca.crt'),
  ])

  const names = opts.serverNames ?? ['127.0.0.1', '::1', 'localhost']
  const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
  const server = await signed(dir, 'server', names[0] ?? 'localhost', days, [
    `subjectAltName=${san}`,
    'extendedKeyUsage=serverAuth',
  ])
  const clients: Record<string, CertPair> = {}
  for (const name of opts.clients ?? []) {
    clients[name] = await signed(dir, `client-${name}`, name, days, ['extendedKeyUsage=clientAuth'])
  }
  await rm(path('ca.srl'), { force: true })
  return { dir, ca: path('ca.crt'), server, clients }
}

async function signed(
  dir: string,
  file: string,
  commonName: string,
  days: string,
  extensions: string[],
): Promise<CertPair> {
  const path = (suffix: string) => join(dir, `${file}.${suffix}`)
  await newKey(path('key'))
  await openssl(['req', '-new', '-key', path('key'), '-subj', `/CN=${commonName}`, '-out', path('csr')])
  await writeFile(
    path('ext'),
    [...extensions, 'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature'].join('\n'),
  )
  await openssl([
    'x509',
    '-req',
    '-in',
    path('csr'),
    '-CA',
    join(dir, 'ca.crt'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    days,
    '-sha256',
    '-extfile',
    path('ext'),
    '-out',
    path('crt'),
  ])
  await Promise.all([rm(path('csr')), rm(path('ext'))])
  return { cert: path('crt'), key: path('key') }
}

async function newKey(out: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out])
  await chmod(out, 0o600)
}

function openssl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString()
    })
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' ? new Error('openssl was not found on PATH (Debian package openssl)') : err,
      ),
    )
    child.once('exit', (code) => {
      if (code === 0) resolve()
      else reject(new Error(`openssl ${args[0]} failed (exit code ${code}): ${stderr.trim()}`))
    })
  })
}
