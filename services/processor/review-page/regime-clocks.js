/*
 * The review page's "Notification clocks" section: per incident, every step of every regulatory regime
 * that applies (GDPR Art. 33/34, NIS2, DORA, HIPAA) from /api/views/regime-clocks, polled every 5 s while
 * the overview is shown. A role the view is not for (403) never sees the section or its link. Every
 * string from the API goes through textContent (never innerHTML).
 */
;(() => {
  const REFRESH_MS = 5000
  const ICON = { critical: '✖', warning: '▲', ok: '✔' }
  const STATE_TEXT = {
    waiting: 'Not started',
    running: 'Running',
    overdue: 'Overdue',
    sent: 'Sent',
    sent_late: 'Sent late',
    no_deadline: 'Without undue delay',
  }
  const $ = (id) => document.getElementById(id)

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v)
    for (const c of children) if (c !== null && c !== undefined) el.append(c)
    return el
  }

  const when = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') : '—')
  function hours(v) {
    const a = Math.abs(v)
    const text = a >= 48 ? `${(a / 24).toFixed(1)} d` : `${a.toFixed(1)} h`
    return v < 0 ? `${text} over` : `${text} left`
  }

  function detail(step) {
    if (step.state === 'running' || step.state === 'overdue') {
      return `${hours(step.hoursLeft)} · ${Math.round((step.ratio ?? 1) * 100)}% of the time used`
    }
    if (step.state === 'sent' || step.state === 'sent_late') return `sent ${when(step.sentAt)}`
    if (step.state === 'no_deadline') return `${step.hoursElapsed.toFixed(1)} h open, never counted late`
    return 'starts when the earlier report is sent or the incident is classified'
  }

  function row(incident, regime, step, first) {
    const level =
      step.state === 'sent' || step.state === 'no_deadline' || step.state === 'waiting' ? 'ok' : step.level
    return h(
      'tr',
      {
        'data-testid': 'regime-step',
        'data-incident': incident.incidentId,
        'data-regime': regime.regime,
        'data-step': step.step,
        'data-state': step.state,
      },
      h('th', { scope: 'row' }, first ? incident.incidentId : ''),
      h('td', {}, regime.title.split(':')[0]),
      h('td', {}, step.title),
      h(
        'td',
        {},
        h(
          'span',
          { class: `badge st-${level}` },
          h('span', { 'aria-hidden': 'true' }, ICON[level]),
          ` ${STATE_TEXT[step.state]}`,
        ),
      ),
      h('td', {}, when(step.dueAt)),
      h('td', {}, detail(step)),
    )
  }

  let last = ''
  function render(view) {
    const sig = JSON.stringify(view.incidents)
    if (sig === last) return
    last = sig
    const body = $('regime-clocks-body')
    body.replaceChildren(
      ...view.incidents.flatMap((incident) =>
        incident.regimes.flatMap((regime) =>
          regime.steps.map((step, i) => row(incident, regime, step, i === 0)),
        ),
      ),
    )
    $('regime-clocks-empty').hidden = view.incidents.length > 0
    const s = view.summary
    $('regime-clocks-summary').textContent =
      `${s.incidents} incident(s) with a report outstanding: ${s.running} step(s) running, ${s.warning} near their deadline, ${s.overdue} overdue.`
  }

  async function refresh() {
    const section = $('regime-clocks-section')
    if (!section || $('overview')?.hidden) return
    try {
      const res = await fetch('/api/views/regime-clocks', {
        cache: 'no-store',
        headers: { accept: 'application/json' },
      })
      const denied = res.status === 403
      section.hidden = denied
      const link = document.querySelector('nav.sections a[href="/#regime-clocks-section"]')
      if (link) link.hidden = denied
      if (res.ok) render(await res.json())
    } catch {
      // The main script reports load failures; this section keeps its last data.
    }
  }

  void refresh()
  setInterval(() => {
    if (document.visibilityState === 'visible') void refresh()
  }, REFRESH_MS)
})()
