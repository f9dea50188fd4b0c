// Review page: the management review packs (clause 9.3), newest first, each linked to its frozen page.
// Shown to the roles that may read packs (executive, auditor, admin); for any other role the API answers
// 403 and the section and its link stay hidden. Loaded once: packs are made rarely and never change.
;(() => {
  const $ = (id) => document.getElementById(id)

  function cell(text) {
    const td = document.createElement('td')
    td.textContent = text
    return td
  }

  async function load() {
    const res = await fetch('/api/review-packs?limit=20', {
      cache: 'no-store',
      headers: { accept: 'application/json' },
    })
    if (!res.ok) return
    const { packs } = await res.json()
    const body = $('packs-body')
    body.replaceChildren(
      ...packs.map((p) => {
        const tr = document.createElement('tr')
        const link = document.createElement('a')
        link.href = `/api/review-packs/${encodeURIComponent(p.packId)}?format=html`
        link.target = '_blank'
        link.rel = 'noopener'
        link.textContent = p.period
        const first = document.createElement('td')
        first.append(link)
        tr.append(
          first,
          cell(p.generatedAt.replace('T', ' ').slice(0, 16)),
          cell(p.reviewed ? 'Recorded' : 'Not yet'),
          cell(p.sha256.slice(0, 16)),
        )
        return tr
      }),
    )
    $('packs-empty').hidden = packs.length > 0
    $('packs-section').hidden = false
    const nav = document.querySelector('nav.sections a[href="/#packs-section"]')
    if (nav) nav.hidden = false
  }

  document.addEventListener('DOMContentLoaded', () => void load().catch(() => undefined))
})()
