import { createServer, type Server } from 'node:net'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadConfig } from '../../../shared/config/env.js'
import { TransientError } from '../../../shared/errors.js'
import { waitForBrokers } from '../../../shared/kafka/reachable.js'

/** A port that refuses connections: one held and released. */
async function closedPort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const { port } = srv.address() as { port: number }
  await new Promise((r) => srv.close(r))
  return port
}

/** The start-up check that a configured broker answers, against the run's real broker and two that do not. */
describe('waitForBrokers', () => {
  let silent: Server
  let silentPort: number
  const cfg = loadConfig({ KAFKA_CLIENT_ID: 'reachability-test' })
  // The waits between attempts are skipped where the verdict and its wording are under test.
  const noWait = async () => undefined

  beforeAll(async () => {
    // Accepts connections and closes them: TCP works, Kafka does not (a proxy, a wrong port).
    silent = createServer((s) => s.destroy())
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()))
    silentPort = (silent.address() as { port: number }).port
  })
  afterAll(() => new Promise((r) => silent.close(r)))

  it('returns once a real broker answers a metadata request', async () => {
    await expect(waitForBrokers(cfg, inject('kafkaBrokers').split(','), 10_000)).resolves.toBeUndefined()
  })

  it('gives up naming the address and the last error when nothing listens', async () => {
    const port = await closedPort()
    const err = await waitForBrokers(cfg, [`127.0.0.1:${port}`], 1, noWait).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect((err as Error).message).toMatch(
      new RegExp(
        `^Kafka is unreachable at 127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED[^)]*\\), tried for \\d+ s: check KAFKA_BROKERS`,
      ),
    )
  })

  it('a port that accepts connections but speaks no Kafka is unreachable too', async () => {
    const err = await waitForBrokers(cfg, [`127.0.0.1:${silentPort}`], 1, noWait).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TransientError)
    expect((err as Error).message).toMatch(
      new RegExp(`^Kafka is unreachable at 127\\.0\\.0\\.1:${silentPort} \\(`),
    )
  })
})
