import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { stateMergeSelect } from '../../shared/kpi/entity-state.js'
import { anyRegimeSql } from '../../shared/kpi/regime-sql.js'
import { incidentClockState, toRegimeFacts } from '../../shared/kpi/regime-state.js'
import type { RegimeIncidentFacts } from '../../shared/kpi/regimes.js'
import type { RegimesConfig } from '../../shared/kpi/regimes-config.js'
import { byIds } from './state-reader.js'

/**
 * Reads the notification clocks' state (incident_clock_state, migration 0010): by id for what a trigger
 * names, or, when the privacy area is taken over, every incident a regime could apply to (its event names
 * regimes, or a config rule matches its labels) plus the ids asked for. Never the fact tables.
 */

const BY_ID = stateMergeSelect(incidentClockState, { where: 'incident_id IN {ids:Array(String)}' })

export const regimeStateReader = {
  incidents: (ch: ClickHouse, ids: readonly string[]): Promise<RegimeIncidentFacts[]> =>
    byIds(ch, BY_ID, ids, toRegimeFacts),

  async live(
    ch: ClickHouse,
    config: RegimesConfig | undefined,
    alsoIds: readonly string[],
  ): Promise<RegimeIncidentFacts[]> {
    const sql = stateMergeSelect(incidentClockState, {
      having: `${anyRegimeSql(config)} OR has({ids:Array(String)}, incident_id)`,
    })
    const rows = await queryRows<Record<string, unknown>>(ch, sql, { ids: [...alsoIds] })
    return rows.map(toRegimeFacts)
  },
}
