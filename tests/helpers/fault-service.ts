import { runService } from '../../shared/service.js'

/**
 * A process started through the real `runService`, with routes that fail the three ways code can fail:
 * inside a request handler, as a promise nobody awaits, and as an exception thrown outside any request.
 * The process-level test drives it; nothing else uses it.
 */
await runService('fault-service', async ({ http }) => {
  http.register(async (app) => {
    const admin = { config: { access: ['admin'] as const } }
    app.post('/fault/handler', admin, async () => {
      throw new Error('a bug inside one request')
    })
    app.post('/fault/rejection', admin, async () => {
      void Promise.reject(new Error('a promise nobody awaited'))
      return { ok: true }
    })
    app.post('/fault/exception', admin, async () => {
      setImmediate(() => {
        throw new Error('thrown outside any request')
      })
      return { ok: true }
    })
  }, {})
  return { async stop() {} }
})
