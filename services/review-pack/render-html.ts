import { createHash } from 'node:crypto'
import { type PackContent, type SeriesResult, STANDARDS } from './content.js'

/**
 * The pack as one self-contained HTML page (no script, no external resource), laid out for A4 printing:
 * headless Chromium prints it to PDF. Deterministic: the same content renders the same bytes, so its
 * sha256 in the manifest can be checked.
 */

const esc = (value: unknown) =>
  String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(digits)

const table = (head: string[], rows: string[][], empty: string) =>
  rows.length === 0
    ? `<p class="empty">${esc(empty)}</p>`
    : `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
        .join('')}</tbody></table>`

const standardTitle: Record<string, string> = {
  ISO27001: 'ISO/IEC 27001:2022 (ISMS)',
  ISO42001: 'ISO/IEC 42001:2023 (AIMS)',
}

function sideBySide(render: (standard: string) => string): string {
  return `<div class="sides">${STANDARDS.map(
    (s) => `<div class="side"><h3>${esc(standardTitle[s])}</h3>${render(s)}</div>`,
  ).join('')}</div>`
}

function breachRows(s: SeriesResult): string {
  return s.breaches
    .map((b) => {
      const v = b.value as {
        severity: string
        started_at: string
        resolved_at: string | null
        timeline: {
          transition: string
          at: string
          value: number | null
          deliveries: { sink: string; outcome: string; attempt: number; attempted_at: string }[]
        }[]
      }
      const steps = v.timeline
        .map(
          (t) =>
            `<li>${esc(t.at)} <b>${esc(t.transition)}</b> (value ${esc(fmt(t.value))})${
              t.deliveries.length === 0
                ? ' — <span class="warn">no delivery recorded</span>'
                : ` — ${t.deliveries
                    .map(
                      (d) => `${esc(d.sink)} #${esc(d.attempt)} ${esc(d.outcome)} at ${esc(d.attempted_at)}`,
                    )
                    .join('; ')}`
            }</li>`,
        )
        .join('')
      return `<div class="breach"><b>${esc(v.severity)}</b> breach of ${esc(s.title)} ${esc(s.scope)}: from ${esc(
        v.started_at,
      )} to ${esc(v.resolved_at ?? 'still open at the end of the period')}<ol>${steps}</ol></div>`
    })
    .join('')
}

/** The page's only style sheet, inline (the PDF and the saved file stand alone); allowed by its hash. */
export const PACK_STYLE = `
@page { size: A4; margin: 14mm 12mm; }
body { font: 10.5pt/1.4 "DejaVu Sans", Arial, sans-serif; color: #1b1f24; margin: 0; }
h1 { font-size: 19pt; margin: 0 0 4pt; } h2 { font-size: 13.5pt; border-bottom: 2px solid #2b5797; padding-bottom: 2pt; margin-top: 18pt; }
h3 { font-size: 11pt; margin: 6pt 0; } .muted { color: #5c6670; font-size: 8.5pt; }
table { border-collapse: collapse; width: 100%; margin: 4pt 0 8pt; font-size: 9pt; }
th, td { border: 1px solid #c9d1d9; padding: 3pt 5pt; text-align: left; vertical-align: top; }
th { background: #eef3fa; } tr { page-break-inside: avoid; }
.sides { display: flex; gap: 10pt; } .side { flex: 1; min-width: 0; }
.warn { color: #b3261e; font-weight: bold; } .empty { color: #5c6670; font-style: italic; }
.people { border: 2px dashed #b58900; background: #fffbea; padding: 6pt 8pt; margin: 6pt 0; page-break-inside: avoid; }
.people .fill { height: 42pt; border-bottom: 1px dotted #b58900; }
.breach { margin: 4pt 0 8pt; font-size: 9pt; page-break-inside: avoid; } .breach ol { margin: 2pt 0; }
.meta td:first-child { width: 30%; font-weight: bold; }
`

/** A Content-Security-Policy for the served pack: no script, no fetch, only its own inline style. */
export const PACK_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(PACK_STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`

export function renderHtml(c: PackContent): string {
  const prev = c.previousReview
  const actions = prev
    ? table(
        ['Action', 'Owner', 'Due', 'Status', 'Note'],
        prev.actions.map((a) => [
          `${esc(a.id)}: ${esc(a.title)}`,
          esc(a.owner),
          esc(a.due ?? '—'),
          `${esc(a.status)}${a.overdue ? ' <span class="warn">overdue</span>' : ''}`,
          esc(a.note ?? ''),
        ]),
        'The previous review recorded no actions.',
      )
    : '<p class="empty">No earlier management review is recorded in the pipeline.</p>'

  const monitoringRows = c.monitoring.map((s) => [
    `${esc(s.title)}<div class="muted">${esc(s.kpiId)} ${esc(s.scope)} · def ${esc(s.definitionVersion ?? '—')}</div>`,
    esc(s.iso27001.join(', ') || '—'),
    esc(s.iso42001.join(', ') || '—'),
    esc(fmt(s.start)),
    `${esc(fmt(s.end))}${s.n !== null ? `<div class="muted">n ${esc(s.n)}${s.ciLow !== null ? `, [${esc(fmt(s.ciLow))}, ${esc(fmt(s.ciHigh))}]` : ''}</div>` : ''}`,
    esc(fmt(s.change)),
    esc(s.unit),
    s.hoursInBreach > 0 ? `<span class="warn">${esc(fmt(s.hoursInBreach, 1))} h</span>` : '0',
    esc(s.breaches.length),
  ])
  const breaches = c.monitoring
    .filter((s) => s.breaches.length > 0)
    .map(breachRows)
    .join('')

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Management review pack ${esc(c.period.label)}</title>
<style>${PACK_STYLE}</style></head><body>
<h1>Management review pack — ${esc(c.period.label)}</h1>
<p class="muted">Inputs to management review, clause 9.3.2 of ISO/IEC 27001:2022 and ISO/IEC 42001:2023, evidenced by the KPI pipeline.</p>
<table class="meta"><tbody>
<tr><td>Pack</td><td>${esc(c.packId)}</td></tr>
<tr><td>Period</td><td>${esc(c.period.start)} to ${esc(c.period.end)} (end excluded)</td></tr>
<tr><td>Generated (figures as known at)</td><td>${esc(c.generatedAt)}</td></tr>
<tr><td>Verification</td><td>npm run review-pack -- --verify ${esc(c.packId)}</td></tr>
</tbody></table>

<h2>1. Status of actions from previous management reviews (9.3.2 a)</h2>
${prev ? `<p class="muted">From the review of pack ${esc(prev.packId)} held on ${esc(prev.heldOn)}.</p>` : ''}
${actions}

<h2>2. Nonconformities and corrective actions (9.3.2 d 1)</h2>
${sideBySide((s) =>
  table(
    ['Month', 'NCs raised', 'Corrective actions closed'],
    c.ncTrend.months.map((m) => {
      const r = c.ncTrend.rows[s]?.find((x) => x.month === m)
      return [esc(m), esc(r?.raised ?? 0), esc(r?.closed ?? 0)]
    }),
    'No months.',
  ),
)}

<h2>3. Monitoring and measurement results (9.3.2 d 2)</h2>
${table(['KPI', 'ISO 27001', 'ISO 42001', 'Start', 'End', 'Change', 'Unit', 'Time in breach', 'Breaches'], monitoringRows, 'No KPI series in this period.')}
<h3>Breaches in the period: timelines and delivery evidence</h3>
${breaches || '<p class="empty">No breach was open during the period.</p>'}

<h2>4. Audit results (9.3.2 d 3)</h2>
${sideBySide((s) =>
  table(
    ['Audit type', 'Kind', 'Findings', 'Audits'],
    (c.auditResults[s] ?? []).map((r) => [esc(r.auditType), esc(r.kind), esc(r.findings), esc(r.audits)]),
    'No findings raised in the period.',
  ),
)}

<h2>5. Incidents and notification performance</h2>
${table(
  [
    'Severity',
    'Detected',
    'Notifiable',
    'Notified ≤ 72 h',
    'Notified late',
    'Not notified',
    'Records affected',
  ],
  c.incidents.bySeverity.map((r) => [
    esc(r.severity),
    esc(r.detected),
    esc(r.notifiable),
    esc(r.notified_on_time),
    esc(r.notified_late),
    esc(r.unnotified),
    esc(r.records_affected),
  ]),
  'No incident detected in the period.',
)}
<h3>Alert delivery to on-call</h3>
${table(
  ['Sink', 'Outcome', 'Attempts', 'Latency p50 (ms)', 'Latency p95 (ms)'],
  c.incidents.deliveries.map((d) => [
    esc(d.sink),
    esc(d.outcome),
    esc(d.attempts),
    esc(fmt(d.p50)),
    esc(fmt(d.p95)),
  ]),
  'No alert delivery attempted in the period.',
)}

<h2>6. AI models: accuracy and fairness (ISO 42001)</h2>
${table(
  ['Model', 'Accuracy', 'Fairness KPI', 'Value', 'n', 'Interval'],
  c.models.flatMap((m) =>
    (m.fairness.length > 0 ? m.fairness : [null]).map((f, i) => [
      i === 0 ? esc(m.model) : '',
      i === 0 ? esc(fmt(m.accuracy)) : '',
      f ? esc(f.title) : '—',
      f ? esc(fmt(f.value)) : '—',
      f ? esc(f.n ?? '—') : '—',
      f && f.ciLow !== null ? `[${esc(fmt(f.ciLow))}, ${esc(fmt(f.ciHigh))}]` : '—',
    ]),
  ),
  'No model evaluated by the end of the period.',
)}

<h2>7. Inputs supplied by people (not evidenced by the pipeline)</h2>
${c.peopleInputs
  .map(
    (p) =>
      `<div class="people"><b>${esc(p.clause)} ${esc(p.title)}</b><div class="muted">To be completed by the management system owner before the review.</div><div class="fill"></div></div>`,
  )
  .join('')}
</body></html>
`
}
