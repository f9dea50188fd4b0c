import { Kafka, type KafkaConfig, logLevel } from 'kafkajs'
import type { Config } from '../config/env.js'
import type { Logger } from '../logger.js'
import { kafkaLogCreator } from './log.js'

/**
 * The one Kafka client factory. kafkajs's own logs go through pino (see kafkaLogCreator): one level
 * down, and retried "cluster is settling" answers at debug.
 */
export function createKafka(
  cfg: Pick<Config, 'KAFKA_CLIENT_ID'>,
  brokers: string[],
  log: Logger,
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  return new Kafka({
    clientId: cfg.KAFKA_CLIENT_ID,
    brokers,
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator: kafkaLogCreator(log),
    ...overrides,
  })
}
