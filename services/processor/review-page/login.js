// Sign-in for the review page: exchanges a token for an HttpOnly session cookie (POST /auth/session),
// then opens the page. A login link carries the token in the URL fragment (`/login#token=...`), which
// browsers never send to a server; it is removed from the address bar and history before anything else.
;(() => {
  const status = document.getElementById('status')
  const form = document.getElementById('login-form')
  const input = document.getElementById('token')
  let next = '/'

  async function signIn(credential) {
    status.textContent = 'Signing in…'
    let res
    try {
      res = await fetch('/auth/session', {
        method: 'POST',
        headers: { authorization: `Bearer ${credential.trim()}` },
        credentials: 'same-origin',
        cache: 'no-store',
      })
    } catch {
      status.textContent = 'Could not reach the server.'
      return
    }
    if (res.status === 204) {
      location.replace(next)
      return
    }
    status.textContent =
      res.status === 401
        ? 'That token is not valid (or has expired).'
        : res.status === 403
          ? 'That token holds no role for the review page.'
          : res.status === 429
            ? 'Too many attempts: wait a moment and try again.'
            : `Sign-in failed (HTTP ${res.status}).`
    input.focus()
  }

  /** Reads `#token=...&next=...` (on load, and when a link is opened on this page). */
  function fromFragment() {
    if (!location.hash) return
    const params = new URLSearchParams(location.hash.slice(1))
    history.replaceState(null, '', location.pathname)
    const wanted = params.get('next') || next
    // Only a path on this site: never `//host` or a scheme (no open redirect).
    next = /^\/(?![/\\])[^\s\\]*$/.test(wanted) ? wanted : '/'
    const token = params.get('token')
    if (token) void signIn(token)
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    if (input.value.trim()) void signIn(input.value)
  })
  window.addEventListener('hashchange', fromFragment)
  fromFragment()
  input.focus()
})()
