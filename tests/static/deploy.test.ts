import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { configKeys, loadConfig } from '../../shared/config/env.js'
import { ConfigError } from '../../shared/errors.js'
import type { Authenticator } from '../../shared/http/auth/authenticator.js'
import { authFromConfig } from '../../shared/http/auth/from-config.js'
import { generateToken, hashToken, tokenLine } from '../../shared/http/auth/tokens.js'

/**
 * The deployment descriptions agree with the code: docker-compose.yml, the Kubernetes kustomization and
 * the Dockerfile only set variables the config schema knows, with values it accepts, and refer to files
 * that exist. `docker compose config` and `kubectl kustomize` run too where those tools exist (no engine
 * is needed for either); without them only their assertion is left out, the YAML checks still run.
 */

const root = fileURLToPath(new URL('../../', import.meta.url))
const known = new Set<string>(configKeys)
const read = (path: string) => readFileSync(join(root, path), 'utf8')

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 30_000 })
  return !r.error && r.status === 0
}

/**
 * Compose variable interpolation: `vars` (the operator's environment), else the defaults written in the
 * file (`${X:-default}`), and `$$`.
 */
function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?[-?]([^}]*))?\}/g, (match, name?: string, fallback?: string) =>
    match === '$$' ? '$' : (vars[name!] ?? fallback ?? ''),
  )
}

type Service = {
  build?: unknown
  image?: string
  entrypoint?: string[]
  command?: string[]
  environment?: Record<string, string | number | boolean>
  volumes?: string[]
  secrets?: string[]
  ports?: string[]
  read_only?: boolean
  cap_drop?: string[]
  profiles?: string[]
  healthcheck?: { test?: string[]; disable?: boolean }
  depends_on?: Record<string, { condition: string }>
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>
  secrets: Record<string, { file: string }>
}
const projectServices = Object.entries(compose.services).filter(([, s]) => s.build !== undefined)
const envOf = (s: Service) =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]))

describe('docker-compose.yml', () => {
  it('builds the collector, processor, alerter and the demo feed from the Dockerfile', () => {
    expect(projectServices.map(([name]) => name).sort()).toEqual([
      'alerter',
      'collector',
      'demo',
      'processor',
    ])
    for (const [name, s] of projectServices) {
      expect(s.command?.[0], name).toBe(`dist/services/${name}/main.js`)
    }
    const demo = compose.services.demo!
    expect(demo.profiles).toEqual(['demo'])
    expect(demo.command).toEqual(['dist/services/demo/main.js', '--rate', '50'])
  })

  it('sets only configuration variables the schema knows, with values loadConfig accepts', () => {
    for (const [name, s] of projectServices) {
      const env = envOf(s)
      for (const key of Object.keys(env))
        expect(known.has(key), `${name}: unknown variable ${key}`).toBe(true)
      const cfg = loadConfig(env)
      expect(cfg.KAFKA_BROKERS, name).toEqual(['kafka:9092'])
      expect(cfg.CLICKHOUSE_URL, name).toBe('http://clickhouse:8123')
      expect(cfg.HTTP_HOST, `${name} must listen on all interfaces in a container`).toBe('0.0.0.0')
      expect(cfg.REDIS_URL, name).toBe('redis://redis:6379')
      expect(cfg.CLICKHOUSE_PASSWORD_FILE, name).toBe('/run/secrets/clickhouse_password')
      expect(cfg.REDIS_PASSWORD_FILE, name).toBe('/run/secrets/redis_password')
      expect(s.secrets, name).toEqual(expect.arrayContaining(['clickhouse_password', 'redis_password']))
    }
  })

  it('checks the readiness of the services on /readyz and waits for healthy infrastructure', () => {
    for (const name of ['collector', 'processor', 'alerter']) {
      const s = compose.services[name]!
      expect(s.healthcheck?.test?.join(' '), name).toContain('/readyz')
      for (const dep of ['kafka', 'clickhouse', 'redis'])
        expect(s.depends_on?.[dep]?.condition, name).toBe('service_healthy')
    }
  })

  it('runs the infrastructure the design names', () => {
    const s = compose.services
    expect(s.kafka?.image).toMatch(/^apache\/kafka:/)
    expect(envOf(s.kafka!).KAFKA_PROCESS_ROLES).toBe('broker,controller')
    expect(s.clickhouse?.image).toMatch(/^clickhouse\/clickhouse-server:/)
    for (const file of ['aims-users.xml', 'grafana-readonly.xml'])
      expect(s.clickhouse?.volumes?.join(' ')).toContain(
        `./deploy/clickhouse/users.d/${file}:/etc/clickhouse-server/users.d/`,
      )
    expect(s.redis?.entrypoint?.join(' ')).toContain('--appendonly yes')
    expect(envOf(s.grafana!).GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource')
    expect(s.prometheus?.volumes?.join(' ')).toContain('./deploy/prometheus:/etc/prometheus')
    expect(s.alertmanager?.secrets).toEqual(['pagerduty_routing_key', 'webhook_token'])
  })

  it('gives Grafana every variable and secret file its datasource provisioning reads', () => {
    const provisioning = read('deploy/grafana/provisioning/datasources/datasources.yaml')
    const grafana = compose.services.grafana!
    const grafanaEnv = envOf(grafana)
    for (const m of provisioning.matchAll(/\$\{(\w+)\}/g)) expect(grafanaEnv[m[1]!], m[1]).toBeTruthy()
    const files = [...provisioning.matchAll(/\$__file\{\/run\/secrets\/(\w+)\}/g)].map((m) => m[1]!)
    expect(files).toEqual(['grafana_clickhouse_password'])
    for (const f of files) expect(grafana.secrets, f).toContain(f)
  })

  it("fills every password ClickHouse's users.d reads from a secret, in the server's entry point", () => {
    const clickhouse = compose.services.clickhouse!
    const script = interpolate(clickhouse.entrypoint!.join(' '))
    for (const file of ['aims-users.xml', 'grafana-readonly.xml']) {
      for (const m of read(`deploy/clickhouse/users.d/${file}`).matchAll(/from_env="(\w+)"/g)) {
        const exported = new RegExp(`${m[1]}="\\$\\(cat /run/secrets/(\\w+)\\)"`).exec(script)
        expect(exported, `${file}: ${m[1]}`).not.toBeNull()
        expect(clickhouse.secrets).toContain(exported![1])
      }
    }
    expect(script).toMatch(/exec \/entrypoint\.sh$/)
    expect(envOf(clickhouse).CLICKHOUSE_SKIP_USER_SETUP).toBe('1')
  })

  it('refers only to files and folders that exist', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const src = interpolate(v).split(':')[0]!
        if (!src.startsWith('.') && !src.startsWith('/')) continue // named volume
        expect(existsSync(resolve(root, src)), `${name}: ${src} does not exist`).toBe(true)
      }
    }
    const madeByScript = read('deploy/scripts/make-secrets.sh')
    for (const [name, secret] of Object.entries(compose.secrets)) {
      const file = interpolate(secret.file)
      // Passwords are generated locally (never committed); the script must make each one.
      if (file.startsWith('./deploy/secrets/'))
        expect(madeByScript, `make-secrets.sh makes ${name}`).toContain(name)
      else expect(existsSync(resolve(root, file)), `secret ${name}`).toBe(true)
    }
    for (const [name, s] of Object.entries(compose.services))
      for (const secret of s.secrets ?? [])
        expect(compose.secrets[secret], `${name}: secret ${secret}`).toBeDefined()
    expect(existsSync(join(root, 'Dockerfile'))).toBe(true)
  })

  it('starts services whose entry points exist in the source tree', () => {
    for (const [name, s] of projectServices) {
      const source = s.command![0]!.replace(/^dist\//, '').replace(/\.js$/, '.ts')
      expect(existsSync(join(root, source)), `${name}: ${source} (compiled to ${s.command![0]})`).toBe(true)
    }
  })

  it('is accepted by `docker compose config` where the compose plugin exists', () => {
    if (!has('docker', ['compose', 'version'])) {
      console.warn(
        'docker compose plugin not installed: `docker compose config` not run (YAML checks above still apply)',
      )
      return
    }
    const r = spawnSync(
      'docker',
      ['compose', '-f', 'docker-compose.yml', '--profile', 'demo', 'config', '--quiet'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      },
    )
    expect(r.status, r.stderr).toBe(0)
  })
})

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile')
  const lines = dockerfile.split('\n').map((l) => l.trim())
  const stages = dockerfile.split(/^FROM /m).slice(1)
  const runtime = stages[stages.length - 1]!

  it('builds with all dependencies and ships production dependencies only', () => {
    expect(dockerfile).toMatch(/npm install(?! --omit)/)
    expect(dockerfile).toMatch(/tsc -p tsconfig\.build\.json/)
    expect(dockerfile).toMatch(/npm install --omit=dev/)
    // Every static file of the review page (the sign-in page and each section's script included) must
    // reach the image next to the compiled code: a file added to the folder is checked without a test edit.
    const copied = [...runtime.matchAll(/\S*review-page\/(\S+)/g)]
      .map((m) => m[1]!)
      .filter((f) => f !== '')
      .map((glob) => new RegExp(`^${glob.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`))
    const assets = readdirSync(join(root, 'services/processor/review-page')).filter((f) => !f.endsWith('.ts'))
    expect(assets).toContain('login.html')
    for (const f of assets)
      expect(
        copied.some((re) => re.test(f)),
        f,
      ).toBe(true)
    expect(runtime).toMatch(/COPY --from=deps\b.*node_modules/)
    expect(runtime).toMatch(/COPY --from=build\b.*\/app\/dist/)
  })

  it('uses a glibc Node 20 base', () => {
    const base = /^ARG NODE_IMAGE=(\S+)/m.exec(dockerfile)?.[1]
    expect(base).toMatch(/^node:20-(bookworm|bullseye)/)
    expect(dockerfile).not.toMatch(/alpine/)
  })

  it('leaves embedded ClickHouse (chDB) out of the image: containers use a ClickHouse server', () => {
    const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string> | undefined>
    // Only an optional dependency can be left out by `--omit=optional`.
    expect(pkg.dependencies?.chdb).toBeUndefined()
    expect(pkg.optionalDependencies?.chdb).toBeDefined()
    const deps = stages.find((s) => /^\S+ AS deps\b/.test(s))
    expect(deps, 'a deps stage').toBeDefined()
    expect(deps).toMatch(/npm install --omit=dev --omit=optional/)
    expect(deps).toMatch(/test ! -e node_modules\/chdb/)
    expect(runtime).not.toMatch(/chdb/i)
  })

  it('runs as a non-root user', () => {
    const user = /^USER\s+(\S+)/m.exec(runtime)?.[1]
    expect(user).toBeDefined()
    expect(['root', '0', '0:0']).not.toContain(user)
  })

  it('starts a service with node dist/services/<svc>/main.js and ships the migrations beside it', () => {
    expect(lines).toContain('ENTRYPOINT ["node", "--enable-source-maps"]')
    expect(lines).toContain('CMD ["dist/services/collector/main.js"]')
    // shared/clickhouse/migrate.ts reads ../../deploy/clickhouse/migrations relative to itself
    expect(runtime).toMatch(/deploy\/clickhouse\/migrations \.\/dist\/deploy\/clickhouse\/migrations/)
  })

  it('keeps the build context small', () => {
    const ignore = read('.dockerignore').split('\n')
    for (const entry of ['node_modules', '.git', 'dist', 'data', 'tests', '.env'])
      expect(ignore).toContain(entry)
  })
})

// ---------------------------------------------------------------------------------------------------------
// Kubernetes

type K8sDoc = {
  kind: string
  metadata: { name: string }
  spec?: Record<string, unknown>
  data?: Record<string, string>
}
type Container = {
  args?: string[]
  env?: { name: string; value?: string; valueFrom?: unknown }[]
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[]
  livenessProbe?: { httpGet?: { path: string } }
  readinessProbe?: { httpGet?: { path: string } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: {
    allowPrivilegeEscalation?: boolean
    readOnlyRootFilesystem?: boolean
    capabilities?: { drop?: string[] }
  }
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[]
}
type PodSpec = {
  containers: Container[]
  securityContext?: { runAsNonRoot?: boolean }
  volumes?: { name: string; secret?: { secretName: string } }[]
}

const BASE = 'deploy/k8s/base'
const baseKustomization = parse(read(`${BASE}/kustomization.yaml`)) as {
  resources: string[]
  configMapGenerator: { name: string; envs: string[] }[]
}
const baseDocs: K8sDoc[] = baseKustomization.resources.flatMap((f) =>
  parseAllDocuments(read(`${BASE}/${f}`)).map((d) => d.toJSON() as K8sDoc),
)

function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
    if (m) out[m[1]!] = m[2]!
  }
  return out
}
const baseConfig = envFile(`${BASE}/${baseKustomization.configMapGenerator[0]!.envs[0]}`)

const OVERLAY = 'deploy/k8s/overlays/example'
const overlay = parse(read(`${OVERLAY}/kustomization.yaml`)) as {
  configMapGenerator: { literals: string[] }[]
  secretGenerator: { name: string; files?: string[]; envs?: string[] }[]
}
/** The example overlay's configuration: config.env with its literals merged in. */
const overlayConfig: Record<string, string> = {
  ...baseConfig,
  ...Object.fromEntries(
    overlay.configMapGenerator.flatMap((g) => g.literals).map((l) => l.split(/=(.*)/s).slice(0, 2)),
  ),
}
/** The keys of the example Secret aims-credentials and the placeholder file of each. */
const overlayCredentials = (
  overlay.secretGenerator.find((g) => g.name === 'aims-credentials')?.files ?? []
).map((f) => ({ key: f.split('=')[0]!, example: `${OVERLAY}/${f.split('=')[1]}` }))

// ---------------------------------------------------------------------------------------------------------
// Start-up as each service does it: loadConfig, then the authentication of its role (shared/service.ts).
// A deployment that would refuse to start (e.g. HTTP_HOST 0.0.0.0 without credentials) fails here.

/** What a service's entry point asks `runService` for: an HTTP server at all, and the API (processor). */
function roleOf(service: string): { servesHttp: boolean; servesApi: boolean } {
  const src = read(`services/${service}/main.ts`)
  return { servesHttp: /\brunService\(/.test(src), servesApi: /\bservesApi:\s*true\b/.test(src) }
}

/**
 * Runs the service's start-up checks on `env`, with each *_FILE path mapped by `fileAt` to a file on
 * this machine (secret mounts do not exist here). Throws the ConfigError the service would exit with;
 * returns its authenticator, or undefined for a process without an HTTP server.
 */
function startsWithAuth(
  service: string,
  env: Record<string, string>,
  fileAt: (path: string) => string,
): Authenticator | undefined {
  const local = Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, k.endsWith('_FILE') ? fileAt(v) : v]),
  )
  const cfg = loadConfig(local)
  const role = roleOf(service)
  return role.servesHttp ? authFromConfig(cfg, { servesApi: role.servesApi }).authenticator : undefined
}

/** The roles a bearer token gets, or the reason it is refused. */
async function rolesOf(auth: Authenticator, token: string): Promise<string[] | string> {
  const r = await auth.authenticate({ authorization: `Bearer ${token}` })
  return r.ok ? [...r.principal.roles].sort() : r.reason
}

const serviceOf = (d: K8sDoc) => d.metadata.name.replace(/^aims-/, '')
const containerOf = (d: K8sDoc) => (d.spec!.template as { spec: PodSpec }).spec.containers[0]!

/** A Deployment's environment: the ConfigMap, then the container's own `env` (which wins, as in a pod). */
function deploymentEnv(d: K8sDoc, config: Record<string, string>): Record<string, string> {
  const own = Object.fromEntries((containerOf(d).env ?? []).map((e) => [e.name, e.value ?? '']))
  return { ...config, ...own }
}

let work: string
/** deploy/scripts/make-secrets.sh run into a temporary AIMS_SECRETS_DIR: its folder and its output. */
const made = { dir: '', firstRun: '', secondRun: '' }
/** Valid values for the Secret aims-credentials (the example overlay only holds placeholders). */
const k8sSecret = { dir: '', adminToken: '', metricsToken: '' }

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'aims-deploy-static-'))
  made.dir = join(work, 'compose-secrets')
  const run = () => {
    const r = spawnSync('bash', ['deploy/scripts/make-secrets.sh'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, AIMS_SECRETS_DIR: made.dir },
    })
    expect(r.status, r.stderr).toBe(0)
    return r.stdout
  }
  made.firstRun = run()
  made.secondRun = run()

  k8sSecret.dir = join(work, 'k8s-credentials')
  mkdirSync(k8sSecret.dir)
  k8sSecret.adminToken = generateToken()
  k8sSecret.metricsToken = randomBytes(24).toString('base64url')
  const tokens = tokenLine({ name: 'ops', roles: ['admin'], sha256: hashToken(k8sSecret.adminToken) })
  writeFileSync(join(k8sSecret.dir, 'http-tokens'), `${tokens}\n`)
  writeFileSync(join(k8sSecret.dir, 'metrics-token'), k8sSecret.metricsToken)
  writeFileSync(join(k8sSecret.dir, 'http-session-secret'), randomBytes(32).toString('base64url'))
})

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

/** A compose service's /run/secrets/<name> → the file make-secrets.sh wrote; the service must mount it. */
function composeFileAt(service: string): (path: string) => string {
  return (path) => {
    const name = /^\/run\/secrets\/(\w+)$/.exec(path)?.[1]
    expect(name, `${service}: ${path} is not a compose secret`).toBeDefined()
    expect(compose.services[service]!.secrets, `${service} mounts ${name}`).toContain(name)
    return resolve(root, interpolate(compose.secrets[name!]!.file, { AIMS_SECRETS_DIR: made.dir }))
  }
}

const CREDENTIALS = '/etc/aims/credentials/'

/** /etc/aims/credentials/<key> → a valid stand-in; with `keys`, the Secret must hold that key. */
function credentialStandIns(keys?: string[]): (path: string) => string {
  return (path) => {
    expect(path.startsWith(CREDENTIALS), `${path} is not in the mounted Secret`).toBe(true)
    const key = path.slice(CREDENTIALS.length)
    if (keys) expect(keys, `the Secret holds ${key}`).toContain(key)
    return join(k8sSecret.dir, key)
  }
}

function checkWorkloads(docs: K8sDoc[], config: Record<string, string>, where: string): void {
  const deployments = docs.filter((d) => d.kind === 'Deployment')
  expect(deployments.map((d) => d.metadata.name).sort(), where).toEqual([
    'aims-alerter',
    'aims-collector',
    'aims-processor',
  ])
  for (const d of deployments) {
    const pod = (d.spec!.template as { spec: PodSpec }).spec
    const c = pod.containers[0]!
    const name = `${where} ${d.metadata.name}`
    expect(c.args?.[0], name).toBe(`dist/services/${d.metadata.name.replace('aims-', '')}/main.js`)
    expect(c.livenessProbe?.httpGet?.path, name).toBe('/healthz')
    expect(c.readinessProbe?.httpGet?.path, name).toBe('/readyz')
    expect(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${name} requests`).toBeTruthy()
    expect(c.resources?.limits?.memory, `${name} memory limit`).toBeTruthy()
    expect(
      c.envFrom?.some((e) => e.configMapRef?.name.startsWith('aims-config')),
      name,
    ).toBe(true)
    // Every secret is a file of the mounted Secret, never an environment variable.
    expect(
      c.envFrom?.some((e) => e.secretRef !== undefined),
      name,
    ).toBe(false)
    for (const v of c.env ?? []) expect(v.valueFrom, `${name}: ${v.name} from a Secret`).toBeUndefined()
    expect(pod.securityContext?.runAsNonRoot, name).toBe(true)
    expect(c.securityContext?.allowPrivilegeEscalation, name).toBe(false)
    for (const kind of ['Service', 'PodDisruptionBudget']) {
      expect(
        docs.some((x) => x.kind === kind && x.metadata.name === d.metadata.name),
        `${name} ${kind}`,
      ).toBe(true)
    }
  }
  const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!
  expect((hpa.spec!.scaleTargetRef as { name: string }).name).toBe('aims-collector')
  const partitions = loadConfig(config).KAFKA_TOPIC_PARTITIONS
  expect(
    hpa.spec!.maxReplicas as number,
    `${where}: more collectors than partitions would idle`,
  ).toBeLessThanOrEqual(partitions)
  expect(hpa.spec!.minReplicas as number).toBeLessThanOrEqual(hpa.spec!.maxReplicas as number)
}

describe('Kubernetes base (deploy/k8s/base)', () => {
  it('configures only known variables with valid values (the Secret adds the password)', () => {
    for (const key of Object.keys(baseConfig))
      expect(known.has(key), `config.env: unknown variable ${key}`).toBe(true)
    const cfg = loadConfig(baseConfig)
    expect(cfg.CLICKHOUSE_PASSWORD_FILE).toMatch(/^\/etc\/aims\/credentials\//)
    expect(cfg.REDIS_PASSWORD_FILE).toMatch(/^\/etc\/aims\/credentials\//)
    expect(cfg.HTTP_HOST).toBe('0.0.0.0')
    expect(cfg.KAFKA_BROKERS?.length).toBeGreaterThan(0)
    expect(cfg.CLICKHOUSE_URL).toBeDefined()
  })

  it('has the three Deployments with probes, resources and config, Services, PDBs and a bounded HPA', () => {
    checkWorkloads(baseDocs, baseConfig, 'base')
  })

  it('renders with kustomize where kubectl exists, base and example overlay', () => {
    if (!has('kubectl', ['version', '--client'])) {
      console.warn('kubectl not installed: kustomize rendering not run (YAML checks above still apply)')
      return
    }
    for (const dir of [BASE, 'deploy/k8s/overlays/example']) {
      const r = spawnSync('kubectl', ['kustomize', dir], { cwd: root, encoding: 'utf8', timeout: 60_000 })
      expect(r.status, r.stderr).toBe(0)
      const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as K8sDoc)
      const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('aims-config'))!
      const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name.startsWith('aims-credentials'))
      const config = { ...configMap.data! }
      for (const key of Object.keys(config))
        expect(known.has(key), `${dir}: unknown variable ${key}`).toBe(true)
      loadConfig(config)
      checkWorkloads(docs, config, dir)
      // Generated names carry a hash: the Deployments must point at the rendered ones.
      for (const d of docs.filter((x) => x.kind === 'Deployment')) {
        const pod = (d.spec!.template as { spec: PodSpec }).spec
        const refs = (pod.containers[0]!.envFrom ?? []).map((e) => e.configMapRef?.name)
        expect(refs).toContain(configMap.metadata.name)
        if (secret) {
          expect(pod.volumes?.find((v) => v.name === 'credentials')?.secret?.secretName).toBe(
            secret.metadata.name,
          )
        }
        // As rendered, each service starts with its authentication (stand-in credential files).
        const env = deploymentEnv(d, config)
        startsWithAuth(serviceOf(d), env, credentialStandIns(secret ? Object.keys(secret.data!) : undefined))
      }
    }
  })
})

// ---------------------------------------------------------------------------------------------------------
// Least privilege: what is published or exposed, who may read what, where passwords live

/** Names that hold a secret value: such a variable may only be a *_FILE path or absent. */
const SECRET_NAME = /(PASSWORD|SECRET|TOKEN|PRIVATE_KEY)$/

describe('least privilege: docker-compose.yml', () => {
  it('publishes only Grafana and the review page/API, bound to 127.0.0.1 by default', () => {
    const publishing = Object.entries(compose.services).filter(([, s]) => (s.ports ?? []).length > 0)
    expect(publishing.map(([name]) => name).sort()).toEqual(['grafana', 'processor'])
    for (const [name, s] of publishing) {
      for (const port of s.ports!) {
        expect(interpolate(port), `${name}: ${port}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/)
      }
    }
  })

  it('holds no password, secret or token value: secrets are files under /run/secrets', () => {
    const text = read('docker-compose.yml')
    // A `${VAR:-fallback}` default for a secret would be a password in the file.
    for (const m of text.matchAll(/\$\{(\w+):-/g)) {
      if (!m[1]!.endsWith('_FILE')) expect(m[1]!, 'a secret with a default value').not.toMatch(SECRET_NAME)
    }
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [key, value] of Object.entries(envOf(s))) {
        if (!SECRET_NAME.test(key)) continue
        expect.fail(
          `${name}: ${key}=${value.length > 0 ? '(a value)' : '(empty)'}; use ${key}_FILE and a secret`,
        )
      }
      for (const [key, value] of Object.entries(envOf(s)).filter(([k]) => /_FILE$/.test(k))) {
        expect(value, `${name}: ${key}`).toMatch(/^\/run\/secrets\/\w+$/)
        expect(s.secrets, `${name}: ${key}`).toContain(value.split('/').pop())
      }
    }
  })

  it('runs the pipeline containers with a read-only root, no capabilities and no privilege escalation', () => {
    for (const [name, s] of projectServices) {
      expect(s.read_only, name).toBe(true)
      expect(s.cap_drop, name).toEqual(['ALL'])
    }
  })

  it('starts Redis with requirepass from its secret (not on a command line) and the append-only file', () => {
    const redis = compose.services.redis!
    const script = interpolate(redis.entrypoint!.join(' '))
    expect(script).toMatch(
      /redis-server - .*<<EOF\s+requirepass \$\(cat \/run\/secrets\/redis_password\)\s+EOF/,
    )
    expect(script).toContain('--appendonly yes')
    expect(redis.secrets).toEqual(['redis_password'])
    expect(interpolate(redis.healthcheck!.test!.join(' '))).toContain('REDISCLI_AUTH=')
  })
})

describe('least privilege: ClickHouse users (deploy/clickhouse/users.d)', () => {
  const aims = read('deploy/clickhouse/users.d/aims-users.xml')
  const grafana = read('deploy/clickhouse/users.d/grafana-readonly.xml')
  const grants = (xml: string) => [...xml.matchAll(/<query>\s*(GRANT[^<]*?)\s*<\/query>/g)].map((m) => m[1]!)
  const tables = [
    ...readdirSync(join(root, 'deploy/clickhouse/migrations'))
      .filter((f) => f.endsWith('.sql'))
      .flatMap((f) => [
        ...read(`deploy/clickhouse/migrations/${f}`).matchAll(
          /CREATE (?:TABLE|(?:MATERIALIZED )?VIEW) IF NOT EXISTS (\w+)/g,
        ),
      ])
      .map((m) => m[1]!),
  ]

  it('removes the password-less `default` user', () => {
    expect(aims).toMatch(/<default remove="remove"\s*\/>/)
  })

  it("gives the services' user rights on its own database only, without access management", () => {
    const list = grants(aims)
    expect(list.length).toBeGreaterThan(0)
    for (const g of list) {
      expect(g).toMatch(/ ON aims\.\*$/)
      expect(g).not.toMatch(/\bALL\b|ACCESS MANAGEMENT|SYSTEM|SOURCES|\bURL\b|\bFILE\b|REMOTE/)
    }
    expect(aims).toMatch(/<aims>[\s\S]*<password from_env="AIMS_CLICKHOUSE_PASSWORD" \/>[\s\S]*<\/aims>/)
    expect(aims).toContain('<access_management>0</access_management>')
  })

  /** Columns per table, from CREATE TABLE and ALTER TABLE ... ADD COLUMN in the migrations. */
  const columns = new Map<string, string[]>()
  const migrations = readdirSync(join(root, 'deploy/clickhouse/migrations'))
    .filter((f) => f.endsWith('.sql'))
    .map((f) => read(`deploy/clickhouse/migrations/${f}`))
    .join('\n')
  for (const m of migrations.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)\s*\(([\s\S]*?)\n\)/g)) {
    columns.set(
      m[1]!,
      [...m[2]!.matchAll(/^\s*(\w+)\s+[A-Z]/gm)].map((c) => c[1]!),
    )
  }
  for (const m of migrations.matchAll(/ALTER TABLE (\w+)((?:\s*ADD COLUMN IF NOT EXISTS \w+[^,;]*[,;])+)/g)) {
    for (const c of m[2]!.matchAll(/ADD COLUMN IF NOT EXISTS (\w+)/g)) columns.get(m[1]!)?.push(c[1]!)
  }
  /** Every SQL text of the dashboards: panel targets and template variables. */
  const dashboardSql: string[] = []
  const collect = (o: unknown): void => {
    if (!o || typeof o !== 'object') return
    for (const [k, v] of Object.entries(o)) {
      if (['rawSql', 'query', 'definition'].includes(k) && typeof v === 'string') dashboardSql.push(v)
      else collect(v)
    }
  }
  for (const f of readdirSync(join(root, 'dashboards')).filter((f) => f.endsWith('.json'))) {
    collect(JSON.parse(read(`dashboards/${f}`)))
  }
  /** Table → columns a dashboard query names (a query naming a table reads its columns it mentions). */
  const queried = new Map<string, Set<string>>()
  for (const sql of dashboardSql) {
    for (const [table, cols] of columns) {
      if (!new RegExp(`\\b(FROM|JOIN)\\s+${table}\\b`).test(sql)) continue
      const used = queried.get(table) ?? new Set<string>()
      for (const c of cols) if (new RegExp(`\\b${c}\\b`).test(sql)) used.add(c)
      queried.set(table, used)
    }
  }
  const granted = new Map<string, string[]>()
  for (const g of grants(grafana)) {
    const m = /^GRANT SELECT\(([\w, ]+)\) ON aims\.(\w+)$/.exec(g)
    expect(m, `only SELECT on named columns of a named table: ${g}`).not.toBeNull()
    granted.set(
      m![2]!,
      m![1]!.split(',').map((c) => c.trim()),
    )
  }

  it('lets Grafana read exactly the columns the dashboards query, never dead_letters', () => {
    expect(dashboardSql.length).toBeGreaterThan(50)
    expect([...granted.keys()].sort()).toEqual([...queried.keys()].sort())
    for (const [table, used] of queried) {
      expect(tables, `${table} is a table of the migrations`).toContain(table)
      expect(granted.get(table)!.sort(), table).toEqual([...used].sort())
      for (const c of granted.get(table)!) expect(columns.get(table), `${table}.${c}`).toContain(c)
    }
    // Rejected messages stay with operators (the review page, admin role): not one column of them.
    expect(tables).toContain('dead_letters')
    expect(granted.has('dead_letters')).toBe(false)
    for (const raw of ['privacy_incident_events', 'audit_finding_events']) {
      expect(granted.get(raw) ?? []).not.toContain('source')
      expect(granted.get(raw) ?? []).not.toContain('ingested_at')
    }
    expect(grafana).toContain('<readonly>2</readonly>')
    expect(grafana).toContain('<access_management>0</access_management>')
  })
})

describe('least privilege: Kubernetes (deploy/k8s)', () => {
  const appNames = ['aims-alerter', 'aims-collector', 'aims-processor']
  const policies = baseDocs.filter((d) => d.kind === 'NetworkPolicy') as unknown as {
    metadata: { name: string }
    spec: {
      podSelector: {
        matchLabels?: Record<string, string>
        matchExpressions?: { key: string; operator: string; values: string[] }[]
      }
      policyTypes: string[]
      ingress?: { from?: unknown[]; ports?: { port: number }[] }[]
      egress?: unknown[]
    }
  }[]
  const selects = (p: (typeof policies)[number], app: string) =>
    p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === app ||
    (p.spec.podSelector.matchExpressions ?? []).some(
      (e) => e.key === 'app.kubernetes.io/name' && e.operator === 'In' && e.values.includes(app),
    )

  it('denies all traffic to and from every pod by default', () => {
    const deny = policies.find((p) => p.spec.ingress === undefined && p.spec.egress === undefined)
    expect(deny, 'a policy with no rules').toBeDefined()
    expect(deny!.spec.policyTypes.sort()).toEqual(['Egress', 'Ingress'])
    for (const app of appNames) expect(selects(deny!, app), app).toBe(true)
  })

  it('lets in only the HTTP port, from named namespaces; the review page only on the processor', () => {
    for (const p of policies) {
      for (const rule of p.spec.ingress ?? []) {
        expect(rule.from?.length, `${p.metadata.name}: ingress from anywhere`).toBeGreaterThan(0)
        expect(
          rule.ports?.map((x) => x.port),
          p.metadata.name,
        ).toEqual([8080])
      }
    }
    const ingressTo = (app: string) =>
      policies.filter((p) => (p.spec.ingress ?? []).length > 0 && selects(p, app)).map((p) => p.metadata.name)
    expect(ingressTo('aims-processor')).toContain('aims-allow-processor-ingress')
    expect(ingressTo('aims-collector')).not.toContain('aims-allow-processor-ingress')
  })

  it('exposes the services inside the cluster only', () => {
    for (const svc of baseDocs.filter((d) => d.kind === 'Service'))
      expect((svc.spec as { type?: string }).type, svc.metadata.name).toBe('ClusterIP')
  })

  it('mounts passwords and certificates read-only from a Secret; containers run read-only without capabilities', () => {
    for (const d of baseDocs.filter((x) => x.kind === 'Deployment')) {
      const pod = (d.spec!.template as { spec: PodSpec }).spec
      const c = pod.containers[0]!
      expect(c.securityContext?.readOnlyRootFilesystem, d.metadata.name).toBe(true)
      expect(c.securityContext?.capabilities?.drop, d.metadata.name).toEqual(['ALL'])
      const mount = c.volumeMounts?.find((m) => m.mountPath === '/etc/aims/credentials')
      expect(mount?.readOnly, d.metadata.name).toBe(true)
      expect(pod.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName).toBe('aims-credentials')
    }
  })

  it('holds no password in the configuration: only *_FILE paths into the mounted Secret', () => {
    const deployments = baseDocs.filter((d) => d.kind === 'Deployment')
    for (const d of deployments) {
      for (const [key, value] of Object.entries(deploymentEnv(d, overlayConfig))) {
        const where = `${d.metadata.name}: ${key}`
        expect(SECRET_NAME.test(key), `${where} holds a secret value; use ${key}_FILE`).toBe(false)
        if (key.endsWith('_FILE')) {
          expect(value, where).toMatch(/^\/etc\/aims\/credentials\/[\w.-]+$/)
          // Every file a variable names is a key of the example Secret.
          expect(
            overlayCredentials.map((f) => f.key),
            where,
          ).toContain(value.split('/').pop())
        }
      }
    }
    expect(loadConfig(overlayConfig).KAFKA_SASL_PASSWORD_FILE).toBe(
      '/etc/aims/credentials/kafka-sasl-password',
    )
    // The example Secret's values are placeholders, and it is the only Secret (no environment variables).
    for (const f of overlayCredentials) expect(read(f.example).trim(), f.key).toMatch(/^REPLACE_ME\b/)
    expect(overlay.secretGenerator.map((g) => g.name)).toEqual(['aims-credentials'])
  })
})

// ---------------------------------------------------------------------------------------------------------
// HTTP authentication: every service starts off loopback, the processor with API tokens, Prometheus scrapes
// with the metrics token, and no token is written in a deployment file

const httpServices = projectServices.map(([name]) => name).filter((name) => roleOf(name).servesHttp)

describe('HTTP authentication: docker-compose.yml', () => {
  const adminToken = () => readFileSync(join(made.dir, 'http_admin_token'), 'utf8').trim()
  const metricsToken = () => readFileSync(join(made.dir, 'metrics_token'), 'utf8')

  it('serves HTTP from the collector, processor and alerter, the API from the processor only', () => {
    expect(httpServices.sort()).toEqual(['alerter', 'collector', 'processor'])
    expect(httpServices.filter((name) => roleOf(name).servesApi)).toEqual(['processor'])
  })

  it('starts every service: its configuration loads and the authentication of its role is configured', async () => {
    for (const [name, s] of projectServices) {
      const auth = startsWithAuth(name, envOf(s), composeFileAt(name))
      if (!roleOf(name).servesHttp) {
        expect(auth, name).toBeUndefined()
        continue
      }
      expect(await rolesOf(auth!, metricsToken()), `${name}: the metrics token`).toEqual(['metrics'])
      expect((await auth!.authenticate({})).ok, `${name}: anonymous`).toBe(false)
      // The API token opens the processor; the collector and alerter serve /metrics only.
      expect(await rolesOf(auth!, adminToken()), `${name}: the admin token`).toEqual(
        roleOf(name).servesApi ? ['admin'] : 'unknown_token',
      )
    }
  })

  it('would catch a service that refuses to start: without its credentials each one stops', () => {
    for (const name of httpServices) {
      const env = envOf(compose.services[name]!)
      const { HTTP_TOKENS_FILE: _tokens, METRICS_TOKEN_FILE: _metrics, ...bare } = env
      expect(() => startsWithAuth(name, bare, composeFileAt(name)), name).toThrow(ConfigError)
      expect(() => startsWithAuth(name, bare, composeFileAt(name)), name).toThrow(
        /^HTTP_HOST: 0\.0\.0\.0 is not a loopback address and no authentication is configured/,
      )
    }
  })

  it('make-secrets.sh prints the admin token once and keeps it for the operator only (0600, mounted nowhere)', () => {
    const token = adminToken()
    expect(token).toMatch(/^aims_[A-Za-z0-9_-]{43}$/)
    expect(made.firstRun.split(token).length - 1, 'the token is printed once').toBe(1)
    expect(made.secondRun, 'a second run keeps the files and does not print the token').not.toContain(token)
    expect(made.secondRun).toContain(join(made.dir, 'http_admin_token'))
    expect(statSync(join(made.dir, 'http_admin_token')).mode & 0o777).toBe(0o600)
    const mounted = Object.values(compose.secrets).map((x) => x.file)
    expect(mounted.some((f) => f.endsWith('/http_admin_token'))).toBe(false)
    // The tokens file holds the hash; the files the containers read are readable by their users.
    expect(readFileSync(join(made.dir, 'http_tokens'), 'utf8')).toContain(hashToken(token))
    for (const [name, secret] of Object.entries(compose.secrets)) {
      const file = interpolate(secret.file, { AIMS_SECRETS_DIR: made.dir })
      if (file.startsWith(made.dir)) expect(statSync(file).mode & 0o777, name).toBe(0o644)
    }
  })

  it('has Prometheus scrape every HTTP service with the metrics token the services accept', async () => {
    const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: {
        job_name: string
        authorization?: { credentials_file?: string }
        static_configs: { targets: string[] }[]
      }[]
    }
    const scraped = new Set<string>()
    for (const job of prometheus.scrape_configs.filter((j) => j.job_name.startsWith('aims-'))) {
      const file = job.authorization?.credentials_file
      expect(file, `${job.job_name} sends credentials`).toBeDefined()
      // The file Prometheus reads is a secret it mounts ...
      const token = readFileSync(composeFileAt('prometheus')(file!), 'utf8').trim()
      for (const target of job.static_configs.flatMap((c) => c.targets)) {
        const name = target.split(':')[0]!
        scraped.add(name)
        // ... the same secret the scraped service reads as METRICS_TOKEN_FILE, and its content authenticates.
        expect(envOf(compose.services[name]!).METRICS_TOKEN_FILE, target).toBe(file)
        const auth = startsWithAuth(name, envOf(compose.services[name]!), composeFileAt(name))!
        expect(await rolesOf(auth, token), target).toEqual(['metrics'])
      }
    }
    expect([...scraped].sort()).toEqual([...httpServices].sort())
  })

  it('publishes the processor where PUBLIC_BASE_URL says', () => {
    const base = new URL(envOf(compose.services.processor!).PUBLIC_BASE_URL!)
    const published = interpolate(compose.services.processor!.ports![0]!).split(':')
    expect(`${base.hostname}:${base.port}`).toBe(`${published[0]}:${published[1]}`)
  })
})

describe('HTTP authentication: Kubernetes', () => {
  const deployments = baseDocs.filter((d) => d.kind === 'Deployment')

  it('starts every Deployment, base and example overlay, with the credentials its Secret must hold', async () => {
    for (const [where, config] of [
      ['base', baseConfig],
      ['overlay', overlayConfig],
    ] as const) {
      for (const d of deployments) {
        const name = `${where} ${d.metadata.name}`
        const keys = where === 'overlay' ? overlayCredentials.map((f) => f.key) : undefined
        const auth = startsWithAuth(serviceOf(d), deploymentEnv(d, config), credentialStandIns(keys))
        expect(auth, name).toBeDefined()
        expect(await rolesOf(auth!, k8sSecret.metricsToken), `${name}: metrics token`).toEqual(['metrics'])
        expect(await rolesOf(auth!, k8sSecret.adminToken), `${name}: API token`).toEqual(
          roleOf(serviceOf(d)).servesApi ? ['admin'] : 'unknown_token',
        )
      }
    }
  })

  it('gives the API tokens and the session key to the processor only', () => {
    for (const d of deployments) {
      const env = deploymentEnv(d, baseConfig)
      const api = roleOf(serviceOf(d)).servesApi
      expect(env.HTTP_TOKENS_FILE !== undefined, d.metadata.name).toBe(api)
      expect(env.HTTP_SESSION_SECRET_FILE !== undefined, d.metadata.name).toBe(api)
      expect(env.METRICS_TOKEN_FILE, d.metadata.name).toBe(`${CREDENTIALS}metrics-token`)
    }
  })

  it('stops start-up when a placeholder of the example Secret is left in place, naming the variable', () => {
    const examples = new Map(overlayCredentials.map((f) => [f.key, join(root, f.example)]))
    const placeholderAt = (path: string) => examples.get(path.slice(CREDENTIALS.length)) ?? path
    for (const d of deployments) {
      let error: unknown
      try {
        startsWithAuth(serviceOf(d), deploymentEnv(d, overlayConfig), placeholderAt)
      } catch (err) {
        error = err
      }
      expect(error, d.metadata.name).toBeInstanceOf(ConfigError)
      expect((error as Error).message, d.metadata.name).toMatch(
        roleOf(serviceOf(d)).servesApi
          ? /^HTTP_TOKENS_FILE: /
          : /^METRICS_TOKEN_FILE: .* at least 24 characters/,
      )
    }
  })
})

describe('no token in a deployment file', () => {
  const files = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(`${dir}/${e.name}`) : [`${dir}/${e.name}`],
    )

  it('holds no API token, token hash or inline credential in compose, Prometheus or Kubernetes files', () => {
    const checked = ['docker-compose.yml', 'deploy/prometheus/prometheus.yml', ...files('deploy/k8s')]
    expect(checked.length).toBeGreaterThan(10)
    for (const f of checked) {
      const text = read(f)
      // `aims_` and 43 base64url characters (metric names such as aims_collector_... are lower case).
      expect(text, `${f}: an API token`).not.toMatch(
        /\baims_(?=[A-Za-z0-9_-]*[A-Z])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/,
      )
      expect(text, `${f}: a token hash (tokens-file line)`).not.toMatch(/\b[0-9a-f]{64}\b/)
      expect(text, `${f}: an inline credential`).not.toMatch(
        /^\s*-?\s*(METRICS_TOKEN|HTTP_SESSION_SECRET|bearer_token|credentials)\s*[:=]/m,
      )
    }
  })
})
