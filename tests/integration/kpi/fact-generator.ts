import type { ClickHouse } from '../../../shared/clickhouse/client.js'
import { formatNowParam } from '../../../shared/kpi/catalog.js'

/**
 * Bulk fact rows generated inside ClickHouse (INSERT … SELECT FROM numbers()), deterministic, shaped like
 * production: incidents with lifecycle events spread over a year, model versions with repeated
 * evaluations and group counts, audit findings with open/closed lifecycles, plus ~5 % duplicate rows of
 * every table (the same event delivered twice). `scale` 1 ≈ 1.2 M rows in total.
 */
export interface GeneratedCounts {
  incidentEvents: number
  metricEvents: number
  groupCountRows: number
  findingEvents: number
  total: number
}

export async function generateFacts(
  ch: ClickHouse,
  opts: { now: Date; scale?: number },
): Promise<GeneratedCounts> {
  const scale = opts.scale ?? 1
  const incidents = Math.round(100_000 * scale)
  const models = Math.round(200 * scale)
  const versions = 10
  const evaluations = 50
  const findings = Math.round(50_000 * scale)
  const now = `toDateTime64(${formatNowParam(opts.now)}, 3, 'UTC')`
  const run = (query: string) => ch.client.command({ query })

  // Three lifecycle events per incident: detected, contained, then notified (notifiable) or resolved.
  // Half the notifiable ones learn from the containment event on that the controller became aware up to
  // 30 h after detection (GDPR Art. 33's clock then runs from awareness).
  await run(`INSERT INTO privacy_incident_events
    (event_id, event_time, source, incident_id, status, severity, category, business_unit, occurred_at,
     detected_at, contained_at, resolved_at, closed_at, notifiable, regulator_notified_at, records_affected,
     data_subjects_affected, ai_system_id, controls, awareness_at)
    SELECT
      concat('pie-', toString(number)) AS event_id,
      multiIf(step = 0, det, step = 1, cont, fin) AS event_time,
      'gen' AS source,
      concat('INC-', toString(i)) AS incident_id,
      multiIf(step = 0, 'detected', step = 1, 'contained', notif, 'notified', 'resolved') AS status,
      ['low', 'medium', 'high', 'critical'][1 + cityHash64(i, 3) % 4] AS severity,
      'confidentiality' AS category,
      'bu-1' AS business_unit,
      det - toIntervalSecond(cityHash64(i, 5) % 86400) AS occurred_at,
      det AS detected_at,
      if(step >= 1, cont, NULL) AS contained_at,
      if(step = 2 AND NOT notif, fin, NULL) AS resolved_at,
      CAST(NULL AS Nullable(DateTime64(3, 'UTC'))) AS closed_at,
      notif AS notifiable,
      if(step = 2 AND notif, fin, NULL) AS regulator_notified_at,
      cityHash64(i, 6) % 10000 AS records_affected,
      cityHash64(i, 7) % 1000 AS data_subjects_affected,
      '' AS ai_system_id,
      ['A.5.24'] AS controls,
      if(step >= 1 AND notif AND cityHash64(i, 9) % 2 = 0, det + toIntervalSecond(cityHash64(i, 10) % (30 * 3600)), NULL)
        AS awareness_at
    FROM (
      SELECT number, intDiv(number, 3) AS i, number % 3 AS step,
        ${now} - toIntervalSecond(cityHash64(i, 1) % (365 * 86400)) AS det,
        det + toIntervalSecond(cityHash64(i, 2) % (72 * 3600)) AS cont,
        cont + toIntervalSecond(cityHash64(i, 4) % (96 * 3600)) AS fin,
        cityHash64(i, 8) % 3 = 0 AS notif
      FROM numbers(${incidents * 3})
    )`)

  await run(`INSERT INTO model_metric_events
    (event_id, event_time, source, model_id, model_version, environment, business_unit, baseline_version,
     window_start, window_end, sample_size, metrics)
    SELECT
      concat('mme-', toString(number)) AS event_id,
      ${now} - toIntervalDay(400) + toIntervalDay(v * 30 + e % 30) + toIntervalSecond(e) AS event_time,
      'gen' AS source,
      concat('model-', toString(m)) AS model_id,
      concat('v', toString(v + 1)) AS model_version,
      'production' AS environment,
      'bu-1' AS business_unit,
      '' AS baseline_version,
      event_time - toIntervalDay(1) AS window_start,
      event_time AS window_end,
      10000 AS sample_size,
      map('accuracy', 0.75 + (cityHash64(number, 1) % 2000) / 10000,
          'f1', 0.7 + (cityHash64(number, 2) % 2500) / 10000,
          'auc', 0.8 + (cityHash64(number, 3) % 1500) / 10000) AS metrics
    FROM (
      SELECT number, intDiv(number, ${versions * evaluations}) AS m, intDiv(number, ${evaluations}) % ${versions} AS v,
        number % ${evaluations} AS e
      FROM numbers(${models * versions * evaluations})
    )`)

  // Per evaluation, 2 protected attributes × 3 groups of confusion counts. The second attribute's groups
  // vary by evaluation (kind): confusion counts only; prediction-only counts (selected of total, no
  // labels); both; or cells of the intersection sex × age_band.
  await run(`INSERT INTO model_group_counts
    (event_id, event_time, model_id, model_version, environment, attribute, group_name, tp, fp, tn, fn,
     selected, total, cell_attributes)
    SELECT
      concat('mme-', toString(ev)) AS event_id,
      ${now} - toIntervalDay(400) + toIntervalDay(v * 30 + e % 30) + toIntervalSecond(e) AS event_time,
      concat('model-', toString(m)) AS model_id,
      concat('v', toString(v + 1)) AS model_version,
      'production' AS environment,
      if(second AND kind = 3, 'sex×age_band', ['sex', 'age_band'][1 + intDiv(r, 3)]) AS attribute,
      if(second AND kind = 3, concat('sex=g', toString(r % 3), ';age_band=a', toString(e % 2)), concat('g', toString(r % 3))) AS group_name,
      if(second AND kind = 1, 0, cityHash64(number, 1) % 500) AS tp,
      if(second AND kind = 1, 0, cityHash64(number, 2) % 200) AS fp,
      if(second AND kind = 1, 0, cityHash64(number, 3) % 500) AS tn,
      if(second AND kind = 1, 0, cityHash64(number, 4) % 200) AS fn,
      if(second AND kind IN (1, 2), cityHash64(number, 5) % 700, 0) AS selected,
      if(second AND kind IN (1, 2), 700 + cityHash64(number, 6) % 900, 0) AS total,
      if(second AND kind = 3, ['sex', 'age_band'], []) AS cell_attributes
    FROM (
      SELECT number, intDiv(number, 6) AS ev, number % 6 AS r, r >= 3 AS second, cityHash64(ev, 9) % 4 AS kind,
        intDiv(ev, ${versions * evaluations}) AS m, intDiv(ev, ${evaluations}) % ${versions} AS v, ev % ${evaluations} AS e
      FROM numbers(${models * versions * evaluations * 6})
    )`)

  // Three events per finding: raised (open), in progress, closed for two thirds of them.
  await run(`INSERT INTO audit_finding_events
    (event_id, event_time, source, finding_id, audit_id, audit_type, standard, clause, kind, status,
     business_unit, title, owner, raised_at, due_at, closed_at, repeat_of)
    SELECT
      concat('afe-', toString(number)) AS event_id,
      multiIf(step = 0, raised, step = 1, raised + toIntervalDay(3), closed) AS event_time,
      'gen' AS source,
      concat('F-', toString(i)) AS finding_id,
      concat('AUD-', toString(intDiv(i, 50))) AS audit_id,
      'internal' AS audit_type,
      ['ISO27001', 'ISO42001'][1 + cityHash64(i, 1) % 2] AS standard,
      concat('A.5.', toString(1 + cityHash64(i, 2) % 37)) AS clause,
      ['major_nc', 'minor_nc', 'minor_nc', 'observation', 'ofi'][1 + cityHash64(i, 3) % 5] AS kind,
      multiIf(step = 0, 'open', step = 1 OR NOT closes, 'in_progress', 'closed') AS status,
      'bu-1' AS business_unit,
      'generated finding' AS title,
      'owner' AS owner,
      raised AS raised_at,
      raised + toIntervalDay(30) AS due_at,
      if(step = 2 AND closes, closed, NULL) AS closed_at,
      if(cityHash64(i, 4) % 10 = 0, concat('F-', toString(cityHash64(i, 5) % ${findings})), '') AS repeat_of
    FROM (
      SELECT number, intDiv(number, 3) AS i, number % 3 AS step,
        ${now} - toIntervalSecond(cityHash64(i, 6) % (730 * 86400)) AS raised,
        raised + toIntervalSecond(cityHash64(i, 7) % (60 * 86400)) AS closed,
        cityHash64(i, 8) % 3 != 0 AS closes
      FROM numbers(${findings * 3})
    )`)

  // Duplicates: the same events delivered again (same event_id, same content).
  for (const table of [
    'privacy_incident_events',
    'model_metric_events',
    'model_group_counts',
    'audit_finding_events',
  ]) {
    await run(`INSERT INTO ${table} SELECT * FROM ${table} WHERE cityHash64(event_id) % 20 = 0`)
  }

  const count = async (table: string) => {
    const rs = await ch.client.query({ query: `SELECT count() AS n FROM ${table}`, format: 'JSONEachRow' })
    const [row] = await rs.json<{ n: string }>()
    return Number(row?.n ?? 0)
  }
  const incidentEvents = await count('privacy_incident_events')
  const metricEvents = await count('model_metric_events')
  const groupCountRows = await count('model_group_counts')
  const findingEvents = await count('audit_finding_events')
  return {
    incidentEvents,
    metricEvents,
    groupCountRows,
    findingEvents,
    total: incidentEvents + metricEvents + groupCountRows + findingEvents,
  }
}
