import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { type AddressInfo, createServer as createNetServer } from 'node:net'

/** A real HTTP server standing in for a remote endpoint (webhook receiver, PagerDuty, Slack). */

export interface ReceivedRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: string
  /** Date.now() when the body was complete. */
  at: number
}

export type Reply = { status: number; headers?: Record<string, string>; body?: string } | { hold: true }
export type ReplyFn = (req: ReceivedRequest, index: number) => Reply | Promise<Reply>

/** A port nothing listens on right now (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createNetServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const { port } = srv.address() as AddressInfo
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

export class HttpReceiver {
  readonly requests: ReceivedRequest[] = []
  private readonly held = new Set<ServerResponse>()
  private waiters: (() => void)[] = []

  private constructor(
    private readonly server: Server,
    readonly port: number,
    public reply: ReplyFn,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Starts on `port` (0: a free one). Default reply: 200 "ok". */
  static async start(reply: ReplyFn = () => ({ status: 200, body: 'ok' }), port = 0): Promise<HttpReceiver> {
    let self: HttpReceiver | undefined
    const server = createServer((req, res) => void self!.handle(req, res))
    server.keepAliveTimeout = 1000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
    self = new HttpReceiver(server, (server.address() as AddressInfo).port, reply)
    return self
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v
    const received: ReceivedRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
      at: Date.now(),
    }
    const index = this.requests.push(received) - 1
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
    let out: Reply
    try {
      out = await this.reply(received, index)
    } catch {
      out = { status: 500, body: 'receiver reply threw' }
    }
    if ('hold' in out) {
      this.held.add(res)
      res.on('close', () => this.held.delete(res))
      return
    }
    res.writeHead(out.status, { 'content-type': 'text/plain', ...out.headers })
    res.end(out.body ?? '')
  }

  /** Resolves once `predicate` holds over the requests received so far. */
  async waitFor(
    what: string,
    predicate: (reqs: ReceivedRequest[]) => boolean,
    timeoutMs = 20_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!predicate(this.requests)) {
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(
          `receiver: timed out after ${timeoutMs} ms waiting for ${what} (got ${this.requests.length} requests)`,
        )
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200))
        this.waiters.push(() => {
          clearTimeout(t)
          r()
        })
      })
    }
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((r) => this.server.close(() => r()))
  }
}
