import { prepareStorageAndTopics } from '../../shared/bootstrap.js'
import { createClickHouse } from '../../shared/clickhouse/client.js'
import { createKafka } from '../../shared/kafka/client.js'
import { requireBrokers, runService } from '../../shared/service.js'
import { startCollector } from './collector.js'

await runService('collector', async ({ cfg, log, health }) => {
  const kafka = createKafka(cfg, requireBrokers(cfg, 'the collector'), log)
  const ch = await createClickHouse(cfg)
  await prepareStorageAndTopics(cfg, log, kafka, ch)
  const collector = await startCollector({ cfg, log, kafka, ch, health })
  return {
    async stop() {
      await collector.stop()
      await ch.close()
    },
  }
})
