/*
 * The review page's one way to call the API for the sections that act (response.js, review-packs.js):
 * JSON in and out, the session cookie carried by the browser; a failed answer throws an Error whose
 * message is the server's error and reasons and whose `status` is the HTTP status (undefined when the
 * request never got an answer). Classic script, loaded before them: sets window.aimsApi.
 */
;(() => {
  /** The answer's status and JSON body. */
  async function request(method, url, body) {
    const res = await fetch(url, {
      method,
      cache: 'no-store',
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    })
    const data = await res.json().catch(() => ({}))
    if (!res.ok) {
      const err = new Error(
        [data.error, ...(data.reasons || [])].filter(Boolean).join(': ') || `HTTP ${res.status}`,
      )
      err.status = res.status
      throw err
    }
    return { status: res.status, data }
  }

  window.aimsApi = {
    request,
    /** The JSON body alone. */
    call: async (method, url, body) => (await request(method, url, body)).data,
  }
})()
