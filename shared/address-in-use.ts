/**
 * What to tell a person whose process cannot listen because the address is taken: most often the same
 * service started twice (a second `npm start`). The process on the port is asked for its /healthz: an
 * answer means another instance is running there, and the message says where.
 */
export async function explainAddressInUse(
  host: string,
  port: number,
  portVariable = 'HTTP_PORT',
  fetchImpl: typeof fetch = fetch,
): Promise<string> {
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`
  let ours = false
  try {
    const res = await fetchImpl(`${url}/healthz`, { signal: AbortSignal.timeout(1_500) })
    ours = res.ok && ((await res.json()) as { status?: unknown }).status === 'ok'
  } catch {
    // not HTTP, or not answering: some other program
  }
  return ours
    ? `another instance is running at ${url}/ (its /healthz answers): stop it first, or give this one another ${portVariable}`
    : `${host}:${port} is in use by another program: stop it, or set ${portVariable} to a free port (0 picks one)`
}
