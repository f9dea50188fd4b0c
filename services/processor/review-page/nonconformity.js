// Breach → nonconformity on the breach page (/review/breaches/:id): the audit finding the breach opened,
// or a form to open one now (POST /api/breaches/:id/nonconformity; security, auditors and admins).
// Kept apart from page.js: it reads the breach from the API itself and renders into #breach-nonconformity.
;(() => {
  const PATH = /^\/review\/breaches\/([^/]+)$/
  const KINDS = { major_nc: 'major nonconformity', minor_nc: 'minor nonconformity' }
  let shown = null

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag)
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v)
    for (const c of children) if (c !== null && c !== undefined) node.append(c)
    return node
  }
  const day = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : '—')

  function breachId() {
    const m = PATH.exec(location.pathname)
    return m ? decodeURIComponent(m[1]) : null
  }

  async function refresh() {
    const box = document.getElementById('breach-nonconformity')
    const id = breachId()
    if (!box || id === null) return
    let detail
    try {
      const res = await fetch(`/api/breaches/${encodeURIComponent(id)}`, {
        cache: 'no-store',
        headers: { accept: 'application/json' },
      })
      if (!res.ok) return
      detail = await res.json()
    } catch {
      return
    }
    if (breachId() !== id) return
    render(box, id, detail.nonconformity || null)
  }

  function render(box, id, nc) {
    const key = JSON.stringify([id, nc])
    if (key === shown) return
    shown = key
    if (nc) {
      const parts = [
        el('h3', {}, 'Nonconformity'),
        el(
          'p',
          { 'data-testid': 'nc-finding' },
          el('strong', {}, nc.findingId),
          ` · ${KINDS[nc.kind] || nc.kind} · ${nc.standard} ${nc.clause} · raised ${day(nc.raisedAt)} · corrective action due ${day(nc.dueAt)}`,
        ),
        nc.repeatOf ? el('p', { 'data-testid': 'nc-repeat' }, `Repeat of ${nc.repeatOf}`) : null,
        el(
          'p',
          { class: 'muted' },
          `Opened ${nc.openedBy === 'timer' ? 'when the breach had been critical for the configured time' : `on request by ${nc.requestedBy || 'unknown'}`}; cites ${nc.references.join(', ')}.`,
        ),
      ]
      // replaceChildren would write a null as the text "null".
      box.replaceChildren(...parts.filter((p) => p !== null))
      return
    }
    const reason = el('input', {
      type: 'text',
      id: 'nc-reason',
      maxlength: '300',
      placeholder: 'Why (optional, one line)',
      'aria-label': 'Why a nonconformity is opened (optional)',
    })
    const button = el('button', { type: 'submit', class: 'nc-open' }, 'Open a nonconformity')
    const note = el('p', { class: 'muted', role: 'status', 'data-testid': 'nc-status' })
    const form = el('form', { class: 'nc-form' }, reason, button)
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      button.disabled = true
      note.textContent = 'Opening…'
      const text = reason.value.trim()
      try {
        const res = await fetch(`/api/breaches/${encodeURIComponent(id)}/nonconformity`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(text ? { reason: text } : {}),
        })
        if (res.ok) {
          shown = null
          await refresh()
          return
        }
        const body = await res.json().catch(() => ({}))
        note.textContent =
          res.status === 403
            ? 'Your role cannot open nonconformities (security, auditor or admin can).'
            : `Not opened: ${body.reasons ? body.reasons.join('; ') : body.error || `HTTP ${res.status}`}`
      } catch (err) {
        note.textContent = `Not opened: ${err.message}`
      }
      button.disabled = false
    })
    box.replaceChildren(
      el('h3', {}, 'Nonconformity'),
      el(
        'p',
        {},
        'None yet. A breach that stays critical past the configured time opens one; you can open it now.',
      ),
      form,
      note,
    )
  }

  setInterval(refresh, 5000)
  window.addEventListener('popstate', () => setTimeout(refresh, 0))
  document.addEventListener('click', (e) => {
    if (e.target instanceof Element && e.target.closest('a[href^="/review/breaches/"]'))
      setTimeout(refresh, 50)
  })
  refresh()
})()
