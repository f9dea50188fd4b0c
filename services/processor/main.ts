import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import { createKafka } from '../../shared/kafka/client.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { createRedis } from '../../shared/redis/client.js'
import { requireBrokers, runService } from '../../shared/service.js'
import { startProcessor } from './processor.js'

await runService('processor', { servesApi: true }, async ({ cfg, log, health, http }) => {
  const aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined
  const kafka = createKafka(cfg, requireBrokers(cfg, 'the processor'), log)
  const ch = await createClickHouse(cfg)
  await prepareStorageAndTopics(cfg, log, kafka, ch)
  const redis = createRedis(cfg, 'worker')
  const processor = await startProcessor({ cfg, log, kafka, ch, redis, health, http, aimsConfig })
  return {
    async stop() {
      await processor.stop()
      redis.disconnect()
      await ch.close()
    },
  }
})
