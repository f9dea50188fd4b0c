import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { HttpResponse, HttpServer } from '../../../shared/http/server.js'
import type { Logger } from '../../../shared/logger.js'
import { mountViews, type ViewsDeps } from '../views.js'

/**
 * The live review page: one static HTML page, its CSS and script, and Chart.js (served from
 * node_modules, no CDN), all read once at start-up; the page polls the read API and the views API
 * (`views.ts`, mounted here too) every few seconds. Routes:
 * - `GET /` the page; `GET /review/breaches/:id` the same page opened on one breach (alerts link here);
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

const ASSETS: Record<string, { file: () => string; type: string; cache: string }> = {
  'page.css': { file: () => join(HERE, 'page.css'), type: 'text/css; charset=utf-8', cache: 'no-cache' },
  'page.js': {
    file: () => join(HERE, 'page.js'),
    type: 'text/javascript; charset=utf-8',
    cache: 'no-cache',
  },
  'chart.umd.js': {
    file: chartJsPath,
    type: 'text/javascript; charset=utf-8',
    cache: 'public, max-age=86400',
  },
}

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

function load(file: string, log: Logger | undefined): Buffer | undefined {
  try {
    return readFileSync(file)
  } catch (err) {
    log?.error({ err, file }, 'review page asset missing: the page will answer 503')
    return undefined
  }
}

export function mountReviewPage(http: HttpServer, deps: ReviewPageDeps): void {
  mountViews(http, deps)

  const html = load(join(HERE, 'page.html'), deps.log)
  const assets = new Map<string, { body: Buffer | undefined; type: string; cache: string }>()
  for (const [name, a] of Object.entries(ASSETS)) {
    assets.set(name, { body: load(a.file(), deps.log), type: a.type, cache: a.cache })
  }

  const page = (): HttpResponse =>
    html
      ? {
          status: 200,
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-cache',
            'content-security-policy': CSP,
            ...SECURITY_HEADERS,
          },
          body: html,
        }
      : { status: 503, body: 'review page not installed (page.html missing)' }

  http.route('GET', '/', page)
  http.route('GET', '/review', page)
  http.route('GET', '/review/breaches/:id', page)
  http.route('GET', '/assets/:file', (req) => {
    const asset = assets.get(req.params.file ?? '')
    if (!asset || !Object.hasOwn(ASSETS, req.params.file ?? '')) {
      return { status: 404, headers: SECURITY_HEADERS, body: 'not found' }
    }
    if (!asset.body) return { status: 503, body: 'asset not installed' }
    return {
      status: 200,
      headers: { 'content-type': asset.type, 'cache-control': asset.cache, ...SECURITY_HEADERS },
      body: asset.body,
    }
  })
}
