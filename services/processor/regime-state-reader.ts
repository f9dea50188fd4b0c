import { type ClickHouse, queryRows } from '../../shared/clickhouse/client.js'
import { formatNowParam } from '../../shared/kpi/catalog.js'
import { stateFromFacts, stateMergeSelect } from '../../shared/kpi/entity-state.js'
import { anyRegimeSql } from '../../shared/kpi/regime-sql.js'
import { incidentClockState, toRegimeFacts } from '../../shared/kpi/regime-state.js'
import type { RegimeIncidentFacts } from '../../shared/kpi/regimes.js'
import type { RegimesConfig } from '../../shared/kpi/regimes-config.js'
import type { Axis } from '../../shared/kpi/sql.js'
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
  /**
   * The incidents a regime applies to, as of `now` on one time axis (history, backfill): reduced from
   * their facts with the same lifecycle rules as the state table (privacy facts are few beside the
   * model facts, so no settled/changed split as the other entities have).
   */
  async asOf(
    ch: ClickHouse,
    now: Date,
    axis: Axis,
    config: RegimesConfig | undefined,
  ): Promise<RegimeIncidentFacts[]> {
    const state = stateFromFacts(incidentClockState, { asOf: { axis, param: 'now' } })
    const sql = `SELECT * FROM (${state}) WHERE ${anyRegimeSql(config)}`
    const rows = await queryRows<Record<string, unknown>>(ch, sql, { now: formatNowParam(now) })
    return rows.map(toRegimeFacts)
  },
}
