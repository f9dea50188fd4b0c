import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { access } from '../../../shared/http/auth/roles.js'
import type { FastifyReply, HttpArea, HttpServer } from '../../../shared/http/server.js'
import type { Logger } from '../../../shared/logger.js'
import { mountRegimeClocksView } from '../regime-clocks-view.js'
import { mountViews, type ViewsDeps } from '../views.js'

/**
 * The live review page: one static HTML page, its CSS and script, and Chart.js (served from
 * node_modules, no CDN), all read once at start-up; the page polls the read API and the views API
 * (`views.ts`, mounted here too) every few seconds. Routes:
 * - `GET /` the page; `GET /review/breaches/:id` the same page opened on one breach (alerts link here);
 *   a browser without a session is sent to `/login`;
 * - `GET /login` (public) the sign-in page: it exchanges the token of a login link
 *   (`/login#token=...`, the fragment never reaches a server) or a pasted one for a session cookie;
 * - `GET /assets/:file` only the files listed below, so no path ever reaches the file system.
 */

export interface ReviewPageDeps extends ViewsDeps {
  log?: Logger
}

const HERE = dirname(fileURLToPath(import.meta.url))

/** The Chart.js UMD build (a global `Chart`), located through the package's own resolution. */
export function chartJsPath(): string {
  const main = createRequire(import.meta.url).resolve('chart.js') // …/chart.js/dist/chart.cjs
  return join(dirname(main), 'chart.umd.js')
}

interface Asset {
  file: () => string
  type: string
  cache: string
}

const CSS = 'text/css; charset=utf-8'
const JS = 'text/javascript; charset=utf-8'
/** Behind authentication, like the page. */
const ASSETS: Record<string, Asset> = {
  'page.css': { file: () => join(HERE, 'page.css'), type: CSS, cache: 'no-cache' },
  'page.js': { file: () => join(HERE, 'page.js'), type: JS, cache: 'no-cache' },
  'regime-clocks.js': { file: () => join(HERE, 'regime-clocks.js'), type: JS, cache: 'no-cache' },
  'nonconformity.js': { file: () => join(HERE, 'nonconformity.js'), type: JS, cache: 'no-cache' },
  'api-client.js': { file: () => join(HERE, 'api-client.js'), type: JS, cache: 'no-cache' },
  'response.js': { file: () => join(HERE, 'response.js'), type: JS, cache: 'no-cache' },
  'review-packs.js': { file: () => join(HERE, 'review-packs.js'), type: JS, cache: 'no-cache' },
  'chart.umd.js': { file: chartJsPath, type: JS, cache: 'private, max-age=86400' },
}
/** What the sign-in page needs before there is a session. */
const LOGIN_ASSETS: Record<string, Asset> = {
  'login.css': { file: () => join(HERE, 'login.css'), type: CSS, cache: 'no-cache' },
  'login.js': { file: () => join(HERE, 'login.js'), type: JS, cache: 'no-cache' },
}

function load(file: string, log: Logger | undefined): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch (err) {
    log?.error({ err, file }, 'review page asset missing: the page will answer 503')
    return undefined
  }
}

const reviewPage: HttpArea<ReviewPageDeps> = async (app, deps) => {
  const loaded = (list: Record<string, Asset>) =>
    new Map(Object.entries(list).map(([name, a]) => [name, { ...a, body: load(a.file(), deps.log) }]))
  const assets = loaded(ASSETS)
  const loginAssets = loaded(LOGIN_ASSETS)
  const html = load(join(HERE, 'page.html'), deps.log)
  const loginHtml = load(join(HERE, 'login.html'), deps.log)

  const sendHtml = (reply: FastifyReply, body: Buffer | undefined, what: string) =>
    body
      ? reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(body)
      : reply.code(503).type('text/plain; charset=utf-8').send(`review page not installed (${what} missing)`)
  const sendAsset = (
    reply: FastifyReply,
    asset: (Asset & { body: Buffer | undefined }) | undefined,
  ): FastifyReply => {
    if (!asset) return reply.code(404).send({ error: 'not found' })
    if (!asset.body) return reply.code(503).type('text/plain; charset=utf-8').send('asset not installed')
    return reply.type(asset.type).header('cache-control', asset.cache).send(asset.body)
  }

  const page = { config: { access: access.anyReader, page: true } } as const
  app.get('/', page, async (_req, reply) => sendHtml(reply, html, 'page.html'))
  app.get('/review', page, async (_req, reply) => sendHtml(reply, html, 'page.html'))
  app.get('/review/breaches/:id', page, async (_req, reply) => sendHtml(reply, html, 'page.html'))
  app.get('/login', { config: { access: 'public' } }, async (_req, reply) =>
    sendHtml(reply, loginHtml, 'login.html'),
  )
  for (const name of loginAssets.keys()) {
    app.get(`/assets/${name}`, { config: { access: 'public' } }, async (_req, reply) =>
      sendAsset(reply, loginAssets.get(name)),
    )
  }
  app.get(
    '/assets/:file',
    { schema: { params: z.object({ file: z.string() }) }, config: { access: access.anyReader } },
    async (req, reply) =>
      sendAsset(reply, Object.hasOwn(ASSETS, req.params.file) ? assets.get(req.params.file) : undefined),
  )
}

export function mountReviewPage(http: HttpServer, deps: ReviewPageDeps): void {
  mountViews(http, deps)
  mountRegimeClocksView(http, deps)
  http.register(reviewPage, deps)
}
