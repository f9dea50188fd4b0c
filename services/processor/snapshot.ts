import type { ClickHouse } from '../../shared/clickhouse/client.js'
import { AuditArea } from '../../shared/kpi/engine/audit.js'
import { modelPlan, modelSamples } from '../../shared/kpi/engine/model.js'
import { PrivacyArea } from '../../shared/kpi/engine/privacy.js'
import { RegimeClockArea } from '../../shared/kpi/engine/regime-clocks.js'
import type { Sample } from '../../shared/kpi/engine/sample.js'
import { applicableRegimes } from '../../shared/kpi/regimes-config.js'
import type { ResolverConfig } from '../../shared/kpi/thresholds.js'
import { regimeStateReader } from './regime-state-reader.js'
import { stateReader } from './state-reader.js'

/**
 * Every KPI series at `now`, computed the way the processor computes them (the state tables read by its
 * own queries, the incremental engines loaded at `now`), without breach handling or writes. What a cold
 * replica evaluates when it takes over everything; the benchmark and the equivalence tests compare it
 * with the reference queries over the facts (shared/kpi/sql.ts). `config`: the configuration whose
 * fairness KPIs and settings apply (the same one the reference queries are built with).
 */
export async function snapshotFromState(
  ch: ClickHouse,
  now: Date,
  config?: ResolverConfig,
): Promise<Sample[]> {
  const at = now.getTime()
  const [incidents, regimeFacts, findings, models] = await Promise.all([
    stateReader.liveIncidents(ch, now, []),
    regimeStateReader.live(ch, config?.regimes, []),
    stateReader.liveFindings(ch, now),
    stateReader.models(ch, undefined),
  ])
  const privacy = new PrivacyArea({ clockMarks: () => [] })
  privacy.upsert(incidents, at)
  const regimes = new RegimeClockArea({
    applicable: (f) => applicableRegimes(f, config?.regimes),
    marks: () => [],
  })
  const audit = new AuditArea()
  audit.upsert(findings, at)
  return [
    ...privacy.aggregates(at),
    ...privacy.clockSamples(at),
    ...regimes.upsert(regimeFacts, at),
    ...audit.samples(at, true),
    ...modelSamples(models.versions, models.groups, at, modelPlan(config)),
  ]
}
