import type { Kafka } from 'kafkajs'
import type { ClickHouse } from './clickhouse/client.js'
import { migrate } from './clickhouse/migrate.js'
import type { Config } from './config/env.js'
import { waitForBrokers } from './kafka/reachable.js'
import { ensureTopics } from './kafka/topics.js'
import type { Logger } from './logger.js'

/**
 * What every process does before it starts working: ClickHouse migrations and Kafka topics. Both are
 * idempotent, so each service runs them at start-up and the first one to get there does the work.
 */
export async function prepareStorageAndTopics(
  cfg: Config,
  log: Logger,
  kafka: Kafka,
  ch: ClickHouse,
): Promise<void> {
  // Configured brokers must answer within seconds; a local broker started by the run command already did.
  if (cfg.KAFKA_BROKERS) await waitForBrokers(cfg, cfg.KAFKA_BROKERS, cfg.KAFKA_STARTUP_TIMEOUT_MS)
  await migrate(ch, log)
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await ensureTopics(admin, cfg)
    if (created.length > 0) log.info({ topics: created }, 'topics created')
  } finally {
    await admin.disconnect()
  }
}
