import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import fastifySwagger from '@fastify/swagger'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginOptions,
  type FastifyReply,
  type FastifyRequest,
  type RawServerDefault,
} from 'fastify'
import {
  type FastifyPluginAsyncZod,
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod'
import { loadConfig } from '../config/env.js'
import { errorMessage } from '../errors.js'
import type { Logger } from '../logger.js'
import { registerDefaultMetrics, registry } from '../metrics/registry.js'
import { Authenticator, type AuthOutcome } from './auth/authenticator.js'
import { access, hasAnyRole, type Principal, ROLES, type Role } from './auth/roles.js'
import { SESSION_COOKIE, SessionCodec } from './auth/session.js'
import { HttpError } from './errors.js'
import type { Health } from './health.js'
import { type HttpLimits, httpLimits, RateLimiter } from './limits.js'
import { httpMetrics } from './metrics.js'

/**
 * The one HTTP server of a process, on Fastify: `/healthz` and `/readyz` for probes (no credentials),
 * `/metrics` (the metrics role or admin), the session endpoints of the review page, and the areas a
 * service registers (the processor's read API and review page), each an encapsulated plugin.
 *
 * Where each concern lives:
 * - every response: security headers, the URL-size limit (414), the concurrency cap (503, probes
 *   excepted), metrics; one error handler (status by error class, never a stack or a query) and one
 *   not-found handler (405 with Allow when the path exists for another method, else 404);
 * - the application scope (everything but the probes): the per-client rate limit (429), then
 *   authentication and the route's declared roles (401/403). A route that declares no `access` cannot
 *   be registered, so nothing is served open by omission;
 * - node's parser and the limits given to it: 400 for unparsable requests, 431 for oversized headers,
 *   408 for requests sent too slowly, 413 for bodies over the limit.
 */

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: the roles it accepts, or 'public' (no credentials). Required. */
    access?: readonly Role[] | 'public'
    /** An HTML page: an anonymous browser is sent to /login instead of getting a 401. */
    page?: boolean
    /** A liveness or readiness probe: outside the concurrency cap and the rate limit. */
    probe?: boolean
  }
  interface FastifyRequest {
    /** The authenticated caller of a route that is not public. */
    auth?: { principal: Principal; source: 'bearer' | 'cookie'; exp?: number }
  }
}

export type HttpApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>
/** An area of routes and their hooks, registered as an encapsulated plugin under authentication. */
export type HttpArea<O extends FastifyPluginOptions> = FastifyPluginAsyncZod<O>

export interface HttpServerOptions {
  limits?: Partial<HttpLimits>
  /** Who may call what. Default: nobody (every route that is not public answers 401). */
  auth?: Authenticator
  /** Session cookies only over HTTPS (PUBLIC_BASE_URL is https). Default false. */
  secureCookies?: boolean
}

const SECURITY_HEADERS: Record<string, string> = {
  // The review page loads its script, styles and Chart.js from this server only, and talks only to it.
  'content-security-policy': [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
}

/** The reasons a rejected request is counted under when node's parser refuses it. */
function clientErrorReason(code: string | undefined): { status: number; reason: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'header_overflow' }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'timeout' }
  return { status: 400, reason: 'unparsable' }
}

function patternToRegExp(url: string): RegExp {
  const source = url
    .split('/')
    .map((seg) =>
      seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/')
  return new RegExp(`^${source}/?$`)
}

export class HttpServer {
  readonly app: HttpApp
  private readonly limits: HttpLimits
  private readonly auth: Authenticator
  private readonly metrics = httpMetrics()
  private readonly limiter: RateLimiter
  private readonly areas: { plugin: HttpArea<FastifyPluginOptions>; opts: FastifyPluginOptions }[] = []
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = []
  private inFlight = 0
  private started = false

  constructor(
    private readonly health: Health,
    private readonly log: Logger,
    options: HttpServerOptions = {},
  ) {
    registerDefaultMetrics()
    this.limits = { ...httpLimits(loadConfig({})), ...options.limits }
    this.auth = options.auth ?? new Authenticator({ tokens: [], sessions: new SessionCodec(undefined, 3600) })
    this.limiter = new RateLimiter(this.limits.rateLimitPerS, this.limits.rateLimitBurst)
    const L = this.limits
    const headersTimeout = Math.min(L.headersTimeoutMs, L.requestTimeoutMs)
    this.app = Fastify({
      logger: false,
      bodyLimit: L.bodyLimitBytes,
      requestTimeout: L.requestTimeoutMs,
      keepAliveTimeout: L.keepAliveTimeoutMs,
      // An idle socket (no bytes either way) is closed: covers a client that stops mid-body.
      connectionTimeout: L.requestTimeoutMs * 2,
      http: {
        maxHeaderSize: L.maxHeaderBytes,
        headersTimeout,
        requestTimeout: L.requestTimeoutMs,
        // How often node looks for requests past those timeouts (its default is 30 s).
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
      },
      routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
      return503OnClosing: true,
      forceCloseConnections: true,
      clientErrorHandler: (err, socket) => this.clientError(err, socket),
      // A path that cannot be decoded (bad %-escapes) or with an overlong parameter fails before
      // routing: a 400 or 414 that does not echo it.
      // (Hooks do not run for these, hence the headers here.)
      frameworkErrors: (err, _req, anyReply) => {
        const reply = anyReply as FastifyReply
        reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
        if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
          return reply.code(414).send({ error: 'a path segment is too long' })
        }
        const reasons = ['path: not a valid request path (e.g. a bad %-escape)']
        return reply.code(400).send({ error: 'bad request', reasons })
      },
    }).withTypeProvider<ZodTypeProvider>()
    // A client may end its side once the request is sent (nc, some proxies, `Connection: close` clients):
    // by default node then aborts a request still in progress and closes without an answer. With this
    // (node's own switch, not in its typings) the answer is sent and the socket closed after it.
    ;(this.app.server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true
    const app = this.app
    app.setValidatorCompiler(validatorCompiler)
    app.setSerializerCompiler(serializerCompiler)
    app.decorateRequest('auth', undefined)

    app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'AIMS/ISMS KPI pipeline read API',
          version: '1',
          description:
            'Current KPI values with thresholds and ISO/IEC 27001 / 42001 references, KPI history, breaches with their lifecycle and alert deliveries, and rejected events; plus the views behind the review page (scorecard, accuracy vs bias, the 72-hour rule, open nonconformities). Every operation needs a bearer credential (API token or OIDC JWT) or the review page session cookie; each lists the roles it accepts.',
        },
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'API token or OIDC JWT' },
            session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          },
        },
        security: [{ bearer: [] }, { session: [] }],
      },
      transform: (doc) => {
        if (!doc.url.startsWith('/api/') || doc.url === '/api/openapi.json') {
          return { schema: { ...doc.schema, hide: true }, url: doc.url }
        }
        const out = jsonSchemaTransform(doc)
        const roles = doc.route.config?.access
        if (Array.isArray(roles)) {
          const schema = out.schema as { description?: string }
          schema.description = `${schema.description ? `${schema.description} ` : ''}Roles: ${roles.join(', ')}.`
        }
        return out
      },
    })

    app.addHook('onRoute', (route) => {
      const acc = route.config?.access
      if (acc !== 'public' && !(Array.isArray(acc) && acc.length > 0)) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no access (roles or 'public')`)
      }
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const pattern = patternToRegExp(route.url ?? '/')
      const known = this.routes.find((r) => r.pattern.source === pattern.source)
      if (known) for (const m of methods) known.methods.add(m)
      else this.routes.push({ pattern, methods: new Set(methods) })
    })

    app.addHook('onRequest', async (req, reply) => {
      const target = req.raw.url ?? ''
      if (target.length > L.maxUrlBytes) {
        this.metrics.rejected.inc({ reason: 'url_too_long' })
        return reply.code(414).send({ error: `request target longer than ${L.maxUrlBytes} bytes` })
      }
      // Only a path (or an absolute URL): not `*` nor an authority, which the router would otherwise map to `/`.
      if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) {
        this.metrics.rejected.inc({ reason: 'unparsable' })
        return reply.code(400).send({ error: 'bad request', reasons: ['path: must start with /'] })
      }
      if (req.routeOptions.config?.probe) return
      this.inFlight++
      this.metrics.inFlight.set(this.inFlight)
      reply.raw.once('close', () => {
        this.inFlight--
        this.metrics.inFlight.set(this.inFlight)
      })
      if (this.inFlight > L.maxConcurrentRequests) {
        this.metrics.rejected.inc({ reason: 'overloaded' })
        return reply.code(503).header('retry-after', '1').send({ error: 'too many requests in progress' })
      }
    })

    app.addHook('onSend', async (_req, reply, payload) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v)
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
      return payload
    })

    app.addHook('onResponse', async (req, reply) => {
      const route = req.is404 ? 'unmatched' : (req.routeOptions.url ?? 'unmatched')
      this.metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) })
      this.metrics.duration.observe({ route }, reply.elapsedTime / 1000)
    })

    app.setErrorHandler((err, req, reply) => {
      if (hasZodFastifySchemaValidationErrors(err)) {
        const where =
          err.validationContext === 'params' ? 'path' : err.validationContext === 'body' ? 'body' : 'query'
        const reasons = err.validation.map((v) => {
          const keys = (v.params as { keys?: unknown }).keys
          if (v.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
            return `unknown ${where} parameter(s): ${keys.join(', ')}`
          }
          return `${v.instancePath.slice(1).replaceAll('/', '.') || where}: ${v.message}`
        })
        return reply.code(400).send({ error: 'bad request', reasons })
      }
      if (err instanceof HttpError) {
        return reply
          .code(err.statusCode)
          .send({ error: err.message, ...(err.reasons ? { reasons: err.reasons } : {}) })
      }
      const status = (err as { statusCode?: number }).statusCode
      if (status !== undefined && status >= 400 && status < 500) {
        // Fastify's own client errors (413 body too large, 415, a bad body or URL encoding): the status
        // text only, since their messages may quote the input.
        return reply.code(status).send({ error: (STATUS_CODES[status] ?? 'bad request').toLowerCase() })
      }
      this.log.error(
        { err: errorMessage(err), method: req.method, route: req.routeOptions.url ?? 'unmatched' },
        'request failed',
      )
      return reply.code(500).send({ error: 'internal error' })
    })

    app.setNotFoundHandler((req, reply) => {
      const path = (req.raw.url ?? '/').split('?')[0] ?? '/'
      const allowed = new Set<string>()
      for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) allowed.add(m)
      if (allowed.size > 0) {
        return reply
          .code(405)
          .header('allow', [...allowed].sort().join(', '))
          .send({ error: 'method not allowed' })
      }
      return reply.code(404).send({ error: 'not found' })
    })

    app.get('/healthz', { config: { access: 'public', probe: true } }, async () => ({ status: 'ok' }))
    app.get('/readyz', { config: { access: 'public', probe: true } }, async (req, reply) => {
      const report = this.health.report()
      // Component details (error messages, addresses) only for an admin; probes see ready or not.
      const out =
        req.headers.authorization || req.headers.cookie
          ? await this.auth.authenticate(req.headers)
          : undefined
      const detailed = out?.ok === true && out.principal.roles.has('admin')
      const components = Object.fromEntries(
        Object.entries(report.components).map(([name, c]) => [
          name,
          detailed ? c : { ready: c.ready, since: c.since },
        ]),
      )
      // status: ready, degraded (serving, something needs attention) or not_ready.
      return reply
        .code(report.ready ? 200 : 503)
        .send({ ready: report.ready, status: report.status, components })
    })

    app.register(async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        const wait = this.limiter.take(req.ip)
        if (wait > 0) {
          this.metrics.rejected.inc({ reason: 'rate_limited' })
          return reply.code(429).header('retry-after', String(wait)).send({ error: 'rate limited' })
        }
      })
      scope.addHook('onRequest', async (req, reply) => {
        const acc = req.routeOptions.config?.access
        if (acc === 'public') return
        const out: AuthOutcome = await this.auth.authenticate(req.headers)
        if (!out.ok) {
          this.metrics.authFailures.inc({ reason: out.reason })
          this.metrics.rejected.inc({ reason: 'unauthenticated' })
          if (req.routeOptions.config?.page && (req.method === 'GET' || req.method === 'HEAD')) {
            const path = (req.raw.url ?? '/').split('?')[0] ?? '/'
            return reply.redirect(`/login#next=${encodeURIComponent(path)}`, 303)
          }
          const challenge =
            out.reason === 'missing' ? 'Bearer realm="aims"' : 'Bearer realm="aims", error="invalid_token"'
          return reply
            .code(401)
            .header('www-authenticate', challenge)
            .send({ error: 'authentication required' })
        }
        req.auth = { principal: out.principal, source: out.source, ...(out.exp ? { exp: out.exp } : {}) }
        if (!acc || !hasAnyRole(out.principal, acc)) {
          this.metrics.rejected.inc({ reason: 'forbidden' })
          return reply.code(403).send({ error: 'forbidden for your role' })
        }
      })

      scope.get('/metrics', { config: { access: access.metrics } }, async (_req, reply) => {
        reply.header('content-type', registry.contentType)
        return registry.metrics()
      })

      // The review page exchanges a bearer credential (the login link's token, or a pasted one) for an
      // HttpOnly cookie once, so the secret is not kept in the page.
      scope.post('/auth/session', { config: { access: ROLES } }, async (req, reply) => {
        const auth = req.auth!
        if (auth.source !== 'bearer')
          throw new HttpError(400, 'sign in with an Authorization: Bearer credential')
        const { value, maxAgeS } = this.auth.sessions.issue(auth.principal, auth.exp)
        return reply
          .header('set-cookie', this.cookie(value, maxAgeS, options.secureCookies ?? false))
          .code(204)
          .send()
      })
      scope.post('/auth/logout', { config: { access: 'public' } }, async (_req, reply) =>
        reply
          .header('set-cookie', this.cookie('', 0, options.secureCookies ?? false))
          .code(204)
          .send(),
      )

      for (const area of this.areas) await scope.register(area.plugin, area.opts)
    })
  }

  private cookie(value: string, maxAgeS: number, secure: boolean): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`
  }

  /** Node's parser refused the request (or it came too slowly): answer if the socket still can, close. */
  private clientError(err: Error & { code?: string }, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    const { status, reason } = clientErrorReason(err.code)
    this.metrics.rejected.inc({ reason })
    if (socket.writable) {
      const body = JSON.stringify({ error: (STATUS_CODES[status] ?? 'bad request').toLowerCase() })
      const headers = Object.entries({
        ...SECURITY_HEADERS,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
        'cache-control': 'no-store',
        connection: 'close',
      })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('')
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${headers}\r\n${body}`)
    }
    socket.destroy()
  }

  /**
   * Registers an area (routes + their hooks) under the application scope: rate-limited and
   * authenticated by the roles each route declares. Areas must be registered before `listen`.
   */
  register<O extends FastifyPluginOptions>(plugin: HttpArea<O>, opts: O): this {
    if (this.started) throw new Error('HttpServer: register areas before listen()')
    this.areas.push({ plugin: plugin as unknown as HttpArea<FastifyPluginOptions>, opts })
    return this
  }

  async listen(host: string, port: number): Promise<{ url: string; port: number }> {
    this.started = true
    await this.app.listen({ host, port })
    this.app.server.maxConnections = this.limits.maxConnections
    // CONNECT (a tunnel request) is not served: answer it rather than drop the socket silently.
    this.app.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      this.metrics.rejected.inc({ reason: 'unparsable' })
      const body = JSON.stringify({ error: 'method not allowed' })
      socket.end(
        `HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      )
    })
    const addr = this.app.server.address() as AddressInfo
    const shownHost =
      host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
    return { url: `http://${shownHost}:${addr.port}`, port: addr.port }
  }

  async close(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.app.close()
  }
}

export type { FastifyReply, FastifyRequest }
