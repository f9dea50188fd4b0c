import { Kafka, type KafkaConfig, logLevel } from 'kafkajs'
import type { Config } from '../config/env.js'
import type { Logger } from '../logger.js'

/**
 * The one Kafka client factory. kafkajs's own logs go through pino one level down: it logs every
 * retried protocol error (a coordinator still loading, a leader moving) as an error, while real failures
 * reach the caller as exceptions and are logged there.
 */
export function createKafka(
  cfg: Pick<Config, 'KAFKA_CLIENT_ID'>,
  brokers: string[],
  log: Logger,
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  const kafkaLog = log.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: cfg.KAFKA_CLIENT_ID,
    brokers,
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry
        if (level === logLevel.ERROR) kafkaLog.warn(rest, message)
        else if (level === logLevel.WARN) kafkaLog.info(rest, message)
        else kafkaLog.debug(rest, message)
      },
    ...overrides,
  })
}
