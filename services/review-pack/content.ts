import { findKpi } from '../../shared/kpi/catalog.js'
import type { Figure, FigureValue } from './figures.js'
import { monthsOf, type Period } from './period.js'
import type { ReviewAction } from './record.js'

/**
 * What a pack shows, built only from its figures, its period and the previous review's actions (a pure
 * function): verification rebuilds it from the recomputed figures and compares it with the stored body,
 * field by field.
 */

export const STANDARDS = ['ISO27001', 'ISO42001'] as const

export interface PreviousReview {
  packId: string
  heldOn: string
  actions: (ReviewAction & { overdue: boolean })[]
}

export interface SeriesResult {
  kpiId: string
  title: string
  unit: string
  direction: string
  iso27001: string[]
  iso42001: string[]
  definitionVersion: string | null
  scope: string
  start: number | null
  end: number | null
  change: number | null
  n: number | null
  ciLow: number | null
  ciHigh: number | null
  hoursInBreach: number
  breaches: { id: string; value: FigureValue }[]
}

export interface PackContent {
  packId: string
  period: { label: string; start: string; end: string }
  generatedAt: string
  /** Clause 9.3.2 a): status of actions from previous management reviews. */
  previousReview: PreviousReview | null
  /** 9.3.2 d) 1): nonconformities and corrective actions, month by month, per standard. */
  ncTrend: { months: string[]; rows: Record<string, { month: string; raised: number; closed: number }[]> }
  /** 9.3.2 d) 2): monitoring and measurement results, every KPI series. */
  monitoring: SeriesResult[]
  /** 9.3.2 d) 3): audit results per standard. */
  auditResults: Record<string, { auditType: string; kind: string; findings: number; audits: number }[]>
  /** Incidents (ISO 27001 A.5.24–A.5.28) with their regulator notification, and alert delivery. */
  incidents: {
    bySeverity: { severity: string; [count: string]: number | string }[]
    deliveries: { sink: string; outcome: string; attempts: number; p50: number; p95: number }[]
  }
  /** ISO 42001: model accuracy next to fairness, per model version, at the end of the period. */
  models: {
    model: string
    accuracy: number | null
    fairness: {
      kpiId: string
      title: string
      value: number | null
      n: number | null
      ciLow: number | null
      ciHigh: number | null
    }[]
  }[]
  /** Inputs the pipeline cannot evidence: filled in by people at the review. */
  peopleInputs: { clause: string; title: string }[]
}

export const PEOPLE_INPUTS = [
  { clause: '9.3.2 b)', title: 'Changes in external and internal issues relevant to the management system' },
  { clause: '9.3.2 c)', title: 'Changes in needs and expectations of interested parties' },
  { clause: '9.3.2 e)', title: 'Feedback from interested parties' },
  {
    clause: '9.3.2 f)',
    title: 'Results of risk assessment (and AI system impact assessment) and status of risk treatment',
  },
  { clause: '9.3.2 g)', title: 'Opportunities for continual improvement' },
]

const SCOPE_AND_EDGE = /^kpi (\S+) (\{.*\}) at (start|end)$/
const BREACH = /^breach (\S+) (\{.*\}) started /
const TIME_IN_BREACH = /^time in breach (\S+) (\{.*\})$/

type Obj = { [key: string]: FigureValue }
const asObj = (v: FigureValue): Obj => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {})
const asNum = (v: FigureValue | undefined): number | null => (typeof v === 'number' ? v : null)

export function buildContent(
  packId: string,
  period: Period,
  generatedAt: Date,
  figures: readonly Figure[],
  previousReview: PreviousReview | null,
): PackContent {
  const series = new Map<string, SeriesResult>()
  const seriesOf = (kpiId: string, scope: string, version: string | null): SeriesResult => {
    const key = `${kpiId} ${scope}`
    let s = series.get(key)
    if (!s) {
      const kpi = findKpi(kpiId)
      s = {
        kpiId,
        title: kpi?.title ?? kpiId,
        unit: kpi?.unit ?? '',
        direction: kpi?.direction ?? '',
        iso27001: kpi?.iso.iso27001 ?? [],
        iso42001: kpi?.iso.iso42001 ?? [],
        definitionVersion: version,
        scope,
        start: null,
        end: null,
        change: null,
        n: null,
        ciLow: null,
        ciHigh: null,
        hoursInBreach: 0,
        breaches: [],
      }
      series.set(key, s)
    }
    return s
  }
  const ncTrend: PackContent['ncTrend'] = {
    months: monthsOf(period).map((m) => m.label),
    rows: Object.fromEntries(STANDARDS.map((s) => [s, []])),
  }
  const auditResults: PackContent['auditResults'] = Object.fromEntries(STANDARDS.map((s) => [s, []]))
  const incidents: PackContent['incidents'] = { bySeverity: [], deliveries: [] }

  for (const f of figures) {
    let m = SCOPE_AND_EDGE.exec(f.id)
    if (m) {
      const s = seriesOf(m[1]!, m[2]!, f.definitionVersion ?? null)
      const detail = asObj(f.value)
      const value = typeof f.value === 'number' || f.value === null ? f.value : asNum(detail.value)
      if (m[3] === 'start') s.start = value
      else {
        s.end = value
        s.n = asNum(detail.n)
        s.ciLow = asNum(detail.ci_low)
        s.ciHigh = asNum(detail.ci_high)
      }
      continue
    }
    m = BREACH.exec(f.id)
    if (m) {
      seriesOf(m[1]!, m[2]!, f.definitionVersion ?? null).breaches.push({ id: f.id, value: f.value })
      continue
    }
    m = TIME_IN_BREACH.exec(f.id)
    if (m) {
      seriesOf(m[1]!, m[2]!, f.definitionVersion ?? null).hoursInBreach = asNum(asObj(f.value).hours) ?? 0
      continue
    }
    const words = f.id.split(' ')
    const v = asObj(f.value)
    if (f.id.startsWith('nc trend ')) {
      ncTrend.rows[words[2]!] = [
        ...(ncTrend.rows[words[2]!] ?? []),
        {
          month: words[3]!,
          raised: asNum(v.raised) ?? 0,
          closed: asNum(v.closed) ?? 0,
        },
      ]
    } else if (f.id.startsWith('audit results ')) {
      auditResults[words[2]!] = [
        ...(auditResults[words[2]!] ?? []),
        {
          auditType: words[3]!,
          kind: words[4]!,
          findings: asNum(v.findings) ?? 0,
          audits: asNum(v.audits) ?? 0,
        },
      ]
    } else if (f.id.startsWith('incidents ')) {
      incidents.bySeverity.push({ severity: words[1]!, ...(v as Record<string, number>) })
    } else if (f.id.startsWith('alert deliveries ')) {
      incidents.deliveries.push({
        sink: words[2]!,
        outcome: words[3]!,
        attempts: asNum(v.attempts) ?? 0,
        p50: asNum(v.latency_ms_p50) ?? 0,
        p95: asNum(v.latency_ms_p95) ?? 0,
      })
    }
  }
  const monitoring = [...series.values()].sort((a, b) =>
    a.kpiId === b.kpiId ? (a.scope < b.scope ? -1 : 1) : a.kpiId < b.kpiId ? -1 : 1,
  )
  for (const s of monitoring) {
    s.change = s.start !== null && s.end !== null ? s.end - s.start : null
  }
  return {
    packId,
    period: { label: period.label, start: period.start.toISOString(), end: period.end.toISOString() },
    generatedAt: generatedAt.toISOString(),
    previousReview,
    ncTrend,
    monitoring,
    auditResults,
    incidents,
    models: modelsOf(monitoring),
    peopleInputs: PEOPLE_INPUTS,
  }
}

/** Accuracy and the fairness KPIs of each (model, environment, version) side by side. */
function modelsOf(monitoring: readonly SeriesResult[]): PackContent['models'] {
  const models = new Map<string, PackContent['models'][number]>()
  const scopeLabel = (scope: string) =>
    scope
      .replace(/^\{|\}$/g, '')
      .split(', ')
      .filter((p) => !p.startsWith('attribute='))
      .join(', ')
  for (const s of monitoring) {
    if (!s.kpiId.startsWith('model.')) continue
    const key = scopeLabel(s.scope)
    const entry = models.get(key) ?? { model: key, accuracy: null, fairness: [] }
    models.set(key, entry)
    if (s.kpiId === 'model.accuracy') entry.accuracy = s.end
    else if (findKpi(s.kpiId)?.fairness) {
      const attribute = /attribute=([^,}]*)/.exec(s.scope)?.[1] ?? ''
      entry.fairness.push({
        kpiId: s.kpiId,
        title: `${s.title} (${attribute})`,
        value: s.end,
        n: s.n,
        ciLow: s.ciLow,
        ciHigh: s.ciHigh,
      })
    }
  }
  return [...models.values()].filter((m) => m.accuracy !== null || m.fairness.length > 0)
}
