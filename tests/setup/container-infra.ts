import { KafkaContainer } from '@testcontainers/kafka'
import { RedisContainer } from '@testcontainers/redis'
import { GenericContainer, Wait } from 'testcontainers'

/**
 * TEST_INFRA=containers: Kafka, a ClickHouse server and Redis from testcontainers. Needs a Docker engine,
 * which the project's development machines do not have; the native path is the default.
 */
export async function startContainerInfra(): Promise<{
  kafkaBrokers: string
  clickhouseUrl: string
  redisUrl: string
  stop(): Promise<void>
}> {
  const [kafka, clickhouse, redis] = await Promise.all([
    new KafkaContainer('apache/kafka:4.1.0').withKraft().start(),
    new GenericContainer('clickhouse/clickhouse-server:25.8')
      .withExposedPorts(8123)
      .withEnvironment({ CLICKHOUSE_SKIP_USER_SETUP: '1' })
      .withWaitStrategy(Wait.forHttp('/ping', 8123))
      .start(),
    new RedisContainer('redis:7.4').start(),
  ])
  return {
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    clickhouseUrl: `http://${clickhouse.getHost()}:${clickhouse.getMappedPort(8123)}`,
    redisUrl: redis.getConnectionUrl(),
    stop: async () => {
      await Promise.all([kafka.stop(), clickhouse.stop(), redis.stop()])
    },
  }
}
