import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type LocalKafka, startLocalKafka } from '../../../deploy/kafka/local-broker.js'
import { type DevCertificates, makeDevCertificates } from '../../../deploy/tls/dev-certs.js'
import { type Alerter, startAlerter } from '../../../services/alerter/alerter.js'
import { type Processor, startProcessor } from '../../../services/processor/processor.js'
import { parseAlertingConfig } from '../../../shared/alerts/routing.js'
import { queryRows } from '../../../shared/clickhouse/client.js'
import { type Config, loadConfig } from '../../../shared/config/env.js'
import { HttpServer } from '../../../shared/http/server.js'
import { createKafka } from '../../../shared/kafka/client.js'
import { topicNames } from '../../../shared/kafka/topics.js'
import { createLogger } from '../../../shared/logger.js'
import { createRedis } from '../../../shared/redis/client.js'
import { incidentEvent } from '../../helpers/events.js'
import { HttpReceiver } from '../../helpers/http-receiver.js'
import { testConfig, waitFor } from '../../helpers/infra.js'
import {
  configEnv,
  openStack,
  produce,
  spawnService,
  startTestCollector,
  type TestStack,
} from '../../helpers/pipeline.js'
import { dropPrefix, envRef, fastOptions } from '../alerter/harness.js'

/**
 * The real local broker with a SASL_SSL listener (a CA, server and client certificates made here with
 * openssl, SCRAM users created in the metadata log with the Kafka jars' storage tool) and the pipeline
 * talking to it only through the project's factories: TLS with the test CA, mutual TLS with a client
 * certificate, SCRAM-SHA-512 with the password in a file. Then the failures an operator meets: a wrong
 * password stops a real service process naming the user and the broker, a CA that did not sign the
 * broker's certificate and a missing client certificate stop a client at its first connect.
 */

const USER = 'aims-pipeline'
const PASSWORD = `right-${randomBytes(12).toString('hex')}`
const OTHER_USER = 'aims-256'
const OTHER_PASSWORD = `other-${randomBytes(12).toString('hex')}`
const PLAIN_USER = 'aims-plain'
const PLAIN_PASSWORD = `plain-${randomBytes(12).toString('hex')}`

let dir: string
let certs: DevCertificates
let strangerCa: DevCertificates
let broker: LocalKafka
let secureBroker: string
let passwordFile: string

/** The configuration of a client of the SASL_SSL listener; `env` replaces any of its variables. */
function secureEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: secureBroker,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: certs.ca,
    KAFKA_SSL_CERT_FILE: certs.clients.pipeline!.cert,
    KAFKA_SSL_KEY_FILE: certs.clients.pipeline!.key,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: USER,
    KAFKA_SASL_PASSWORD_FILE: passwordFile,
    ...env,
  }
}

const silent = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })

/** Connects an admin client with `env` and asks for the cluster: the error it fails with, if any. */
async function connectError(env: Record<string, string>): Promise<Error | undefined> {
  const cfg = loadConfig({ KAFKA_CLIENT_ID: 'sasl-ssl-test', ...secureEnv(env) })
  const admin = createKafka(cfg, cfg.KAFKA_BROKERS!, silent).admin()
  try {
    await admin.connect()
    await admin.describeCluster()
    return undefined
  } catch (err) {
    return err as Error
  } finally {
    await admin.disconnect()
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aims-sasl-ssl-'))
  certs = await makeDevCertificates({ dir: join(dir, 'pki'), clients: ['pipeline', 'probe'] })
  strangerCa = await makeDevCertificates({ dir: join(dir, 'stranger') })
  passwordFile = join(dir, 'kafka-password')
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
  broker = await startLocalKafka({
    dataDir: join(dir, 'kafka'),
    port: 0,
    log: () => {},
    saslSsl: {
      cert: certs.server.cert,
      key: certs.server.key,
      ca: certs.ca,
      clientAuth: 'required',
      probeClient: certs.clients.probe!,
      scramUsers: [
        { mechanism: 'SCRAM-SHA-512', username: USER, password: PASSWORD },
        { mechanism: 'SCRAM-SHA-256', username: OTHER_USER, password: OTHER_PASSWORD },
      ],
      plainUsers: [{ username: PLAIN_USER, password: PLAIN_PASSWORD }],
    },
  })
  secureBroker = broker.saslSslBrokers![0]!
})

afterAll(async () => {
  await broker?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('the pipeline over SASL_SSL (SCRAM-SHA-512, mutual TLS)', () => {
  let cfg: Config
  let stack: TestStack
  let collector: Awaited<ReturnType<typeof startTestCollector>>
  let processor: Processor
  let alerter: Alerter
  let http: HttpServer
  let receiver: HttpReceiver
  const redis: ReturnType<typeof createRedis>[] = []

  beforeAll(async () => {
    cfg = testConfig(secureEnv())
    receiver = await HttpReceiver.start(() => ({ status: 204 }))
    process.env.AIMS_SASL_TEST_HOOK_SECRET = randomBytes(16).toString('hex')
    stack = await openStack(cfg)
    collector = await startTestCollector(stack)
    http = new HttpServer(stack.health, stack.log)
    const processorRedis = createRedis(cfg, 'worker')
    redis.push(processorRedis)
    processor = await startProcessor({
      cfg,
      log: stack.log,
      kafka: stack.kafka,
      ch: stack.ch,
      redis: processorRedis,
      health: stack.health,
      http,
      aimsConfig: undefined,
      scheduleSweep: false,
    })
    alerter = await startAlerter({
      cfg,
      log: stack.log,
      clickhouse: stack.ch,
      alerting: parseAlertingConfig({
        sinks: {
          hook: {
            type: 'webhook',
            url: `${receiver.url}/alerts`,
            secret: envRef('AIMS_SASL_TEST_HOOK_SECRET'),
          },
        },
        routes: [{ sinks: ['hook'] }],
      }),
      options: fastOptions,
    })
  })

  afterAll(async () => {
    await alerter?.close()
    await processor?.stop()
    await collector?.stop()
    for (const r of redis) r.disconnect()
    await http?.close()
    await stack?.close()
    await receiver?.stop()
    await dropPrefix(cfg.REDIS_PREFIX)
    delete process.env.AIMS_SASL_TEST_HOOK_SECRET
  })

  it('stores an event produced over SASL_SSL, evaluates its KPI and delivers the alert', async () => {
    const hour = 3600_000
    const incidentId = `INC-SASL-${randomBytes(4).toString('hex')}`
    const event = incidentEvent({
      incidentId,
      time: new Date(Date.now() - hour).toISOString(),
      status: 'detected',
      severity: 'critical',
      detectedAt: new Date(Date.now() - hour).toISOString(),
      notifiable: false,
    })
    await produce(stack.kafka, topicNames(cfg).privacyIncidents, [
      { key: incidentId, value: JSON.stringify(event) },
    ])

    // Bounds are generous for a loaded 2-core machine; each step normally takes well under a second.
    await waitFor(
      'the incident in ClickHouse',
      async () => {
        const rows = await queryRows<{ id: string }>(
          stack.ch,
          'SELECT event_id AS id FROM privacy_incident_events WHERE incident_id = {i:String}',
          { i: incidentId },
        )
        return rows.some((r) => r.id === event.id) ? true : undefined
      },
      60_000,
    )
    const kpi = await waitFor(
      'the incidents-opened KPI for critical incidents',
      async () => {
        const rows = await queryRows<{ value: number | null; status: string }>(
          stack.ch,
          `SELECT value, status FROM kpi_values
           WHERE kpi_id = 'privacy.incidents_opened' AND scope['severity'] = 'critical'
           ORDER BY evaluated_at DESC LIMIT 1`,
        )
        return rows[0] && (rows[0].value ?? 0) >= 1 ? rows[0] : undefined
      },
      60_000,
    )
    expect(kpi.status).toBe('critical')
    const delivered = await waitFor(
      'the alert at the webhook',
      () => receiver.requests.find((r) => r.body.includes('privacy.incidents_opened')),
      60_000,
    )
    expect(JSON.parse(delivered.body)).toMatchObject({
      kind: 'firing',
      severity: 'critical',
      kpi: { id: 'privacy.incidents_opened' },
    })
  })
})

describe('credentials and certificates on the SASL_SSL listener', () => {
  it.each([
    [
      'SCRAM-SHA-256',
      { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: OTHER_USER },
      OTHER_PASSWORD,
    ],
    ['PLAIN over TLS', { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: PLAIN_USER }, PLAIN_PASSWORD],
  ])('accepts %s', async (_, env, password) => {
    expect(await connectError({ ...env, KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: password })).toBe(
      undefined,
    )
  })

  it('refuses a CA that did not sign the broker certificate, at the first connect and naming the variable', async () => {
    const err = await connectError({ KAFKA_SSL_CA_FILE: strangerCa.ca })
    expect(err?.message).toMatch(new RegExp(`^Kafka: TLS with broker ${secureBroker} failed: .*certificate`))
    expect(err?.message).toContain('KAFKA_SSL_CA_FILE')
  })

  it('refuses a client without a certificate when the listener requires one', async () => {
    const err = await connectError({ KAFKA_SSL_CERT_FILE: '', KAFKA_SSL_KEY_FILE: '' })
    expect(err?.message).toMatch(new RegExp(`^Kafka: TLS with broker ${secureBroker} failed`))
  })

  it('refuses TLS to the PLAINTEXT listener instead of retrying for a minute', async () => {
    const err = await connectError({ KAFKA_BROKERS: broker.brokers[0]! })
    expect(err?.message).toMatch(/^Kafka: TLS with broker .* failed: .*TLS listener/)
  })

  it('stops a real collector process on a wrong password, naming the user and broker but never the password', async () => {
    const wrong = `wrong-${randomBytes(12).toString('hex')}`
    const cfg = testConfig(secureEnv())
    const service = spawnService('collector', {
      ...configEnv(cfg),
      // Its own embedded ClickHouse folder: this test process holds the one in cfg.
      CLICKHOUSE_DATA_DIR: join(dir, `collector-ch-${randomBytes(3).toString('hex')}`),
      LOG_LEVEL: 'info',
      KAFKA_SASL_PASSWORD_FILE: '',
      KAFKA_SASL_PASSWORD: wrong,
    })
    const code = await service.exited
    const output = service.output()
    expect(code, output).not.toBe(0)
    expect(output).toMatch(
      new RegExp(
        `SASL authentication failed for user \\\\?"${USER}\\\\?" at broker ${secureBroker.replace('.', '\\.')}`,
      ),
    )
    expect(output).toContain('collector failed to start')
    expect(output).not.toContain(wrong)
    expect(output).not.toContain(PASSWORD)
  })
})
