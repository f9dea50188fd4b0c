import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { access, chmod, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { type AddressInfo, connect, createServer, type Server } from 'node:net'
import { join, resolve as resolvePath } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { type Kafka, logLevel } from 'kafkajs'
import { loadConfig } from '../../shared/config/env.js'
import { createKafka } from '../../shared/kafka/client.js'
import { createLogger } from '../../shared/logger.js'
import {
  checkSaslSslOptions,
  checkScramUsersUnchanged,
  type ListenerProperties,
  NO_SASL_SSL,
  type SaslSslOptions,
  saslSslProperties,
  scramFormatArgs,
} from './sasl-ssl.js'

export type { BrokerUser, SaslSslOptions, ScramMechanism, ScramUser } from './sasl-ssl.js'

export type Log = (msg: string) => void

export interface LocalKafka {
  /** The PLAINTEXT listener on loopback. */
  brokers: string[]
  /** The SASL_SSL listener, when the broker was started with one. */
  saslSslBrokers?: string[]
  pid: number
  /** Settles when the JVM has exited, whether through stop() or on its own. */
  exited: Promise<void>
  stop(): Promise<void>
}

export interface StartLocalKafkaOptions {
  dataDir: string
  /** 0 or undefined picks a free port. */
  port?: number
  heapMb?: number
  log?: Log
  /** Adds a SASL_SSL listener next to the PLAINTEXT one (which stays, on loopback). Default none. */
  saslSsl?: SaslSslOptions
}

const HERE = fileURLToPath(new URL('.', import.meta.url))
const POM = join(HERE, 'pom.xml')
const PROPERTIES_TEMPLATE = join(HERE, 'server.properties')
const LOG4J_CONFIG = join(HERE, 'log4j2.yaml')
export const KAFKA_CACHE_DIR = fileURLToPath(new URL('../../.cache/kafka', import.meta.url))

const HOST = '127.0.0.1'
// Lives inside the libs dir so a re-resolve replaces jars and marker together;
// the `libs/*` classpath wildcard only picks up .jar files.
const RESOLVED_MARKER = 'resolved.json'
const CDS_ARCHIVE = 'broker.jsa'
const READY_TOPIC = '__aims_ready'
const READY_TIMEOUT_MS = 60_000
const STOP_GRACE_MS = 8_000
const DEFAULT_HEAP_MB = 512

const defaultLog: Log = (msg) => process.stderr.write(`[kafka] ${msg}\n`)

export async function resolveKafkaJars(opts: { cacheDir?: string; log?: Log } = {}): Promise<string> {
  const log = opts.log ?? defaultLog
  const libsDir = join(opts.cacheDir ?? KAFKA_CACHE_DIR, 'libs')
  const pom = await readFile(POM, 'utf8')
  const marker = JSON.stringify({
    kafkaVersion: kafkaVersionOf(pom),
    pomSha256: createHash('sha256').update(pom).digest('hex'),
  })
  if (await isResolved(libsDir, marker)) return libsDir

  const startedAt = Date.now()
  log(`resolving Kafka ${kafkaVersionOf(pom)} jars with Maven into ${libsDir}`)
  // Resolve into a private dir and swap it in, so jars of two versions never
  // share one classpath and a failed run leaves the previous libs usable.
  const staging = `${libsDir}.${process.pid}.tmp`
  await copyRuntimeJars(staging)
  await writeFile(join(staging, RESOLVED_MARKER), marker)
  await swapIn(staging, libsDir, marker)
  log(`resolved Kafka jars in ${Date.now() - startedAt} ms`)
  return libsDir
}

async function copyRuntimeJars(outputDir: string): Promise<void> {
  await rm(outputDir, { recursive: true, force: true })
  try {
    await runToCompletion(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        POM,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${outputDir}`,
        '-DincludeScope=runtime',
      ],
      'Maven (mvn), needed once to download the Kafka jars,',
    )
  } catch (error) {
    await rm(outputDir, { recursive: true, force: true })
    throw error
  }
}

/** Parallel first runs (test workers) each resolve; the first to finish wins and the others keep its copy. */
async function swapIn(staging: string, libsDir: string, marker: string): Promise<void> {
  if (!(await isResolved(libsDir, marker))) {
    await rm(libsDir, { recursive: true, force: true })
    try {
      await rename(staging, libsDir)
      return
    } catch (error) {
      if (!(await isResolved(libsDir, marker))) throw error
    }
  }
  await rm(staging, { recursive: true, force: true })
}

async function isResolved(libsDir: string, marker: string): Promise<boolean> {
  return (await readOptional(join(libsDir, RESOLVED_MARKER))) === marker
}

export async function startLocalKafka(opts: StartLocalKafkaOptions): Promise<LocalKafka> {
  const startedAt = Date.now()
  const log = opts.log ?? defaultLog
  if (opts.saslSsl) checkSaslSslOptions(opts.saslSsl)
  const libsDir = await resolveKafkaJars({ log })
  // Absolute, because the JVM runs inside the data dir and would resolve relative paths from there.
  const paths = brokerPaths(resolvePath(opts.dataDir))
  await mkdir(paths.logs, { recursive: true })
  const release = await claimDataDir(paths.dataDir)
  try {
    const kafka = await bootBroker(libsDir, paths, opts, log, release)
    const secure = kafka.saslSslBrokers ? `, SASL_SSL at ${kafka.saslSslBrokers[0]}` : ''
    log(
      `Kafka ${await kafkaVersion()} ready at ${kafka.brokers[0]}${secure} in ${Date.now() - startedAt} ms (pid ${kafka.pid})`,
    )
    return kafka
  } catch (error) {
    await release()
    throw error
  }
}

async function bootBroker(
  libsDir: string,
  paths: BrokerPaths,
  opts: StartLocalKafkaOptions,
  log: Log,
  release: () => Promise<void>,
): Promise<LocalKafka> {
  // The controller port is free to change between restarts because the voter
  // set is static (controller.quorum.voters), not stored in the metadata log.
  const ports = await freePorts()
  const brokerPort = opts.port || ports.broker
  const saslSslPort = opts.saslSsl ? opts.saslSsl.port || ports.saslSsl : undefined
  const listeners =
    opts.saslSsl && saslSslPort
      ? await saslSslProperties(opts.saslSsl, HOST, saslSslPort, paths.dataDir)
      : NO_SASL_SSL
  await writeProperties(paths, brokerPort, ports.controller, listeners)
  await formatStorageOnce(libsDir, paths, log, opts.saslSsl)

  const cds = await planClassDataSharing(libsDir)
  const jvm = await launchBroker(libsDir, paths, opts.heapMb ?? DEFAULT_HEAP_MB, cds.jvmArgs)
  const exited = jvm.exited
    .then(cds.settle)
    .catch((error: unknown) =>
      log(`ignoring a failure to keep the class-data archive: ${errorMessage(error)}`),
    )
    .finally(release)
  const stop = async (): Promise<void> => {
    await stopJvm(jvm)
    await exited
  }

  const broker = `${HOST}:${brokerPort}`
  const secureBroker = saslSslPort ? `${HOST}:${saslSslPort}` : undefined
  try {
    await awaitReady(broker, brokerPort, jvm)
    if (opts.saslSsl && secureBroker) await probeSaslSsl(secureBroker, opts.saslSsl)
  } catch (error) {
    await stop()
    throw new Error(`Kafka broker did not become ready: ${errorMessage(error)}\n${await logTails(paths)}`)
  }
  return {
    brokers: [broker],
    ...(secureBroker ? { saslSslBrokers: [secureBroker] } : {}),
    pid: jvm.pid,
    exited,
    stop,
  }
}

const claimedDataDirs = new Set<string>()

/**
 * Kafka does not refuse a second broker on the same log dirs early enough: the
 * newcomer rewrites the metadata log and the running broker dies on a corrupt
 * record. The lock names the owning Node process, so one left behind by a
 * killed process is recognised as stale.
 */
async function claimDataDir(dataDir: string): Promise<() => Promise<void>> {
  const lock = join(dataDir, 'broker.lock')
  if (claimedDataDirs.has(dataDir)) throw dataDirInUse(dataDir, process.pid)
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const owner = Number(await readFile(lock, 'utf8'))
    if (owner !== process.pid && isAlive(owner)) throw dataDirInUse(dataDir, owner)
    await writeFile(lock, String(process.pid))
  }
  claimedDataDirs.add(dataDir)
  let released = false
  return async () => {
    if (released) return
    released = true
    claimedDataDirs.delete(dataDir)
    await rm(lock, { force: true })
  }
}

function dataDirInUse(dataDir: string, pid: number): Error {
  return new Error(`${dataDir} is already used by a local Kafka broker started from process ${pid}`)
}

function isAlive(pid: number): boolean {
  // kill(0) would probe our own process group, not a process.
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

interface BrokerPaths {
  /** Also the JVM's working directory, so crash files (hs_err_pid*.log) land here. */
  dataDir: string
  properties: string
  storage: string
  logs: string
  jvmOut: string
  serverLog: string
}

function brokerPaths(dataDir: string): BrokerPaths {
  const logs = join(dataDir, 'logs')
  return {
    dataDir,
    properties: join(dataDir, 'server.properties'),
    storage: join(dataDir, 'data'),
    logs,
    jvmOut: join(logs, 'jvm.out'),
    serverLog: join(logs, 'server.log'),
  }
}

async function writeProperties(
  paths: BrokerPaths,
  brokerPort: number,
  controllerPort: number,
  listeners: ListenerProperties,
): Promise<void> {
  const values: Record<string, string> = {
    BROKER_PORT: String(brokerPort),
    CONTROLLER_PORT: String(controllerPort),
    LOG_DIR: paths.storage,
    ...listeners,
  }
  const template = await readFile(PROPERTIES_TEMPLATE, 'utf8')
  const rendered = template.replace(/\{\{(\w+)\}\}/g, (placeholder, name: string) => {
    const value = values[name]
    if (value === undefined) throw new Error(`unknown placeholder ${placeholder} in ${PROPERTIES_TEMPLATE}`)
    return value
  })
  // May hold PLAIN passwords: readable by this user only.
  await writeFile(paths.properties, rendered, { mode: 0o600 })
  await chmod(paths.properties, 0o600)
}

async function formatStorageOnce(
  libsDir: string,
  paths: BrokerPaths,
  log: Log,
  saslSsl: SaslSslOptions | undefined,
): Promise<void> {
  const scramUsers = saslSsl?.scramUsers ?? []
  if (await exists(join(paths.storage, 'meta.properties'))) {
    if (scramUsers.length > 0) await checkScramUsersUnchanged(scramUsers, paths.dataDir)
    return
  }
  const startedAt = Date.now()
  const args = [
    ...commonJvmArgs(paths),
    ...(await existingArchiveArgs(libsDir)),
    '-cp',
    classpath(libsDir),
    'kafka.tools.StorageTool',
    'format',
    '--config',
    paths.properties,
    '--cluster-id',
    newClusterId(),
    ...(scramUsers.length > 0 ? await scramFormatArgs(scramUsers, paths.dataDir) : []),
  ]
  await runToCompletion(javaBin(), args, 'java (Kafka 4 needs Java 17+)', paths.dataDir)
  log(`formatted KRaft storage in ${paths.storage} in ${Date.now() - startedAt} ms`)
}

/** Same shape as Kafka's Uuid.randomUuid(), minus a JVM start to ask for one. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    // The CLI would parse a leading '-' as an option, which is why Kafka skips those too.
    if (!id.startsWith('-')) return id
  }
}

interface Jvm {
  child: ChildProcess
  pid: number
  exited: Promise<ExitStatus>
  status: ExitStatus | undefined
}

interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

async function launchBroker(
  libsDir: string,
  paths: BrokerPaths,
  heapMb: number,
  extraJvmArgs: string[],
): Promise<Jvm> {
  const args = [
    `-Xms${heapMb}m`,
    `-Xmx${heapMb}m`,
    // Kafka's own defaults from kafka-run-class.sh / kafka-server-start.sh.
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    ...commonJvmArgs(paths),
    ...extraJvmArgs,
    '-cp',
    classpath(libsDir),
    'kafka.Kafka',
    paths.properties,
  ]
  const out = await open(paths.jvmOut, 'a')
  let child: ChildProcess
  try {
    // Its own process group: Ctrl-C at a terminal signals the whole foreground group, and the broker
    // must outlive the services' shutdown (they leave their groups and flush through it), then stop last.
    child = spawnGuarded(javaBin(), args, {
      cwd: paths.dataDir,
      stdio: ['ignore', out.fd, out.fd],
      detached: true,
    })
  } finally {
    // spawn() has handed the child its own copy of the descriptor by now.
    await out.close()
  }
  const pid = child.pid
  if (pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error]
    throw new Error(`could not start ${javaBin()}: ${error.message}`)
  }

  const killOnExit = (): void => {
    child.kill('SIGKILL')
  }
  process.on('exit', killOnExit)
  const jvm: Jvm = {
    child,
    pid,
    status: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        process.off('exit', killOnExit)
        jvm.status = { code, signal }
        resolve(jvm.status)
      })
    }),
  }
  return jvm
}

function commonJvmArgs(paths: BrokerPaths): string[] {
  return [
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    `-Dkafka.logs.dir=${paths.logs}`,
  ]
}

function classpath(libsDir: string): string {
  return join(libsDir, '*')
}

function javaBin(): string {
  const javaHome = process.env.JAVA_HOME
  return javaHome ? join(javaHome, 'bin', 'java') : 'java'
}

/**
 * Spawns the JVM so that it dies with us even if we are SIGKILLed, when no
 * 'exit' handler runs. PR_SET_PDEATHSIG fires when the spawning *thread* exits,
 * so this must be called from the main thread (vitest --pool=forks, not threads).
 */
function spawnGuarded(cmd: string, args: string[], options: SpawnOptions): ChildProcess {
  if (hasPdeathsig()) return spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', cmd, ...args], options)
  const child = spawn(cmd, args, options)
  if (child.pid !== undefined) startWatchdog(child.pid)
  return child
}

let pdeathsigSupport: boolean | undefined

function hasPdeathsig(): boolean {
  pdeathsigSupport ??=
    spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') ?? false
  return pdeathsigSupport
}

/** Fallback for systems without util-linux setpriv (e.g. macOS): poll for our death. */
function startWatchdog(childPid: number): void {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null'
  spawn('sh', ['-c', script, 'kafka-watchdog', String(process.pid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  }).unref()
}

interface ClassDataSharing {
  jvmArgs: string[]
  settle: (status: ExitStatus) => Promise<void>
}

/**
 * Loading the Kafka and Scala classes is most of the JVM's start-up; mapping an AppCDS
 * archive of them cut broker start-up by ~1.6 s (~40%) on a 2-core machine. The first
 * broker that stops cleanly dumps the archive, later starts map it.
 * The JVM ignores an archive built for another classpath, but crashes on a damaged
 * one, so an archive is only adopted after a JVM has been seen to start with it.
 */
async function planClassDataSharing(libsDir: string): Promise<ClassDataSharing> {
  const archive = join(libsDir, CDS_ARCHIVE)
  if (await exists(archive)) return { jvmArgs: [`-XX:SharedArchiveFile=${archive}`], settle: async () => {} }
  // Concurrent first runs each dump privately; the last rename wins, and any of them is valid.
  const pending = `${archive}.${process.pid}.${randomUUID()}.tmp`
  return {
    jvmArgs: [`-XX:ArchiveClassesAtExit=${pending}`],
    settle: async ({ signal }) => {
      // The dump runs during a normal JVM exit; one ended by a signal may be cut short.
      if (signal === null && (await exists(pending)) && (await archiveLoads(pending)))
        await rename(pending, archive)
      else await rm(pending, { force: true })
    },
  }
}

async function archiveLoads(archive: string): Promise<boolean> {
  try {
    await runToCompletion(
      javaBin(),
      [`-XX:SharedArchiveFile=${archive}`, '-XX:ErrorFile=/dev/null', '-version'],
      'java',
    )
    return true
  } catch {
    return false
  }
}

async function existingArchiveArgs(libsDir: string): Promise<string[]> {
  const archive = join(libsDir, CDS_ARCHIVE)
  return (await exists(archive)) ? [`-XX:SharedArchiveFile=${archive}`] : []
}

async function awaitReady(broker: string, port: number, jvm: Jvm): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let lastError: unknown = new Error('the broker port never accepted connections')
  while (Date.now() < deadline) {
    if (jvm.status) throw new Error(`the JVM exited early (${describeExit(jvm.status)})`)
    try {
      if (await acceptsConnections(port)) {
        await roundTrip(broker)
        return
      }
    } catch (error) {
      lastError = error
    }
    await sleep(200)
  }
  throw new Error(
    `no produce/consume round trip within ${READY_TIMEOUT_MS / 1000} s: ${errorMessage(lastError)}`,
  )
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

const probeOptions = {
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1_000,
  requestTimeout: 5_000,
  retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000 },
}

/** The readiness probe is a client like any other: it goes through the project's Kafka factory. */
function probeClient(broker: string, env: Record<string, string> = {}): Kafka {
  const cfg = loadConfig({ KAFKA_CLIENT_ID: 'aims-local-kafka-ready', ...env })
  const silent = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })
  return createKafka(cfg, [broker], silent, probeOptions)
}

/** A real produce and group consume, which also proves the group coordinator is up. */
async function roundTrip(broker: string): Promise<void> {
  const kafka = probeClient(broker)
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.createTopics({ topics: [{ topic: READY_TOPIC, numPartitions: 1 }], waitForLeaders: true })
  } finally {
    await admin.disconnect()
  }

  const nonce = randomUUID()
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic: READY_TOPIC, acks: -1, messages: [{ value: nonce }] })
  } finally {
    await producer.disconnect()
  }
  await consumeValue(kafka, nonce)
}

async function consumeValue(kafka: Kafka, value: string): Promise<void> {
  // A throwaway group without commits leaves no state behind on the broker.
  const consumer = kafka.consumer({
    groupId: `${READY_TOPIC}-${value}`,
    maxWaitTimeInMs: 100,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1_000, restartOnFailure: async () => false },
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [READY_TOPIC], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('readiness message was not consumed within 10 s')),
        10_000,
      )
      const settle = (error?: Error): void => {
        clearTimeout(timer)
        if (error) reject(error)
        else resolve()
      }
      consumer.on(consumer.events.CRASH, (event) => settle(event.payload.error))
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            if (message.value?.toString() === value) settle()
          },
        })
        .catch(settle)
    })
  } finally {
    await consumer.disconnect()
  }
}

async function stopJvm(jvm: Jvm): Promise<void> {
  if (jvm.status) return
  jvm.child.kill('SIGTERM')
  if (await exitsWithin(jvm, STOP_GRACE_MS)) return
  jvm.child.kill('SIGKILL')
  await jvm.exited
}

async function exitsWithin(jvm: Jvm, ms: number): Promise<boolean> {
  const timeout = new AbortController()
  const timedOut = sleep(ms, false, { signal: timeout.signal }).catch(() => false)
  const exited = await Promise.race([jvm.exited.then(() => true), timedOut])
  timeout.abort()
  return exited
}

/**
 * The SASL_SSL listener answers a metadata request for one of its users: TLS with the CA, the SASL
 * handshake and the credentials all work before the broker is called ready.
 */
async function probeSaslSsl(broker: string, opts: SaslSslOptions): Promise<void> {
  const scram = opts.scramUsers?.[0]
  const user = scram ?? opts.plainUsers![0]!
  const kafka = probeClient(broker, {
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: opts.ca,
    ...(opts.probeClient
      ? { KAFKA_SSL_CERT_FILE: opts.probeClient.cert, KAFKA_SSL_KEY_FILE: opts.probeClient.key }
      : {}),
    KAFKA_SASL_MECHANISM: scram ? scram.mechanism : 'plain',
    KAFKA_SASL_USERNAME: user.username,
    KAFKA_SASL_PASSWORD: user.password,
  })
  const admin = kafka.admin()
  await admin.connect()
  try {
    await admin.describeCluster()
  } finally {
    await admin.disconnect()
  }
}

async function freePorts(): Promise<{ broker: number; controller: number; saslSsl: number }> {
  // The listeners stay open until every port is known, so they all differ.
  const servers = await Promise.all([listenOnAnyPort(), listenOnAnyPort(), listenOnAnyPort()])
  const [broker, controller, saslSsl] = servers.map(portOf) as [number, number, number]
  await Promise.all(servers.map(closeServer))
  return { broker, controller, saslSsl }
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, HOST, () => resolve(server))
  })
}

function runToCompletion(cmd: string, args: string[], what: string, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    const collect = (chunk: Buffer): void => {
      output += chunk.toString()
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(`${what} was not found on PATH`) : error)
    })
    child.once('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${cmd} failed (${describeExit({ code, signal })}):\n${lastLines(output, 30)}`))
    })
  })
}

async function logTails(paths: BrokerPaths): Promise<string> {
  const [server, jvmOut] = await Promise.all([readOptional(paths.serverLog), readOptional(paths.jvmOut)])
  return [
    `--- ${paths.serverLog} (tail) ---`,
    lastLines(server ?? '', 40),
    `--- ${paths.jvmOut} (tail) ---`,
    lastLines(jvmOut ?? '', 20),
  ].join('\n')
}

function lastLines(text: string, count: number): string {
  return text.trimEnd().split('\n').slice(-count).join('\n')
}

function describeExit({ code, signal }: ExitStatus): string {
  return signal ? `signal ${signal}` : `exit code ${code}`
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

async function kafkaVersion(): Promise<string> {
  return kafkaVersionOf(await readFile(POM, 'utf8'))
}

function kafkaVersionOf(pom: string): string {
  const version = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1]
  if (!version) throw new Error(`${POM} does not define <kafka.version>`)
  return version
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}
