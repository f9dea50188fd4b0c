// Review page: the management review packs (clause 9.3), newest first, each linked to its frozen page.
// Shown to the roles that may read packs (executive, auditor, admin); for any other role the API answers
// 403 and the section and its link stay hidden. Readers verify a pack from its row; the roles that may
// generate (the list says so: canGenerate) get the form. Both can outlast a request: a 202 answer names a
// job, followed here until it ends (services/review-pack/jobs.ts).
;(() => {
  const $ = (id) => document.getElementById(id)
  const POLL_MS = 2000
  /** A quarter over a large history takes minutes; the page stops following after this long. */
  const GIVE_UP_MS = 60 * 60 * 1000

  function cell(text) {
    const td = document.createElement('td')
    td.textContent = text
    return td
  }

  function say(text) {
    $('packs-message').textContent = text
  }

  const call = window.aimsApi.request

  /** The result of a heavy request: at once (200/201), or by following its job (202). */
  async function outcome(answer) {
    if (answer.status !== 202) return answer.data
    const started = Date.now()
    while (Date.now() - started < GIVE_UP_MS) {
      await new Promise((r) => setTimeout(r, POLL_MS))
      let job
      try {
        job = (await call('GET', answer.data.poll)).data
      } catch (err) {
        // A network blip, a restart (5xx) or the rate limit (429) does not end the job: ask again.
        if (err.status === undefined || err.status >= 500 || err.status === 429) continue
        throw err
      }
      if (job.status === 'done') return job.result
      if (job.status === 'failed') throw new Error(job.error)
    }
    throw new Error(`still running after an hour (job ${answer.data.jobId}); its result will be in the list`)
  }

  let busy = false
  async function run(what, start, done) {
    if (busy) return
    busy = true
    $('packs-generate-button').disabled = true
    for (const b of document.querySelectorAll('#packs-body button')) b.disabled = true
    say(`${what}: running…`)
    try {
      say(done(await outcome(await start())))
    } catch (err) {
      say(`${what}: ${err.message}`)
    } finally {
      busy = false
      $('packs-generate-button').disabled = false
      await load().catch(() => undefined)
    }
  }

  function verifyButton(p) {
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'packs-button'
    button.textContent = 'Verify'
    button.dataset.testid = 'pack-verify'
    button.addEventListener('click', () =>
      run(
        `Verify ${p.period}`,
        () => call('GET', `/api/review-packs/${encodeURIComponent(p.packId)}/verify`),
        (r) => {
          const redefined = r.notes.length
            ? ` ${r.notes.length} figure(s) were computed under a KPI definition that has changed since: not compared (${r.notes[0]}${r.notes.length > 1 ? '; …' : ''}).`
            : ''
          return r.ok
            ? `Pack ${p.packId} verified: ${r.figures} figures recomputed, no difference, chain intact.${redefined}`
            : `Pack ${p.packId} does NOT verify: ${r.differences.join('; ')}${redefined}`
        },
      ),
    )
    const td = document.createElement('td')
    td.append(button)
    return td
  }

  async function load() {
    const res = await fetch('/api/review-packs?limit=20', {
      cache: 'no-store',
      headers: { accept: 'application/json' },
    })
    if (!res.ok) return
    const { packs, canGenerate } = await res.json()
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
          verifyButton(p),
        )
        for (const b of tr.querySelectorAll('button')) b.disabled = busy
        return tr
      }),
    )
    $('packs-empty').hidden = packs.length > 0
    $('packs-generate').hidden = !canGenerate
    $('packs-section').hidden = false
    const nav = document.querySelector('nav.sections a[href="/#packs-section"]')
    if (nav) nav.hidden = false
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('packs-generate').addEventListener('submit', (ev) => {
      ev.preventDefault()
      const period = $('packs-period').value.trim()
      run(
        `Generate ${period}`,
        () => call('POST', '/api/review-packs', { period }),
        (r) => `Pack ${r.packId} generated: ${r.figures} figures, frozen (sha256 ${r.sha256.slice(0, 16)}…).`,
      )
    })
    void load().catch(() => undefined)
  })
})()
