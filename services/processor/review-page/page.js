/*
 * The review page's script: plain browser JavaScript (no bundler), Chart.js from /assets/chart.umd.js
 * (global `Chart`). It polls the read API every 5 s and updates the DOM and the charts in place: no
 * reload, and rows that did not change are left alone so keyboard focus survives an update.
 * Every string from the API goes through textContent (never innerHTML).
 */
;(() => {
  const REFRESH_MS = 5000
  const STATUS = {
    critical: { label: 'Critical', icon: '✖', color: '#D55E00' },
    warning: { label: 'Warning', icon: '▲', color: '#E69F00' },
    ok: { label: 'OK', icon: '✔', color: '#009E73' },
    no_data: { label: 'No data', icon: '–', color: '#8A909C' },
    // Not estimable (a fairness KPI without enough data): never ok, never a breach.
    insufficient_data: { label: 'Insufficient data', icon: '?', color: '#CC79A7' },
    // Inputs stopped arriving (lifecycle stale_after): never ok, alerted on its own.
    stale: { label: 'Stale', icon: '⌛', color: '#56B4E9' },
  }
  const RANK = { no_data: 0, ok: 1, insufficient_data: 2, warning: 3, critical: 4, stale: 2.5 }
  /** Okabe–Ito, colour-blind safe; a marker shape per series too, so colour is never the only cue. */
  const SERIES_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#000000']
  const POINT_STYLES = ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot', 'cross']
  const AREAS = [
    {
      id: 'privacy',
      title: 'Privacy incidents',
      note: 'ISO/IEC 27001 A.5.24–A.5.28, A.5.34 · ISO/IEC 42001 A.8.4 · GDPR Art. 33',
    },
    {
      id: 'model',
      title: 'AI models: performance and fairness',
      note: 'ISO/IEC 42001 A.5.4, A.6.2.4, A.6.2.6, A.7.4',
    },
    {
      id: 'audit',
      title: 'Audits, nonconformities and corrective action',
      note: 'Clauses 9.2 and 10.2 of both standards',
    },
  ]
  const DELIVERED = new Set(['ok', 'delivered'])
  const PERCENT_KPIS = new Set(['privacy.notified_within_72h_ratio', 'audit.on_time_closure_rate'])
  const OPS = { gt: '>', gte: '≥', lt: '<', lte: '≤' }
  const FAIRNESS_NAMES = {
    demographicParityDifference: 'demographic parity',
    disparateImpactRatio: 'disparate impact',
    equalizedOddsDifference: 'equalized odds',
    accuracyGap: 'accuracy gap',
    accuracy: 'accuracy',
    f1: 'F1',
    auc: 'AUC',
    accuracyDropPoints: 'accuracy drop',
  }
  /** "equalizedOddsDifference:gender" → "equalized odds (gender)". */
  const metricName = (m) => {
    const [metric, attribute] = m.split(':')
    return `${FAIRNESS_NAMES[metric] || metric}${attribute ? ` (${attribute})` : ''}`
  }
  /** The largest between-group difference of a version (demographic parity, equalized odds, accuracy gap). */
  function largestDifference(v) {
    let worst = null
    for (const a of v.attributes) {
      for (const metric of ['demographicParityDifference', 'equalizedOddsDifference', 'accuracyGap']) {
        const m = a[metric]
        if (m && m.value !== null && (!worst || m.value > worst.value))
          worst = { metric, value: m.value, attribute: a.attribute }
      }
    }
    return worst
  }

  const $ = (id) => document.getElementById(id)

  /** Element builder: attributes (on*, data-*, aria-*, class) and children (strings become text nodes). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = v
      else if (k === 'text') el.textContent = v
      else el.setAttribute(k, v === true ? '' : String(v))
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue
      el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    }
    return el
  }

  function badge(status, text) {
    const s = STATUS[status] || STATUS.no_data
    return h(
      'span',
      { class: `badge st-${status in STATUS ? status : 'no_data'}` },
      h('span', { 'aria-hidden': 'true' }, s.icon),
      ` ${text || s.label}`,
    )
  }

  // ---------------------------------------------------------------------------------------------------
  // Formatting

  function fmtNumber(kpiId, unit, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return { text: '—', unit: '' }
    if (PERCENT_KPIS.has(kpiId))
      return { text: `${(v * 100).toFixed(v === 1 || v === 0 ? 0 : 1)}`, unit: '%' }
    switch (unit) {
      case 'hours':
        return { text: v.toFixed(1), unit: 'h' }
      case 'days':
        return { text: v.toFixed(1), unit: 'days' }
      case 'points':
        return { text: v.toFixed(1), unit: 'points' }
      case 'records':
      case 'incidents':
      case 'findings':
        return { text: Math.round(v).toLocaleString('en'), unit }
      default:
        return { text: Number.isInteger(v) ? String(v) : v.toFixed(3), unit: unit === 'score' ? '' : unit }
    }
  }
  const fmt = (kpiId, unit, v) => {
    const f = fmtNumber(kpiId, unit, v)
    return f.unit === '%' ? `${f.text}%` : f.unit === 'h' ? `${f.text} h` : f.text
  }

  function thresholdText(kpi, th) {
    const op = OPS[th.op] || th.op
    const parts = []
    if (th.warning !== null && th.warning !== undefined)
      parts.push(`Warning ${op} ${fmt(kpi.id, kpi.unit, th.warning)}`)
    if (th.critical !== null && th.critical !== undefined)
      parts.push(`Critical ${op} ${fmt(kpi.id, kpi.unit, th.critical)}`)
    return parts.length ? parts.join(' · ') : 'No threshold on this series (tracked)'
  }

  const pad = (n) => String(n).padStart(2, '0')
  const clockTime = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
  function shortDate(iso) {
    if (!iso) return '—'
    const d = new Date(iso)
    return `${d.getDate()} ${MONTHS[d.getMonth()]} ${pad(d.getHours())}:${pad(d.getMinutes())}`
  }
  function dayDate(iso) {
    const d = new Date(iso)
    const year = d.getFullYear() === new Date().getFullYear() ? '' : ` ${d.getFullYear()}`
    return `${d.getDate()} ${MONTHS[d.getMonth()]}${year}`
  }
  /**
   * Labels of a time axis: as precise as the axis's span needs (seconds within 10 minutes, minutes
   * within 36 hours, days beyond), the date only where it changes, and never the same label twice: a
   * tick whose label equals the one before it stays unlabelled.
   */
  function timeTick(value, index, ticks) {
    const span = ticks.length > 1 ? ticks[ticks.length - 1].value - ticks[0].value : 0
    const label = (v) => {
      const d = new Date(v)
      const day = `${d.getDate()} ${MONTHS[d.getMonth()]}`
      if (span >= 36 * 3600_000) return day
      const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`
      const time = span < 10 * 60_000 ? `${hm}:${pad(d.getSeconds())}` : hm
      const prev = index > 0 ? new Date(ticks[index - 1].value) : null
      return !prev || prev.getDate() !== d.getDate() ? `${day} ${time}` : time
    }
    const text = label(value)
    return index > 0 && label(ticks[index - 1].value) === text ? '' : text
  }

  function ago(iso, now = Date.now()) {
    if (!iso) return ''
    const s = Math.max(0, (now - Date.parse(iso)) / 1000)
    if (s < 90) return 'just now'
    if (s < 90 * 60) return `${Math.round(s / 60)} min ago`
    if (s < 48 * 3600) return `${Math.round(s / 3600)} h ago`
    return `${Math.round(s / 86400)} days ago`
  }

  /** Scope labels as short chips: model · version · attribute, incident id, standard clause… */
  function scopeParts(scope) {
    const s = scope || {}
    const parts = []
    const known = new Set([
      'model_id',
      'environment',
      'model_version',
      'attribute',
      'incident_id',
      'standard',
      'clause',
    ])
    if (s.model_id) parts.push(s.model_id)
    if (s.environment && s.environment !== 'production') parts.push(s.environment)
    if (s.model_version) parts.push(s.model_version)
    if (s.attribute) parts.push(`attribute: ${s.attribute}`)
    if (s.incident_id) parts.push(s.incident_id)
    if (s.standard) parts.push(s.standard.replace(/^ISO(\d)/, 'ISO $1'))
    if (s.clause) parts.push(s.clause)
    for (const [k, v] of Object.entries(s)) if (!known.has(k)) parts.push(`${k}: ${v}`)
    return parts
  }
  const scopeText = (scope) => scopeParts(scope).join(' · ') || 'overall'

  // ---------------------------------------------------------------------------------------------------
  // Keyed rendering: unchanged items keep their DOM node (and focus).

  const signatures = new WeakMap()
  function reconcile(parent, items, keyOf, build) {
    const existing = new Map()
    for (const el of Array.from(parent.children)) {
      if (el.dataset.key) existing.set(el.dataset.key, el)
      else el.remove()
    }
    items.forEach((item, i) => {
      const key = String(keyOf(item))
      const sig = JSON.stringify(item)
      let el = existing.get(key)
      existing.delete(key)
      if (!el || signatures.get(el) !== sig) {
        const fresh = build(item)
        fresh.dataset.key = key
        signatures.set(fresh, sig)
        if (el) el.replaceWith(fresh)
        el = fresh
      }
      if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null)
    })
    for (const el of existing.values()) el.remove()
  }

  /** Rebuilds `parent` only when `data` changed since the last render. */
  const lastRender = new Map()
  function renderIfChanged(id, data, render) {
    const sig = JSON.stringify(data)
    if (lastRender.get(id) === sig) return
    lastRender.set(id, sig)
    render()
  }

  // ---------------------------------------------------------------------------------------------------
  // Data

  async function getJSON(url) {
    const res = await fetch(url, { cache: 'no-store', headers: { accept: 'application/json' } })
    // No session (or it expired): sign in again, then come back here.
    if (res.status === 401) location.assign(`/login#next=${encodeURIComponent(location.pathname)}`)
    if (!res.ok) {
      let reason = `HTTP ${res.status}`
      try {
        const body = await res.json()
        reason = body.error || reason
      } catch {}
      const err = new Error(`${url}: ${reason}`)
      err.status = res.status
      throw err
    }
    return res.json()
  }

  const state = {
    scorecard: null,
    paused: false,
    lastOk: null,
    timer: 0,
    charts: {},
  }

  // ---------------------------------------------------------------------------------------------------
  // Headline

  function stat(el, status, label, value, of, details) {
    el.className = `stat st-${status}`
    el.replaceChildren(
      h('div', { class: 'stat-label' }, label),
      h('div', { class: 'stat-value' }, String(value), of ? h('span', { class: 'of' }, ` ${of}`) : null),
      h('div', { class: 'stat-detail' }, ...details),
    )
  }

  function renderHeadline(score, breaches, incidents, ncs) {
    const data = {
      s: score?.summary,
      b: breaches?.map((b) => [b.severity, b.delivery.delivered, b.delivery.failedAttempts]),
      i: incidents?.summary,
      n: ncs?.totals,
    }
    renderIfChanged('headline', data, () => {
      if (score) {
        const s = score.summary
        const total = score.kpis.length
        const worst = s.critical ? 'critical' : s.warning ? 'warning' : s.ok ? 'ok' : 'no_data'
        stat($('stat-kpis'), worst, 'KPIs outside threshold', s.critical + s.warning, `of ${total}`, [
          badge('critical', `${s.critical} critical`),
          badge('warning', `${s.warning} warning`),
          badge('ok', `${s.ok} OK`),
          s.insufficient_data ? badge('insufficient_data', `${s.insufficient_data} insufficient data`) : null,
          s.no_data ? badge('no_data', `${s.no_data} no data`) : null,
          s.stale ? badge('stale', `${s.stale} stale`) : null,
        ])
      }
      if (breaches) {
        const crit = breaches.filter((b) => b.severity === 'critical').length
        const failing = breaches.filter(
          (b) => b.delivery.failedAttempts > 0 && b.delivery.delivered === 0,
        ).length
        const delivered = breaches.filter((b) => b.delivery.delivered > 0).length
        stat(
          $('stat-breaches'),
          crit ? 'critical' : breaches.length ? 'warning' : 'ok',
          'Open breaches',
          breaches.length,
          '',
          [
            h('span', {}, `${crit} critical · ${breaches.length - crit} warning`),
            failing
              ? h('span', { class: 'overdue-flag' }, `alerts failing for ${failing}`)
              : h(
                  'span',
                  {},
                  delivered === breaches.length && delivered
                    ? '· on-call alerted for all'
                    : `· alerted for ${delivered} of ${breaches.length}`,
                ),
          ],
        )
      }
      if (incidents) {
        const s = incidents.summary
        const decided = s.notifiedOnTime + s.notifiedLate + s.overdue
        const rate = decided
          ? `${Math.round((100 * s.notifiedOnTime) / decided)}% notified within 72 h`
          : 'none decided yet'
        const running = incidents.incidents.filter((i) => !i.notifiedAt)
        const warn = running.some((i) => i.level === 'warning')
        stat(
          $('stat-incidents'),
          s.overdue || s.notifiedLate ? 'critical' : warn ? 'warning' : 'ok',
          '72-hour rule: overdue',
          s.overdue,
          s.overdue === 1 ? 'incident' : 'incidents',
          [
            h('span', {}, `${s.running} clock${s.running === 1 ? '' : 's'} running within 72 h`),
            h('span', {}, rate),
          ],
        )
      }
      if (ncs) {
        let major = 0
        let minor = 0
        let overdue = 0
        for (const t of Object.values(ncs.totals)) {
          major += t.major
          minor += t.minor
          overdue += t.overdue
        }
        stat(
          $('stat-ncs'),
          major ? 'critical' : overdue ? 'warning' : 'ok',
          'Open nonconformities',
          major + minor,
          '',
          [
            h('span', {}, `${major} major · ${minor} minor`),
            overdue
              ? h(
                  'span',
                  { class: 'overdue-flag' },
                  `${overdue} corrective action${overdue === 1 ? '' : 's'} overdue`,
                )
              : h('span', {}, 'no corrective action overdue'),
          ],
        )
      }
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Scorecard

  function isoChips(refs) {
    const out = []
    for (const std of ['ISO27001', 'ISO42001']) {
      const mine = refs.filter((r) => r.standard === std)
      if (!mine.length) continue
      out.push(
        h(
          'div',
          { class: 'iso-line' },
          h('span', { class: 'iso-std' }, `ISO ${std.slice(3)}`),
          ...mine.map((r) =>
            h(
              'abbr',
              { class: 'chip', title: `ISO/IEC ${std.slice(3)} ${r.id}${r.title ? ` — ${r.title}` : ''}` },
              r.id,
            ),
          ),
        ),
      )
    }
    return out
  }

  /** "95 % CI 0.62–0.78 · n=2,000", "uncertain: …", or why a value is missing: distinct lines, not colour only. */
  function uncertaintyLines(m) {
    if (!m) return []
    const out = []
    if (m.ciLow !== null && m.ciLow !== undefined && m.ciHigh !== null && m.ciHigh !== undefined) {
      out.push(
        h(
          'div',
          { class: 'ci', 'data-testid': 'ci' },
          `CI ${m.ciLow.toFixed(3)}–${m.ciHigh.toFixed(3)}`,
          m.n !== null && m.n !== undefined ? ` · n=${m.n.toLocaleString('en')}` : '',
        ),
      )
    }
    if (m.uncertain) {
      out.push(
        h(
          'div',
          { class: 'uncertain', 'data-testid': 'uncertain' },
          `Uncertain: beyond the ${m.uncertain} line, but the interval reaches back (not paged)`,
        ),
      )
    }
    if (m.status === 'insufficient_data' && m.reason) {
      out.push(h('div', { class: 'why', 'data-testid': 'why' }, m.reason.split('\n')[0]))
    }
    return out
  }

  function buildTile(k) {
    const useTotal = k.total !== null && k.total !== undefined && k.series > 1
    const v = fmtNumber(k.id, k.unit, useTotal ? k.total : k.worst ? k.worst.value : null)
    const breached = k.counts.critical + k.counts.warning
    const count =
      k.series === 0
        ? 'not evaluated yet'
        : breached && k.series > 1
          ? `${breached} of ${k.series} series in breach`
          : k.series > 1
            ? `${k.series} series`
            : ''
    const scoped = k.worst && Object.keys(k.worst.scope || {}).length > 0
    let detail = null
    if (k.worst && scoped) {
      const worstValue = fmt(k.id, k.unit, k.worst.value)
      if (useTotal) {
        detail = breached
          ? `Total; worst: ${scopeText(k.worst.scope)} (${worstValue})`
          : `Total over ${k.series} series, all within threshold`
      } else {
        detail = `${k.series > 1 ? 'Worst: ' : ''}${scopeText(k.worst.scope)}`
      }
    }
    return h(
      'li',
      { class: `tile st-${k.status}`, 'data-testid': 'kpi-tile', 'data-kpi': k.id, 'data-status': k.status },
      h('div', { class: 'tile-top' }, badge(k.status), h('span', { class: 'tile-count' }, count)),
      h('h4', { title: k.description }, k.title),
      h('div', { class: 'tile-value' }, v.text, v.unit ? h('span', { class: 'unit' }, v.unit) : null),
      ...uncertaintyLines(k.worst),
      detail ? h('div', { class: 'tile-scope' }, detail) : null,
      h('div', { class: 'tile-th' }, thresholdText(k, k.thresholds)),
      h('div', { class: 'iso', 'aria-label': 'ISO references' }, ...isoChips(k.iso)),
    )
  }

  function renderScorecard(score) {
    const root = $('scorecard')
    root.setAttribute('aria-busy', 'false')
    for (const area of AREAS) {
      const kpis = score.kpis.filter((k) => k.area === area.id)
      let section = root.querySelector(`[data-area="${area.id}"]`)
      if (!kpis.length) {
        section?.remove()
        continue
      }
      if (!section) {
        section = h(
          'section',
          { class: 'area', 'data-area': area.id, 'aria-labelledby': `area-${area.id}` },
          h(
            'div',
            { class: 'area-head' },
            h('h3', { id: `area-${area.id}` }, area.title),
            h('span', { class: 'muted area-note' }, area.note),
          ),
          h('ul', { class: 'tiles' }),
        )
        root.append(section)
      }
      reconcile(section.querySelector('.tiles'), kpis, (k) => k.id, buildTile)
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Open breaches

  function deliveryCell(d) {
    if (d.delivered > 0) {
      return h(
        'td',
        { 'data-label': 'Alert delivery' },
        h(
          'span',
          { class: 'delivery-ok' },
          h('span', { 'aria-hidden': 'true' }, '✔ '),
          `Delivered${d.deliveredTo?.length ? ` to ${d.deliveredTo.join(', ')}` : ''}`,
        ),
        d.failedAttempts
          ? h(
              'span',
              { class: 'reason' },
              `${d.failedAttempts} failed attempt(s) before: ${d.lastFailure || ''}`,
            )
          : null,
      )
    }
    if (d.failedAttempts > 0) {
      return h(
        'td',
        { 'data-label': 'Alert delivery' },
        h(
          'span',
          { class: 'delivery-bad' },
          h('span', { 'aria-hidden': 'true' }, '✖ '),
          `Not delivered: ${d.failedAttempts} failed attempt(s)`,
        ),
        d.lastFailure ? h('span', { class: 'reason' }, d.lastFailure) : null,
      )
    }
    return h(
      'td',
      { 'data-label': 'Alert delivery' },
      h('span', { class: 'delivery-wait' }, h('span', { 'aria-hidden': 'true' }, '… '), 'Pending'),
    )
  }

  function buildBreachRow(row) {
    const b = row.b
    const op = OPS[row.op] || ''
    return h(
      'tr',
      {
        'data-testid': 'breach-row',
        'data-kpi': b.kpi.id,
        'data-breach-id': b.breachId,
        'data-severity': b.severity,
        'data-scope': scopeText(b.scope),
      },
      h(
        'td',
        { 'data-label': 'Severity' },
        badge(b.severity),
        b.condition === 'stale' ? badge('stale') : null,
      ),
      h('td', { 'data-label': 'KPI' }, b.kpi.title, h('span', { class: 'kpi-id' }, b.kpi.id)),
      h(
        'td',
        { 'data-label': 'Scope' },
        h(
          'span',
          { class: 'scope' },
          ...(scopeParts(b.scope).length ? scopeParts(b.scope) : ['overall']).map((p) =>
            h('span', { class: 'chip' }, p),
          ),
        ),
      ),
      h('td', { class: 'when', 'data-label': 'Since' }, shortDate(b.startedAt), h('small', {}, row.ago)),
      h(
        'td',
        { class: 'num', 'data-label': 'Value now', 'data-testid': 'value-now' },
        row.now ? fmt(b.kpi.id, b.kpi.unit, row.now.value) : '—',
        row.now === null ? h('small', { class: 'muted' }, ' within threshold now') : null,
      ),
      h(
        'td',
        { class: 'num', 'data-label': 'Value when it fired', 'data-testid': 'value-at-firing' },
        fmt(b.kpi.id, b.kpi.unit, b.value),
      ),
      h(
        'td',
        { class: 'num', 'data-label': 'Threshold' },
        `${op} ${fmt(b.kpi.id, b.kpi.unit, b.threshold)}`.trim(),
      ),
      deliveryCell(b.delivery),
      h(
        'td',
        { class: 'row-link' },
        h(
          'a',
          {
            class: 'link-btn',
            href: `/review/breaches/${encodeURIComponent(b.breachId)}`,
            'aria-label': `History of the ${b.kpi.title} breach, ${scopeText(b.scope)}`,
          },
          'History →',
        ),
      ),
    )
  }

  function renderBreaches(breaches, score, current) {
    const ops = new Map((score ? score.kpis : []).map((k) => [k.id, k.thresholds.op]))
    const sorted = [...breaches].sort(
      (a, b) =>
        RANK[b.severity] - RANK[a.severity] ||
        a.kpi.id.localeCompare(b.kpi.id) ||
        scopeText(a.scope).localeCompare(scopeText(b.scope)),
    )
    const rows = sorted.map((b) => ({
      b,
      op: ops.get(b.kpi.id),
      ago: ago(b.startedAt),
      // undefined: current values unknown (not loaded); null: the series is not in breach any more.
      now: current ? (current.get(b.fingerprint) ?? null) : undefined,
    }))
    reconcile($('breaches-body'), rows, (r) => r.b.breachId, buildBreachRow)
    $('breaches-empty').hidden = rows.length > 0
    $('breaches-count').textContent = `${rows.length} open · most severe first`
  }

  // ---------------------------------------------------------------------------------------------------
  // Charts

  function baseChartOptions() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: 'nearest', intersect: true },
      plugins: { legend: { display: false } },
    }
  }

  /** Diagonal stripes: "still running" without relying on colour. */
  function stripes(colour) {
    const c = document.createElement('canvas')
    c.width = 8
    c.height = 8
    const ctx = c.getContext('2d')
    ctx.fillStyle = '#ffffff'
    ctx.fillRect(0, 0, 8, 8)
    ctx.strokeStyle = colour
    ctx.lineWidth = 3
    ctx.beginPath()
    ctx.moveTo(-2, 10)
    ctx.lineTo(10, -2)
    ctx.moveTo(-2, 2)
    ctx.lineTo(2, -2)
    ctx.moveTo(6, 10)
    ctx.lineTo(10, 6)
    ctx.stroke()
    return ctx.createPattern(c, 'repeat')
  }

  /** Shades the tolerance region and labels each point with its version. */
  const tolerancePlugin = {
    id: 'tolerance',
    beforeDatasetsDraw(chart, _args, opts) {
      const t = opts?.region
      if (!t || t.gap === null || t.floor === null) return
      const { ctx, chartArea: a, scales } = chart
      const xr = Math.min(a.right, scales.x.getPixelForValue(t.gap))
      const yb = Math.max(a.top, Math.min(a.bottom, scales.y.getPixelForValue(t.floor)))
      ctx.save()
      ctx.fillStyle = 'rgba(0, 158, 115, 0.11)'
      ctx.fillRect(a.left, a.top, xr - a.left, yb - a.top)
      ctx.setLineDash([6, 4])
      ctx.lineWidth = 1.5
      ctx.strokeStyle = '#8f3200'
      ctx.beginPath()
      ctx.moveTo(xr, a.top)
      ctx.lineTo(xr, a.bottom)
      ctx.moveTo(a.left, yb)
      ctx.lineTo(a.right, yb)
      ctx.stroke()
      ctx.setLineDash([])
      ctx.font = '600 12px system-ui, sans-serif'
      ctx.fillStyle = '#005c43'
      ctx.textBaseline = 'top'
      ctx.textBaseline = 'bottom'
      ctx.fillText('✔ within tolerance', a.left + 8, yb - 4)
      ctx.textBaseline = 'top'
      ctx.fillStyle = '#8f3200'
      // Beside the line where there is room, else on its left: never cut at the chart's edge.
      const rule = `four-fifths rule (ratio ${(1 - t.gap).toFixed(2)})`
      const fits = xr + 6 + ctx.measureText(rule).width <= a.right
      ctx.textAlign = fits ? 'left' : 'right'
      ctx.fillText(rule, fits ? xr + 6 : xr - 6, a.top + 6)
      ctx.textAlign = 'right'
      ctx.textBaseline = 'bottom'
      ctx.fillText(`accuracy floor ${t.floor}`, a.right - 6, yb - 4)
      ctx.restore()
    },
    afterDatasetsDraw(chart) {
      const { ctx } = chart
      ctx.save()
      ctx.font = '600 11px system-ui, sans-serif'
      ctx.fillStyle = '#1b2230'
      ctx.textBaseline = 'middle'
      chart.data.datasets.forEach((ds, i) => {
        const meta = chart.getDatasetMeta(i)
        if (meta.hidden) return
        meta.data.forEach((pt, j) => {
          const d = ds.data[j]
          if (d?.version && (d.latest || d.outside)) ctx.fillText(d.version, pt.x + 10, pt.y - 10)
        })
      })
      ctx.restore()
    },
  }

  function ensureChart(id, config) {
    if (!state.charts[id]) state.charts[id] = new Chart($(id), config)
    return state.charts[id]
  }

  // ---------------------------------------------------------------------------------------------------
  // Accuracy vs bias

  function renderModels(view) {
    renderIfChanged('models', view, () => {
      const tol = view.tolerance
      const all = []
      const datasets = view.models.map((m, i) => {
        const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]
        const data = m.versions
          .filter((v) => v.accuracy && v.accuracy.value !== null && v.disparateImpact)
          .map((v) => ({
            x: v.disparateImpact.gap,
            y: v.accuracy.value,
            version: v.modelVersion,
            attribute: v.disparateImpact.attribute,
            status: v.status,
            latest: v.modelVersion === m.latestVersion,
            outside:
              (tol.disparateImpactGap !== null && v.disparateImpact.gap > tol.disparateImpactGap) ||
              (tol.accuracy.warning !== null && v.accuracy.value < tol.accuracy.warning),
          }))
        all.push(...data)
        return {
          label: m.modelId,
          data,
          showLine: true,
          borderColor: colour,
          backgroundColor: colour,
          borderWidth: 1.5,
          pointStyle: POINT_STYLES[i % POINT_STYLES.length],
          pointRadius: data.map((d) => (d.latest ? 8 : 5)),
          pointHoverRadius: 10,
          pointBorderColor: data.map((d) => (d.outside ? '#000000' : colour)),
          pointBorderWidth: data.map((d) => (d.outside ? 2.5 : 1)),
        }
      })
      const maxX = Math.max(0.3, ...all.map((d) => d.x + 0.05))
      const minY = Math.min((tol.accuracy.critical ?? 0.8) - 0.02, ...all.map((d) => d.y - 0.02))
      const maxY = Math.min(1, Math.max(0.9, ...all.map((d) => d.y + 0.02)))
      const chart = ensureChart('models-chart', {
        type: 'scatter',
        data: { datasets: [] },
        options: {
          ...baseChartOptions(),
          plugins: {
            legend: {
              display: true,
              position: 'bottom',
              labels: { usePointStyle: true, boxHeight: 8, padding: 16 },
            },
            tooltip: {
              callbacks: {
                label: (ctx) => {
                  const d = ctx.raw
                  return `${ctx.dataset.label} ${d.version}: accuracy ${d.y.toFixed(3)}, 1 − DIR ${d.x.toFixed(3)} (${d.attribute}) — ${d.outside ? 'outside tolerance' : 'within tolerance'}`
                },
              },
            },
          },
          scales: {
            x: {
              type: 'linear',
              min: 0,
              title: { display: true, text: 'Bias → 1 − disparate impact ratio (worst attribute)' },
              grid: { color: '#eceef2' },
            },
            y: {
              title: { display: true, text: 'Accuracy' },
              grid: { color: '#eceef2' },
            },
          },
        },
        plugins: [tolerancePlugin],
      })
      chart.data.datasets = datasets
      chart.options.scales.x.max = Math.ceil(maxX * 20) / 20
      chart.options.scales.y.min = Math.floor(minY * 20) / 20
      chart.options.scales.y.max = Math.ceil(maxY * 20) / 20
      chart.options.plugins.tolerance = {
        region: { gap: tol.disparateImpactGap, floor: tol.accuracy.warning },
      }
      chart.update('none')

      // The same numbers as a table (and the fairness metrics the chart does not show).
      const rows = []
      for (const m of view.models) {
        rows.push(
          h(
            'tr',
            { class: 'group-row' },
            h(
              'th',
              { scope: 'colgroup', colspan: 5 },
              m.modelId,
              h(
                'span',
                { class: 'muted' },
                ` · ${m.versions.length} version${m.versions.length === 1 ? '' : 's'}`,
              ),
            ),
          ),
        )
        for (const v of m.versions) {
          const worst = largestDifference(v)
          const latest = v.modelVersion === m.latestVersion
          rows.push(
            h(
              'tr',
              {
                class:
                  [
                    latest ? 'latest' : '',
                    v.breachedMetrics.length || v.insufficientMetrics?.length || v.uncertainMetrics?.length
                      ? 'has-sub'
                      : '',
                  ]
                    .join(' ')
                    .trim() || null,
                'data-model': m.modelId,
                'data-version': v.modelVersion,
              },
              h(
                'td',
                { 'data-label': 'Version' },
                v.modelVersion,
                latest ? h('small', { class: 'muted' }, ' (latest)') : null,
                v.labelCoverage && v.labelCoverage.value !== null && v.labelCoverage.value < 1
                  ? h('small', { class: 'muted' }, ` · labels ${Math.round(v.labelCoverage.value * 100)} %`)
                  : null,
              ),
              h('td', { 'data-label': 'Status', 'data-testid': 'model-status' }, badge(v.status)),
              h(
                'td',
                { class: 'num', 'data-label': 'Accuracy' },
                v.accuracy ? fmt('model.accuracy', 'score', v.accuracy.value) : '—',
              ),
              h(
                'td',
                { class: 'num', 'data-label': 'Disparate impact ratio' },
                v.disparateImpact ? v.disparateImpact.ratio.toFixed(3) : '—',
                v.disparateImpact ? h('small', { class: 'muted' }, ` ${v.disparateImpact.attribute}`) : null,
                ...uncertaintyLines(
                  v.disparateImpact
                    ? v.attributes.find((a) => a.attribute === v.disparateImpact.attribute)
                        ?.disparateImpactRatio
                    : null,
                ),
                !v.disparateImpact &&
                  v.insufficientMetrics?.some((m) => m.startsWith('disparateImpactRatio:'))
                  ? badge('insufficient_data')
                  : null,
              ),
              h(
                'td',
                { 'data-label': 'Largest group difference' },
                worst ? `${worst.value.toFixed(3)} ` : '—',
                worst
                  ? h('small', { class: 'muted' }, `${FAIRNESS_NAMES[worst.metric]}, ${worst.attribute}`)
                  : null,
              ),
            ),
          )
          for (const [list, text, cls] of [
            [v.insufficientMetrics, 'insufficient data (not estimable) on: ', 'sub-row insufficient'],
            [v.uncertainMetrics, 'beyond a line, interval not confirming, on: ', 'sub-row uncertain-row'],
          ]) {
            if (list?.length) {
              rows.push(
                h(
                  'tr',
                  { class: `${cls}${latest ? ' latest' : ''}` },
                  h(
                    'td',
                    { colspan: 5 },
                    h('span', { class: 'muted' }, `${v.modelVersion} ${text}`),
                    list.map(metricName).join(', '),
                  ),
                ),
              )
            }
          }
          if (v.breachedMetrics.length) {
            rows.push(
              h(
                'tr',
                { class: `sub-row${latest ? ' latest' : ''}` },
                h(
                  'td',
                  { colspan: 5 },
                  h('span', { class: 'muted' }, `${v.modelVersion} out of tolerance on: `),
                  v.breachedMetrics.map(metricName).join(', '),
                ),
              ),
            )
          }
        }
      }
      $('models-body').replaceChildren(...rows)
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Incidents vs the 72-hour rule

  const INCIDENT_STYLE = {
    notified_on_time: { label: 'Notified within 72 h', colour: '#0072B2', striped: false },
    notified_late: { label: 'Notified late', colour: '#D55E00', striped: false },
    running: { label: 'Not notified yet (clock running)', colour: '#0072B2', striped: true },
    running_warning: { label: 'Not notified, past 48 h', colour: '#E69F00', striped: true },
    overdue: { label: 'Not notified, past 72 h', colour: '#D55E00', striped: true },
  }
  const incidentKind = (i) => (i.state === 'running' && i.level === 'warning' ? 'running_warning' : i.state)

  function renderIncidents(view) {
    if (!state.patterns) state.patterns = {}
    const patterns = state.patterns
    const fill = (kind) => {
      const s = INCIDENT_STYLE[kind]
      if (!s.striped) return s.colour
      if (!patterns[kind]) patterns[kind] = stripes(s.colour)
      return patterns[kind]
    }
    const list = view.incidents
    const chart = ensureChart('incidents-chart', {
      type: 'bar',
      data: { labels: [], datasets: [] },
      options: {
        ...baseChartOptions(),
        interaction: { mode: 'index', intersect: false },
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              label: (ctx) => {
                if (ctx.datasetIndex > 0) return `${ctx.dataset.label}`
                const i = state.incidentList[ctx.dataIndex]
                if (!i) return ''
                return i.notifiedAt
                  ? `notified after ${i.hoursToNotify.toFixed(1)} h (${i.severity})`
                  : `NOT notified: ${i.hoursOpen.toFixed(1)} h since awareness (${i.severity})`
              },
            },
          },
        },
        scales: {
          x: {
            ticks: { autoSkip: true, maxRotation: 60, minRotation: 45, font: { size: 10 } },
            grid: { display: false },
          },
          y: {
            beginAtZero: true,
            suggestedMax: 96,
            title: { display: true, text: 'Hours from awareness to notification' },
            grid: { color: '#eceef2' },
          },
        },
      },
    })
    state.incidentList = list
    const deadline = view.deadlineHours
    chart.data.labels = list.map((i) => i.incidentId)
    chart.data.datasets = [
      {
        type: 'bar',
        label: 'Hours to notify',
        data: list.map((i) => i.clockHours),
        backgroundColor: list.map((i) => fill(incidentKind(i))),
        borderColor: list.map((i) => INCIDENT_STYLE[incidentKind(i)].colour),
        borderWidth: list.map((i) => (i.notifiedAt ? 0 : 1.5)),
        order: 2,
      },
      {
        type: 'line',
        label: `${deadline}-hour deadline (GDPR Art. 33)`,
        data: list.map(() => deadline),
        borderColor: '#8f3200',
        borderDash: [6, 4],
        borderWidth: 2,
        pointRadius: 0,
        order: 1,
      },
      {
        type: 'line',
        label: `${view.warningHours}-hour warning`,
        data: list.map(() => view.warningHours),
        borderColor: '#6e4600',
        borderDash: [2, 3],
        borderWidth: 1.5,
        pointRadius: 0,
        order: 1,
      },
    ]
    chart.update('none')

    renderIfChanged('incidents-legend', [deadline, view.warningHours], () => {
      const sw = (cls) => h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' })
      $('incidents-legend').replaceChildren(
        h('span', {}, sw('solid-blue'), 'Notified within 72 h'),
        h('span', {}, sw('solid-red'), 'Notified late'),
        h('span', {}, sw('striped blue'), 'Not notified, within 48 h'),
        h('span', {}, sw('striped warn'), 'Not notified, past 48 h'),
        h('span', {}, sw('striped'), 'Not notified, past 72 h'),
        h('span', {}, sw('line'), `${deadline} h deadline`),
        h('span', {}, sw('line warn'), `${view.warningHours} h warning`),
      )
    })

    const MAX_CLOCKS = 5
    const allRunning = list.filter((i) => !i.notifiedAt).sort((a, b) => b.clockHours - a.clockHours)
    const running = allRunning.slice(0, MAX_CLOCKS).map((i) => ({
      id: i.incidentId,
      level: i.level,
      hours: i.clockHours.toFixed(1),
      // The clock runs from awareness when the incident gives it; both times are shown then.
      meta: `${i.severity} · ${i.businessUnit || 'unassigned'} · detected ${shortDate(i.detectedAt)}${
        i.awarenessAt && i.awarenessAt !== i.detectedAt ? ` · aware ${shortDate(i.awarenessAt)}` : ''
      }`,
      left: deadline - i.clockHours,
    }))
    reconcile(
      $('clocks'),
      running,
      (c) => c.id,
      (c) =>
        h(
          'li',
          { class: `clock st-${c.level}`, 'data-testid': 'incident-clock', 'data-incident': c.id },
          h('span', { class: 'clock-id' }, c.id),
          h('span', { class: 'clock-hours' }, `${c.hours} h`),
          h('span', { class: 'clock-meta' }, c.meta),
          badge(
            c.level,
            c.left <= 0 ? `Overdue by ${(-c.left).toFixed(1)} h` : `${c.left.toFixed(1)} h left`,
          ),
        ),
    )
    if (!running.length) {
      $('clocks').replaceChildren(h('li', { class: 'empty' }, 'Every notifiable incident has been notified.'))
    } else if (allRunning.length > running.length) {
      const more = allRunning.slice(MAX_CLOCKS)
      $('clocks').append(
        h(
          'li',
          { class: 'muted more' },
          `+ ${more.length} more on the clock, the oldest at ${more[0].clockHours.toFixed(1)} h: ${more.map((i) => i.incidentId).join(', ')}`,
        ),
      )
    }
    const s = view.summary
    renderIfChanged('incident-summary', s, () => {
      $('incident-summary').replaceChildren(
        h('dt', {}, 'Notifiable incidents shown'),
        h('dd', {}, String(s.total)),
        h('dt', {}, 'Notified within 72 h'),
        h('dd', {}, String(s.notifiedOnTime)),
        h('dt', {}, 'Notified late'),
        h('dd', {}, String(s.notifiedLate)),
        h('dt', {}, 'Not notified, past 72 h'),
        h('dd', {}, String(s.overdue)),
        h('dt', {}, 'Not notified, within 72 h'),
        h('dd', {}, String(s.running)),
      )
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Nonconformities

  function renderNcs(view) {
    renderIfChanged('ncs', view.groups, () => {
      const clauses = []
      const counts = new Map()
      for (const g of view.groups) {
        const label = `${g.standard.replace(/^ISO/, 'ISO ')} ${g.clause}`
        if (!counts.has(label)) {
          counts.set(label, { major: 0, minor: 0 })
          clauses.push(label)
        }
        const c = counts.get(label)
        if (g.kind === 'major_nc') c.major += g.open
        else c.minor += g.open
      }
      const wrap = $('ncs-chart').parentElement
      wrap.style.height = `${Math.max(180, clauses.length * 30 + 70)}px`
      const chart = ensureChart('ncs-chart', {
        type: 'bar',
        data: { labels: [], datasets: [] },
        options: {
          ...baseChartOptions(),
          indexAxis: 'y',
          interaction: { mode: 'index', intersect: false },
          plugins: { legend: { display: true, position: 'bottom' } },
          scales: {
            x: {
              stacked: true,
              beginAtZero: true,
              ticks: { precision: 0 },
              title: { display: true, text: 'Open nonconformities' },
            },
            y: { stacked: true, grid: { display: false } },
          },
        },
      })
      chart.data.labels = clauses
      chart.data.datasets = [
        {
          label: 'Major NC',
          data: clauses.map((c) => counts.get(c).major),
          backgroundColor: '#D55E00',
          borderColor: '#8f3200',
          borderWidth: 1,
        },
        {
          label: 'Minor NC',
          data: clauses.map((c) => counts.get(c).minor),
          backgroundColor: stripes('#E69F00'),
          borderColor: '#6e4600',
          borderWidth: 1,
        },
      ]
      chart.resize()
      chart.update('none')

      const rows = view.groups.map((g) =>
        h(
          'tr',
          {
            'data-testid': 'nc-row',
            'data-standard': g.standard,
            'data-clause': g.clause,
            'data-kind': g.kind,
          },
          h(
            'td',
            { 'data-label': 'Standard' },
            h('abbr', { title: g.standardTitle || g.standard }, g.standard.replace(/^ISO(\d)/, 'ISO $1')),
          ),
          h(
            'td',
            { 'data-label': 'Clause / control' },
            h('strong', {}, g.clause),
            g.clauseTitle ? h('span', { class: 'reason' }, g.clauseTitle) : null,
          ),
          h(
            'td',
            { 'data-label': 'Kind' },
            g.kind === 'major_nc' ? badge('critical', 'Major') : badge('warning', 'Minor'),
          ),
          h('td', { class: 'num', 'data-label': 'Open' }, String(g.open)),
          h(
            'td',
            { 'data-label': 'Findings' },
            h(
              'ul',
              { class: 'findings' },
              ...[...g.findings]
                .sort((a, b) => Number(b.overdue) - Number(a.overdue))
                .map((f) =>
                  h(
                    'li',
                    {},
                    h('strong', {}, f.findingId),
                    ` ${f.title}`,
                    f.dueAt ? ` · due ${dayDate(f.dueAt)}` : '',
                    f.overdue ? h('span', { class: 'overdue-flag' }, ' · ⚠ overdue') : null,
                  ),
                ),
            ),
          ),
        ),
      )
      $('ncs-body').replaceChildren(...rows)
      $('ncs-empty').hidden = rows.length > 0
      const totals = Object.entries(view.totals).sort(([a], [b]) => a.localeCompare(b))
      $('ncs-totals').replaceChildren(
        ...totals.flatMap(([std, t]) => [
          h('dt', {}, std.replace(/^ISO(\d)/, 'ISO/IEC $1')),
          h(
            'dd',
            {},
            `${t.major} major · ${t.minor} minor`,
            t.overdue ? h('span', { class: 'overdue-flag' }, ` · ${t.overdue} overdue`) : ' · none overdue',
          ),
        ]),
      )
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Dead letters (reasons only: the refused bytes never reach the page)

  const ERROR_TYPE_LABEL = {
    empty: 'Empty message',
    too_large: 'Too large',
    not_json: 'Not JSON',
    unknown_type: 'Unknown event type',
    invalid_envelope: 'Invalid envelope',
    invalid_data: 'Invalid data',
  }

  function renderDeadLetters(rows) {
    const shown = rows.map((r) => ({
      key: `${r.topic}/${r.partition}/${r.offset}`,
      receivedAt: r.received_at,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      errorType: r.error_type,
      reason: r.reason,
    }))
    renderIfChanged('dead-letters', shown, () => {
      reconcile(
        $('dead-letters-body'),
        shown,
        (r) => r.key,
        (r) =>
          h(
            'tr',
            { 'data-testid': 'dead-letter-row', 'data-error-type': r.errorType },
            h(
              'td',
              { 'data-label': 'Received' },
              shortDate(r.receivedAt),
              h('small', { class: 'muted' }, ` ${clockTime(new Date(r.receivedAt))}`),
            ),
            h('td', { 'data-label': 'Topic' }, h('span', { class: 'kpi-id' }, r.topic)),
            h('td', { class: 'num', 'data-label': 'Partition / offset' }, `${r.partition} / ${r.offset}`),
            h(
              'td',
              { 'data-label': 'Error type' },
              h(
                'span',
                { class: 'badge st-no_data', title: r.errorType },
                ERROR_TYPE_LABEL[r.errorType] || r.errorType,
              ),
            ),
            h('td', { 'data-label': 'Reason' }, h('span', { class: 'reason dl-reason' }, r.reason)),
          ),
      )
      $('dead-letters-empty').hidden = shown.length > 0
      $('dead-letters-count').textContent = shown.length
        ? `${shown.length} most recent${shown.length >= 50 ? ' (the API has more)' : ''}`
        : ''
      const byType = new Map()
      for (const r of shown) byType.set(r.errorType, (byType.get(r.errorType) || 0) + 1)
      $('dead-letter-types').replaceChildren(
        ...[...byType]
          .sort((a, b) => b[1] - a[1])
          .map(([type, n]) =>
            h('li', {}, h('span', { class: 'badge st-no_data' }, `${ERROR_TYPE_LABEL[type] || type}: ${n}`)),
          ),
      )
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // One breach

  function fact(label, ...value) {
    return h(
      'div',
      { class: 'fact' },
      h('span', { class: 'fact-label' }, label),
      h('span', { class: 'fact-value' }, ...value),
    )
  }

  async function refreshBreach(id) {
    if (!state.scorecard) state.scorecard = await getJSON('/api/views/scorecard')
    let detail
    try {
      detail = await getJSON(`/api/breaches/${encodeURIComponent(id)}`)
    } catch (err) {
      if (err.status === 404) {
        $('breach-title').textContent = `Unknown breach ${id}`
        $('breach-facts').replaceChildren(
          h('p', {}, 'No breach has this id (yet). It may not be recorded yet, or the link is wrong.'),
        )
        return
      }
      throw err
    }
    const tr = detail.transitions
    const first = tr[0]
    const kpi = state.scorecard.kpis.find((k) => k.id === first.kpi_id) || {
      id: first.kpi_id,
      title: first.kpi_id,
      unit: '',
      iso: [],
      thresholds: { op: 'gt' },
    }
    const resolved = tr.some((t) => t.transition === 'resolved')
    const severity = tr.some((t) => t.severity === 'critical') ? 'critical' : 'warning'
    // The transition that opened or last escalated the breach: what the alert said.
    const firing = [...tr].reverse().find((t) => t.transition !== 'resolved') || tr[0]
    const fingerprint = id.split('-')[0]
    const from = new Date(Math.min(Date.parse(first.started_at) - 6 * 3600_000, Date.now() - 3600_000))
    const history = await getJSON(
      `/api/kpis/${encodeURIComponent(kpi.id)}/history?fingerprint=${encodeURIComponent(fingerprint)}&from=${encodeURIComponent(from.toISOString())}&limit=5000`,
    ).catch(() => ({ points: [] }))

    const latestPoint = history.points.length ? history.points[history.points.length - 1] : null
    renderIfChanged('breach', { detail, n: history.points.length, latestPoint, kpi: kpi.id }, () => {
      document.title = `Breach: ${kpi.title} · ${scopeText(first.scope)}`
      $('breach-title').textContent = `Breach: ${kpi.title} · ${scopeText(first.scope)}`
      const op = OPS[kpi.thresholds.op] || ''
      $('breach-facts').replaceChildren(
        fact(
          'State',
          badge(resolved ? 'ok' : severity, resolved ? 'Resolved' : `Open · ${STATUS[severity].label}`),
        ),
        fact('KPI', kpi.title, h('span', { class: 'kpi-id' }, kpi.id)),
        fact('Scope', scopeText(first.scope)),
        fact(
          'Started',
          shortDate(first.started_at),
          h('small', { class: 'muted' }, ` ${ago(first.started_at)}`),
        ),
        fact(
          'Value when it fired',
          `${fmt(kpi.id, kpi.unit, firing.value)} `,
          h('small', { class: 'muted' }, `threshold ${op} ${fmt(kpi.id, kpi.unit, firing.threshold)}`),
        ),
        fact(
          'Value now',
          latestPoint ? `${fmt(kpi.id, kpi.unit, latestPoint.value)} ` : '—',
          latestPoint
            ? h('small', { class: 'muted' }, `evaluated ${ago(latestPoint.evaluated_at)}`)
            : h('small', { class: 'muted' }, 'no recent evaluation'),
        ),
        fact(
          'Alert deliveries',
          `${detail.deliveries.filter((d) => DELIVERED.has(d.outcome)).length} delivered, ${detail.deliveries.filter((d) => !DELIVERED.has(d.outcome)).length} other attempt(s)`,
        ),
        kpi.iso.length ? fact('Evidences', h('span', { class: 'iso' }, ...isoChips(kpi.iso))) : null,
      )
      $('transitions-body').replaceChildren(
        ...tr.map((t) =>
          h(
            'tr',
            { 'data-testid': 'transition-row' },
            h(
              'td',
              { 'data-label': 'At' },
              shortDate(t.at),
              h('small', { class: 'muted' }, ` ${clockTime(new Date(t.at))}`),
            ),
            h('td', { 'data-label': 'Transition' }, t.transition),
            h(
              'td',
              { 'data-label': 'Severity' },
              badge(
                t.transition === 'resolved' ? 'ok' : t.severity,
                t.transition === 'resolved' ? 'Resolved' : null,
              ),
            ),
            h(
              'td',
              { class: 'num', 'data-label': 'Value at the transition' },
              fmt(kpi.id, kpi.unit, t.value),
            ),
            h('td', { class: 'num', 'data-label': 'Threshold' }, fmt(kpi.id, kpi.unit, t.threshold)),
          ),
        ),
      )
      const deliveries = detail.deliveries.map((d) =>
        h(
          'tr',
          { 'data-testid': 'delivery-row' },
          h(
            'td',
            { 'data-label': 'At' },
            shortDate(d.attempted_at),
            h('small', { class: 'muted' }, ` ${clockTime(new Date(d.attempted_at))}`),
          ),
          h('td', { 'data-label': 'Transition' }, d.transition_id.split('-').slice(2).join(' ')),
          h('td', { 'data-label': 'Sink' }, d.sink),
          h('td', { class: 'num', 'data-label': 'Attempt' }, String(d.attempt)),
          h(
            'td',
            { 'data-label': 'Outcome' },
            DELIVERED.has(d.outcome)
              ? h('span', { class: 'delivery-ok' }, '✔ delivered')
              : d.outcome === 'skipped'
                ? h('span', { class: 'delivery-wait' }, '– skipped (already delivered)')
                : h('span', { class: 'delivery-bad' }, `✖ ${d.outcome}`),
          ),
          h('td', { 'data-label': 'HTTP' }, d.status_code === null ? '—' : String(d.status_code)),
          h('td', { 'data-label': 'Reason' }, h('span', { class: 'reason' }, d.reason || '')),
          h('td', { class: 'num', 'data-label': 'Latency' }, `${Math.round(d.latency_ms)} ms`),
        ),
      )
      $('deliveries-body').replaceChildren(
        ...(deliveries.length
          ? deliveries
          : [h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No delivery attempt recorded yet.'))]),
      )

      const pts = history.points.map((p) => ({ x: Date.parse(p.evaluated_at), y: p.value }))
      const thresholds = {}
      for (const t of tr)
        if (t.threshold !== null && t.transition !== 'resolved') thresholds[t.severity] = t.threshold
      const xs = pts.map((p) => p.x)
      const span = xs.length ? [Math.min(...xs), Math.max(...xs)] : [Date.now() - 3600_000, Date.now()]
      const line = (label, y, colour, dash) => ({
        type: 'line',
        label,
        data: [
          { x: span[0], y },
          { x: span[1], y },
        ],
        borderColor: colour,
        borderDash: dash,
        borderWidth: 1.5,
        pointRadius: 0,
      })
      const chart = ensureChart('history-chart', {
        type: 'line',
        data: { datasets: [] },
        options: {
          ...baseChartOptions(),
          interaction: { mode: 'nearest', intersect: false },
          plugins: { legend: { display: true, position: 'bottom' } },
          scales: {
            x: {
              type: 'linear',
              ticks: { callback: timeTick, maxTicksLimit: 8 },
            },
            y: { title: { display: true, text: `${kpi.title} (${kpi.unit})` }, grid: { color: '#eceef2' } },
          },
        },
      })
      chart.data.datasets = [
        {
          label: kpi.title,
          data: pts,
          borderColor: '#0072B2',
          backgroundColor: '#0072B2',
          pointRadius: pts.length > 60 ? 0 : 2,
          borderWidth: 2,
          stepped: true,
        },
        thresholds.warning !== undefined
          ? line(`Warning ${op} ${thresholds.warning}`, thresholds.warning, '#6e4600', [2, 3])
          : null,
        thresholds.critical !== undefined
          ? line(`Critical ${op} ${thresholds.critical}`, thresholds.critical, '#8f3200', [6, 4])
          : null,
      ].filter(Boolean)
      chart.update('none')
    })
  }

  // ---------------------------------------------------------------------------------------------------
  // Refresh loop and routing

  function route() {
    const m = /^\/review\/breaches\/([^/]+)\/?$/.exec(location.pathname)
    return m ? { view: 'breach', id: decodeURIComponent(m[1]) } : { view: 'overview' }
  }

  async function refreshOverview() {
    const names = [
      'scorecard',
      'open breaches',
      'models',
      'incidents',
      'nonconformities',
      'alert deliveries',
      'current values',
      'current values',
      'dead letters',
    ]
    const results = await Promise.allSettled([
      getJSON('/api/views/scorecard'),
      getJSON('/api/breaches?state=open&limit=1000'),
      getJSON('/api/views/models'),
      getJSON('/api/views/incidents'),
      getJSON('/api/views/nonconformities'),
      getJSON('/api/views/alert-deliveries?state=open'),
      // The current value of every series in breach now, for the "value now" column.
      getJSON('/api/kpis?status=critical'),
      getJSON('/api/kpis?status=warning'),
      getJSON('/api/dead-letters?limit=50'),
    ])
    const [score, breaches, models, incidents, ncs, deliveries, critical, warning, deadLetters] = results.map(
      (r) => (r.status === 'fulfilled' ? r.value : null),
    )
    const current = new Map()
    for (const list of [critical, warning]) {
      for (const k of list ? list.kpis : []) {
        for (const series of k.series)
          current.set(series.fingerprint, { value: series.value, at: series.evaluatedAt })
      }
    }
    if (breaches && deliveries) {
      // The alerter's delivery log, summarised per breach (sinks delivered to, failures).
      const byBreach = new Map(deliveries.breaches.map((d) => [d.breachId, d]))
      for (const b of breaches.breaches) {
        const d = byBreach.get(b.breachId)
        if (d) b.delivery = { ...b.delivery, ...d, delivered: Math.max(d.delivered, b.delivery.delivered) }
      }
    }
    if (score) {
      state.scorecard = score
      renderScorecard(score)
    }
    if (breaches) renderBreaches(breaches.breaches, state.scorecard, critical && warning ? current : null)
    if (models) renderModels(models)
    if (incidents) renderIncidents(incidents)
    if (ncs) renderNcs(ncs)
    if (deadLetters) renderDeadLetters(deadLetters.deadLetters)
    renderHeadline(score, breaches?.breaches, incidents, ncs)
    // A view the caller's role does not cover (403) is not shown at all: no empty section, tile or link.
    const denied = (i) => results[i].status === 'rejected' && results[i].reason.status === 403
    for (const [i, section, tile] of [
      [2, 'models-section', null],
      [3, 'incidents-section', 'stat-incidents'],
      [4, 'ncs-section', 'stat-ncs'],
      [8, 'dead-letters-section', null],
    ]) {
      $(section).hidden = denied(i)
      if (tile) $(tile).hidden = denied(i)
      const link = document.querySelector(`nav.sections a[href="/#${section}"]`)
      if (link) link.hidden = denied(i)
    }
    const failed = results
      // A view the caller's role does not cover (403) is left out, not reported as a failure.
      .map((r, i) =>
        r.status === 'rejected' && r.reason.status !== 403 ? `${names[i]} (${r.reason.message})` : null,
      )
      .filter(Boolean)
    if (failed.length) throw new Error(`could not load ${failed.join(', ')}`)
  }

  function showView() {
    const r = route()
    $('breach-detail').hidden = r.view !== 'breach'
    $('overview').hidden = r.view === 'breach'
    if (r.view === 'overview') document.title = 'KPI review · ISO/IEC 27001 & 42001'
    return r
  }

  async function refresh() {
    clearTimeout(state.timer)
    const r = showView()
    const dot = $('live-dot')
    try {
      if (r.view === 'breach') await refreshBreach(r.id)
      else await refreshOverview()
      state.lastOk = new Date()
      $('updated').textContent = `Updated ${clockTime(state.lastOk)}`
      $('load-error').hidden = true
      dot.className = 'live-dot pulse'
      setTimeout(() => dot.classList.remove('pulse'), 900)
    } catch (err) {
      dot.className = 'live-dot stale'
      $('updated').textContent = state.lastOk
        ? `Update failed at ${clockTime(new Date())}; data from ${clockTime(state.lastOk)}`
        : `Update failed at ${clockTime(new Date())}`
      $('load-error').textContent =
        `Live update failed: ${err.message}. Retrying every ${REFRESH_MS / 1000} s.`
      $('load-error').hidden = false
    }
    if (state.paused) {
      dot.className = 'live-dot paused'
      $('updated').textContent = `Paused · data from ${state.lastOk ? clockTime(state.lastOk) : '—'}`
    } else {
      state.timer = setTimeout(refresh, REFRESH_MS)
    }
  }

  function navigate(url) {
    history.pushState({}, '', url)
    lastRender.delete('breach')
    void refresh().then(() => {
      const target = location.hash ? document.getElementById(location.hash.slice(1)) : null
      if (target) target.scrollIntoView()
      else window.scrollTo(0, 0)
      ;(target || $('main')).focus({ preventScroll: true })
    })
  }

  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
    const a = e.target instanceof Element ? e.target.closest('a[href]') : null
    if (!a) return
    const url = new URL(a.href, location.href)
    if (url.origin !== location.origin) return
    const inPage = url.pathname === '/' || /^\/review\/breaches\/[^/]+\/?$/.test(url.pathname)
    if (!inPage) return
    if (url.pathname === location.pathname && url.hash) return // same view: plain anchor navigation
    e.preventDefault()
    navigate(url.pathname + url.search + url.hash)
  })
  window.addEventListener('popstate', () => {
    lastRender.delete('breach')
    void refresh()
  })
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && !state.paused) void refresh()
  })
  $('pause').addEventListener('click', () => {
    state.paused = !state.paused
    $('pause').setAttribute('aria-pressed', String(state.paused))
    $('pause').textContent = state.paused ? 'Resume updates' : 'Pause updates'
    void refresh()
  })

  if (typeof Chart !== 'undefined') {
    Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif'
    Chart.defaults.color = '#3a4252'
  }
  void refresh()
})()
