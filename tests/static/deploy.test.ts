import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { parse, parseAllDocuments } from 'yaml'
import { configKeys, loadConfig } from '../../shared/config/env.js'

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

/** Compose variable interpolation with the defaults written in the file (`${X:-default}`, `$$`). */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?[-?]([^}]*))?\}/g, (match, _name?: string, fallback?: string) =>
    match === '$$' ? '$' : (fallback ?? ''),
  )
}

type Service = {
  build?: unknown
  image?: string
  command?: string[]
  environment?: Record<string, string | number | boolean>
  volumes?: string[]
  secrets?: string[]
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
    expect(s.clickhouse?.volumes?.join(' ')).toContain(
      './deploy/clickhouse/users.d/grafana-readonly.xml:/etc/clickhouse-server/users.d/',
    )
    expect(envOf(s.clickhouse!).GRAFANA_CLICKHOUSE_PASSWORD).toBeTruthy()
    expect(s.redis?.command?.join(' ')).toContain('--appendonly yes')
    expect(envOf(s.grafana!).GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource')
    expect(s.prometheus?.volumes?.join(' ')).toContain('./deploy/prometheus:/etc/prometheus')
    expect(s.alertmanager?.secrets).toEqual(['pagerduty_routing_key', 'webhook_token'])
  })

  it('gives Grafana every variable its datasource provisioning reads, and ClickHouse the read-only password', () => {
    const provisioning = read('deploy/grafana/provisioning/datasources/datasources.yaml')
    const grafanaEnv = envOf(compose.services.grafana!)
    for (const m of provisioning.matchAll(/\$\{(\w+)\}/g)) expect(grafanaEnv[m[1]!], m[1]).toBeTruthy()
    const users = read('deploy/clickhouse/users.d/grafana-readonly.xml')
    for (const m of users.matchAll(/from_env="(\w+)"/g))
      expect(envOf(compose.services.clickhouse!)[m[1]!], m[1]).toBeTruthy()
    expect(grafanaEnv.GRAFANA_CLICKHOUSE_PASSWORD).toBe(
      envOf(compose.services.clickhouse!).GRAFANA_CLICKHOUSE_PASSWORD,
    )
  })

  it('refers only to files and folders that exist', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) {
        const src = interpolate(v).split(':')[0]!
        if (!src.startsWith('.') && !src.startsWith('/')) continue // named volume
        expect(existsSync(resolve(root, src)), `${name}: ${src} does not exist`).toBe(true)
      }
    }
    for (const [name, secret] of Object.entries(compose.secrets)) {
      expect(existsSync(resolve(root, interpolate(secret.file))), `secret ${name}`).toBe(true)
    }
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
    // The review page's static files must reach the image next to the compiled code.
    for (const f of ['page.html', 'page.css', 'page.js']) expect(runtime).toContain(`review-page/${f}`)
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
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[]
  livenessProbe?: { httpGet?: { path: string } }
  readinessProbe?: { httpGet?: { path: string } }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean }
}
type PodSpec = { containers: Container[]; securityContext?: { runAsNonRoot?: boolean } }

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
    expect(
      c.envFrom?.some((e) => e.secretRef?.name.startsWith('aims-secrets')),
      name,
    ).toBe(true)
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
    const cfg = loadConfig({ ...baseConfig, CLICKHOUSE_PASSWORD: 'from-the-secret' })
    expect(cfg.HTTP_HOST).toBe('0.0.0.0')
    expect(cfg.KAFKA_BROKERS?.length).toBeGreaterThan(0)
    expect(cfg.CLICKHOUSE_URL).toBeDefined()
  })

  it('has the three Deployments with probes, resources, config and secret, Services, PDBs and a bounded HPA', () => {
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
      const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name.startsWith('aims-secrets'))
      const config = { ...configMap.data! }
      for (const [k, v] of Object.entries(secret?.data ?? {}))
        config[k] = Buffer.from(v, 'base64').toString('utf8')
      for (const key of Object.keys(config))
        expect(known.has(key), `${dir}: unknown variable ${key}`).toBe(true)
      loadConfig({ CLICKHOUSE_PASSWORD: 'x', ...config })
      checkWorkloads(docs, config, dir)
      // Generated names carry a hash: the Deployments must point at the rendered ones.
      for (const d of docs.filter((x) => x.kind === 'Deployment')) {
        const refs = ((d.spec!.template as { spec: PodSpec }).spec.containers[0]!.envFrom ?? []).map(
          (e) => e.configMapRef?.name ?? e.secretRef?.name,
        )
        expect(refs).toContain(configMap.metadata.name)
        if (secret) expect(refs).toContain(secret.metadata.name)
      }
    }
  })
})
