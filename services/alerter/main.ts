import { createClickHouse } from '../../shared/clickhouse/client.js'
import { loadAimsConfigFile } from '../../shared/kpi/thresholds.js'
import { runService } from '../../shared/service.js'
import { startAlerter } from './alerter.js'

/** The alerter as its own process; a wrong config file stops start-up naming the field. */
await runService('alerter', async ({ cfg, log, health }) => {
  const aimsConfig = cfg.AIMS_CONFIG_FILE ? await loadAimsConfigFile(cfg.AIMS_CONFIG_FILE) : undefined
  // The delivery log opens ClickHouse lazily when it is a server, so paging works while it is down;
  // embedded ClickHouse is in-process and opens now.
  const clickhouse = cfg.CLICKHOUSE_URL ? undefined : await createClickHouse(cfg)
  const alerter = await startAlerter({ cfg, log, health, alerting: aimsConfig?.alerting, clickhouse })
  return {
    async stop() {
      await alerter.close()
      await clickhouse?.close()
    },
  }
})
