import type { KafkaConfig } from 'kafkajs'
import { TransientError } from '../errors.js'
import { createLogger } from '../logger.js'
import { createKafka, type KafkaClientConfig } from './client.js'

/** One quick question to the cluster: do the brokers answer a metadata request? */
async function askCluster(cfg: KafkaClientConfig, brokers: string[], attemptMs: number): Promise<void> {
  const quiet = createLogger({ LOG_LEVEL: 'silent', LOG_FORMAT: 'json' })
  const overrides: Partial<KafkaConfig> = {
    connectionTimeout: Math.min(attemptMs, 3_000),
    requestTimeout: attemptMs,
    retry: { retries: 0 },
  }
  const admin = createKafka(cfg, brokers, quiet, overrides).admin()
  try {
    await admin.connect()
    await admin.describeCluster()
  } finally {
    await admin.disconnect().catch(() => undefined)
  }
}

const reasonOf = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).replace(/^Connection error: /, '')

/**
 * Waits until the brokers answer (a connection and a metadata request), for at most `timeoutMs`, then
 * gives up naming the addresses and the last error. kafkajs alone retries an unreachable broker for
 * about a minute of warnings before failing; a person starting a service wants to hear within seconds
 * that the address is wrong or the broker is down. It asks through the one Kafka factory, so TLS and
 * SASL settings apply to the question too.
 */
export async function waitForBrokers(
  cfg: KafkaClientConfig,
  brokers: string[],
  timeoutMs: number,
  sleep: (ms: number) => Promise<unknown> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<void> {
  const started = Date.now()
  let last = ''
  for (let attempt = 0; ; attempt++) {
    const left = timeoutMs - (Date.now() - started)
    try {
      await askCluster(cfg, brokers, Math.max(500, Math.min(5_000, left)))
      return
    } catch (err) {
      last = reasonOf(err)
    }
    const elapsed = Date.now() - started
    if (elapsed >= timeoutMs) {
      throw new TransientError(
        `Kafka is unreachable at ${brokers.join(',')} (${last}), tried for ${Math.round(elapsed / 1000)} s: check KAFKA_BROKERS and that the broker runs`,
      )
    }
    await sleep(Math.min(500 * 2 ** Math.min(attempt, 2), timeoutMs - elapsed))
  }
}
