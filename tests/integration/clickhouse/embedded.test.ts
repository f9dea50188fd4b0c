import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { createClickHouse } from '../../../shared/clickhouse/client.js'
import { loadConfig } from '../../../shared/config/env.js'
import { defineClickHouseContract } from '../../contract/clickhouse.contract.js'

/** The contract against embedded chDB in this test process (CLICKHOUSE_URL unset). */

const dataDir = mkdtempSync(join(tmpdir(), 'aims-ch-embedded-'))

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

defineClickHouseContract('embedded chDB', () =>
  createClickHouse(
    loadConfig({
      CLICKHOUSE_DATA_DIR: dataDir,
      CLICKHOUSE_DATABASE: `contract_${process.pid}`,
      LOG_LEVEL: 'warn',
    }),
  ),
)
