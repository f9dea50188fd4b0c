/*
 * The review page's response section (its own file; page.js does not know it): on the overview, who has
 * each open breach (acknowledgement, owner, escalation step, holding silence) and the silences; on one
 * breach, the same with its actions and the forms to acknowledge, assign and comment. Plain browser
 * JavaScript polling the response API every 5 s; every string from the API goes through textContent.
 */
;(() => {
  const REFRESH_MS = 5000
  const $ = (id) => document.getElementById(id)

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = v
      else if (k === 'text') el.textContent = v
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue
      el.append(c instanceof Node ? c : document.createTextNode(String(c)))
    }
    return el
  }

  const call = window.aimsApi.call

  const when = (iso) => (iso ? new Date(iso).toLocaleString() : '')
  const scopeText = (scope) =>
    Object.entries(scope || {})
      .map(([k, v]) => `${k}=${v}`)
      .join(', ') || 'overall'

  /** "acknowledged by alice (10:05)" / "not acknowledged"; owner; "step 1 of 2, next 10:30". */
  function describe(r) {
    const ack = r?.acknowledged
      ? `acknowledged by ${r.acknowledged.by} (${when(r.acknowledged.at)})`
      : 'not acknowledged'
    const e = r?.escalation
    const step = e
      ? `${e.policy}: step ${e.stepsDone}${e.steps ? ` of ${e.steps}` : ''}${e.remindersDone ? `, ${e.remindersDone} reminders` : ''}${e.nextAt ? `, next ${when(e.nextAt)}` : ''}`
      : 'no escalation policy'
    return {
      ack,
      owner: r?.owner || 'unassigned',
      step,
      silence: r?.heldBySilence ? `held by silence ${r.heldBySilence}` : '',
    }
  }

  function panel(id, title) {
    let el = $(id)
    if (!el) {
      el = h(
        'section',
        { id, class: 'panel', 'aria-labelledby': `${id}-title` },
        h('div', { class: 'panel-head' }, h('h2', { id: `${id}-title`, text: title })),
        h('div', { id: `${id}-body` }),
      )
    }
    return el
  }

  function table(caption, head, rows, testid) {
    return h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'data stack', 'data-testid': testid },
        h('caption', { class: 'visually-hidden', text: caption }),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            head.map((t) => h('th', { scope: 'col', text: t })),
          ),
        ),
        h('tbody', {}, rows),
      ),
    )
  }

  async function refreshOverview() {
    const anchor = $('breaches-section')
    if (!anchor) return
    const section = panel('response-section', 'Response: who has each open breach')
    if (!section.isConnected) anchor.after(section)
    const silencesSection = panel('silences-section', 'Silences')
    if (!silencesSection.isConnected) section.after(silencesSection)

    const open = await call('GET', '/api/breaches?state=open&limit=100')
    const ids = open.breaches.map((b) => b.breachId)
    const response = ids.length
      ? await call('GET', `/api/response/breaches?ids=${ids.join(',')}`)
      : { breaches: {} }
    const rows = open.breaches.map((b) => {
      const d = describe(response.breaches[b.breachId])
      return h(
        'tr',
        { 'data-testid': 'response-row', 'data-breach-id': b.breachId },
        h(
          'td',
          {},
          h('a', { href: `/review/breaches/${encodeURIComponent(b.breachId)}`, text: b.kpi.title }),
        ),
        h('td', { text: scopeText(b.scope) }),
        h('td', { text: d.ack }),
        h('td', { text: d.owner }),
        h('td', { text: d.step }),
        h('td', { text: d.silence }),
      )
    })
    $('response-section-body').replaceChildren(
      rows.length
        ? table(
            'Open breaches and their response',
            ['KPI', 'Scope', 'Acknowledgement', 'Owner', 'Escalation', 'Silence'],
            rows,
            'response-table',
          )
        : h('p', { class: 'empty', text: 'No open breach.' }),
    )

    const silences = await call('GET', '/api/silences?state=all&limit=50')
    const live = silences.silences.filter((s) => s.state !== 'ended')
    const sRows = live.map((s) =>
      h(
        'tr',
        { 'data-testid': 'silence-row' },
        h('td', { text: s.kpi || 'every KPI' }),
        h('td', { text: scopeText(s.scope) }),
        h('td', { text: `${s.state}, ${when(s.startsAt)} – ${when(s.endsAt)}` }),
        h('td', { text: `${s.author}: ${s.reason}` }),
        h(
          'td',
          {},
          h('button', {
            type: 'button',
            text: 'End now',
            onclick: (ev) =>
              call('POST', `/api/silences/${s.id}/expire`)
                .then(refresh)
                .catch((err) => {
                  ev.target.textContent = err.message
                }),
          }),
        ),
      ),
    )
    $('silences-section-body').replaceChildren(
      sRows.length
        ? table(
            'Active and pending silences',
            ['KPI', 'Scope', 'When', 'Author and reason', ''],
            sRows,
            'silences-table',
          )
        : h('p', { class: 'empty', text: 'No silence in force: every breach is delivered.' }),
    )
  }

  let formsFor
  async function refreshBreach(id) {
    const detail = $('breach-detail')
    if (!detail) return
    const section = panel('breach-response', 'Response')
    if (!section.isConnected) detail.append(section)
    const status = $('breach-response-status') || h('div', { id: 'breach-response-status', class: 'facts' })
    const message =
      $('breach-response-message') ||
      h('p', { id: 'breach-response-message', role: 'status', class: 'muted' })
    if (formsFor !== id) {
      formsFor = id
      const act = (path, body) =>
        call('POST', `/api/breaches/${encodeURIComponent(id)}/${path}`, body)
          .then(() => {
            message.textContent = `${path}: done`
            return refresh()
          })
          .catch((err) => {
            message.textContent = `${path}: ${err.message}`
          })
      const comment = h('textarea', { id: 'response-comment', rows: 2, 'aria-label': 'Comment' })
      const owner = h('input', { id: 'response-owner', type: 'text', 'aria-label': 'Owner' })
      const text = () => comment.value.trim()
      $('breach-response-body').replaceChildren(
        status,
        h(
          'form',
          { onsubmit: (ev) => ev.preventDefault() },
          h('label', { for: 'response-comment', text: 'Comment (optional for acknowledge)' }),
          comment,
          h('button', {
            type: 'button',
            text: 'Acknowledge',
            onclick: () => act('ack', text() ? { comment: text() } : {}),
          }),
          h('button', {
            type: 'button',
            text: 'Comment',
            onclick: () => act('comment', { comment: text() }),
          }),
          h('label', { for: 'response-owner', text: 'Owner' }),
          owner,
          h('button', {
            type: 'button',
            text: 'Assign',
            onclick: () => act('assign', { owner: owner.value.trim() }),
          }),
        ),
        message,
        h('div', { id: 'breach-response-actions' }),
      )
    }
    const data = await call('GET', `/api/breaches/${encodeURIComponent(id)}/actions`)
    const d = describe(data.response)
    status.replaceChildren(
      h('p', { 'data-testid': 'response-ack', text: d.ack }),
      h('p', { 'data-testid': 'response-owner', text: `Owner: ${d.owner}` }),
      h('p', { 'data-testid': 'response-escalation', text: `Escalation: ${d.step}` }),
      d.silence ? h('p', { text: d.silence }) : null,
    )
    const rows = data.actions.map((a) =>
      h(
        'tr',
        {},
        h('td', { text: when(a.at) }),
        h('td', { text: a.action }),
        h('td', { text: a.actor }),
        h('td', { text: [a.owner ? `owner ${a.owner}` : '', a.comment || ''].filter(Boolean).join(' · ') }),
      ),
    )
    $('breach-response-actions').replaceChildren(
      rows.length
        ? table('Actions on this breach', ['When', 'Action', 'Who', 'Detail'], rows, 'actions-table')
        : h('p', { class: 'muted', text: 'No action yet.' }),
    )
  }

  async function refresh() {
    const m = /^\/review\/breaches\/([^/]+)\/?$/.exec(location.pathname)
    try {
      if (m) await refreshBreach(decodeURIComponent(m[1]))
      else await refreshOverview()
    } catch {
      // A role that may not read a part, or a refresh that failed: the next one tries again.
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    void refresh()
    setInterval(() => void refresh(), REFRESH_MS)
  })
})()
