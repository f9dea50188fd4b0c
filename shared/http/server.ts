import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../logger.js'
import { registerDefaultMetrics, registry } from '../metrics/registry.js'
import type { Health } from './health.js'

/**
 * The one HTTP server of a process: `/metrics`, `/healthz`, `/readyz`, plus whatever routes the
 * services mount (the processor's read API and review page). Plain node:http keeps it dependency-free.
 */

export interface HttpRequest {
  method: string
  path: string
  query: URLSearchParams
  params: Record<string, string>
  raw: IncomingMessage
}

export interface HttpResponse {
  status: number
  headers?: Record<string, string>
  body: unknown
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse

interface Route {
  method: string
  pattern: RegExp
  keys: string[]
  handler: Handler
}

export class HttpServer {
  private readonly routes: Route[] = []
  private server?: Server

  constructor(
    private readonly health: Health,
    private readonly log: Logger,
  ) {
    registerDefaultMetrics()
    this.route('GET', '/healthz', () => ({ status: 200, body: { status: 'ok' } }))
    this.route('GET', '/readyz', () => {
      const report = this.health.report()
      return { status: report.ready ? 200 : 503, body: report }
    })
    this.route('GET', '/metrics', async () => ({
      status: 200,
      headers: { 'content-type': registry.contentType },
      body: await registry.metrics(),
    }))
  }

  /** Mounts a handler; `:name` segments become `req.params.name`. */
  route(method: string, path: string, handler: Handler): this {
    const keys: string[] = []
    const source = path.replace(/:([A-Za-z_]+)/g, (_, k: string) => {
      keys.push(k)
      return '([^/]+)'
    })
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), keys, handler })
    return this
  }

  async listen(host: string, port: number): Promise<{ url: string; port: number }> {
    this.server = createServer((req, res) => void this.dispatch(req, res))
    this.server.keepAliveTimeout = 5_000
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject)
      this.server!.listen(port, host, () => resolve())
    })
    const addr = this.server.address() as AddressInfo
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
    return { url: `http://${shownHost}:${addr.port}`, port: addr.port }
  }

  async close(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    let out: HttpResponse
    try {
      const match = this.match(method === 'HEAD' ? 'GET' : method, url.pathname)
      out = match
        ? await match.route.handler({
            method,
            path: url.pathname,
            query: url.searchParams,
            params: match.params,
            raw: req,
          })
        : { status: 404, body: { error: `no route for ${method} ${url.pathname}` } }
    } catch (err) {
      this.log.error({ err, path: url.pathname }, 'http handler failed')
      out = { status: 500, body: { error: 'internal error' } }
    }
    const isText = typeof out.body === 'string' || Buffer.isBuffer(out.body)
    const payload = isText ? (out.body as string | Buffer) : JSON.stringify(out.body)
    res.writeHead(out.status, {
      'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      ...out.headers,
    })
    res.end(method === 'HEAD' ? undefined : payload)
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue
      const m = route.pattern.exec(path)
      if (!m) continue
      const params: Record<string, string> = {}
      route.keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1] ?? '')
      })
      return { route, params }
    }
    return undefined
  }
}
