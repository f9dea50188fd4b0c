/**
 * A small ClickHouse server of the project's own: one process owns an embedded chDB data folder and serves
 * the part of ClickHouse's HTTP interface that `@clickhouse/client` uses, so several processes can share
 * one ClickHouse through `CLICKHOUSE_URL` exactly as they would share a real server (chDB itself binds a
 * folder to a single process).
 *
 * Fidelity notes, where chDB and a real server differ and what this file does about it:
 * - chDB runs every statement of a multi-statement text; a real HTTP server refuses them. Statements are
 *   scanned here and a second statement is rejected with the server's own SYNTAX_ERROR.
 * - chDB keeps `SET` and `USE` on its connection for good; over HTTP both last one request. Settings from
 *   the URL are applied before each query and undone when a later request does not ask for them, and a
 *   client's own `SET`/`USE` is rolled back after it runs.
 * - chDB has no per-request database; the `database` parameter becomes a `USE` when it differs.
 * - Query parameters arrive already in ClickHouse's text form (`param_x=it\'s`). chDB's public bind API
 *   would escape them a second time, so they go to the engine's native bind entry point unchanged.
 * - Statements run on a pool of chDB sessions over the same folder (`sessions`, default 4), one statement
 *   per session at a time, so a long insert does not hold a point query behind it, as on a real server.
 *   Each session carries its own database and settings state, reset per request as above.
 *
 * Not supported: sessions (`session_id` is accepted, every request is sessionless), external-data tables in
 * multipart bodies, the `compress`/`decompress` native-compression flags, progress headers, query
 * cancellation by `query_id`, `readonly=1` constraints beyond refusing modifying statements, and the user
 * and access model (any user name is accepted; an optional password is checked).
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import type { AddressInfo, Socket } from 'node:net'
import { hostname } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import zlib from 'node:zlib'
import type { Logger } from '../../shared/logger.js'

export interface LocalClickHouseServerOptions {
  /** chDB data folder; created if missing. Only one process may hold it. */
  dataDir: string
  /** Address to bind. Default 127.0.0.1: this server has no access model worth exposing. */
  host?: string
  /** Port to bind; 0 picks a free one. Default 0. */
  port?: number
  /** When set, every request must carry this password (any user name is accepted). */
  password?: string
  /** Largest request body accepted, after decompression. Default 256 MiB. */
  maxRequestBytes?: number
  /** chDB sessions serving requests concurrently. Default 4. */
  sessions?: number
  /**
   * Serve HTTPS with this PEM certificate and key (paths); with `ca`, clients must also present a
   * certificate signed by it (mutual TLS). Default plain HTTP.
   */
  tls?: { cert: string; key: string; ca?: string }
  log?: Logger
}

export interface LocalClickHouseServer {
  url: string
  port: number
  /** Stops accepting, lets running requests finish (briefly), drops kept-alive sockets, closes chDB. */
  stop(): Promise<void>
}

const DEFAULT_MAX_REQUEST_BYTES = 256 * 1024 * 1024
// A real server holds back the first DBMS_DEFAULT_BUFFER_SIZE bytes of a result, so an error early in a
// query still gets a proper status code; the same here.
const RESPONSE_HOLD_BYTES = 1024 * 1024
const STOP_GRACE_MS = 5_000
/** ClickHouse's default http_max_uri_size. */
const MAX_URI_BYTES = 1024 * 1024

// --- ClickHouse errors -------------------------------------------------------------------------------

/** Error codes this file raises itself, numbered as in ClickHouse's ErrorCodes.cpp. */
const Code = {
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  SYNTAX_ERROR: 62,
  UNKNOWN_TYPE_OF_QUERY: 78,
  UNKNOWN_COMPRESSION_METHOD: 89,
  UNKNOWN_SETTING: 115,
  READONLY: 164,
  QUERY_IS_TOO_LARGE: 229,
  CANNOT_DECOMPRESS: 271,
  INTO_OUTFILE_NOT_ALLOWED: 358,
  AUTHENTICATION_FAILED: 516,
  UNKNOWN_EXCEPTION: 1002,
} as const
type CodeName = keyof typeof Code

// exceptionCodeToHTTPStatus.cpp of ClickHouse, by code. Everything else is 500.
const statusByCode = new Map<number, number>([
  [194, 401], // REQUIRED_PASSWORD
  ...[192, 193, 516, 512, 497].map((c) => [c, 403] as [number, number]), // UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE, ACCESS_DENIED
  // BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP, CANNOT_PARSE_* (text, escape, quoted, date, datetime, number, domain,
  // IPv4, IPv6, input assertion, UUID), DUPLICATE_COLUMN, ILLEGAL_COLUMN, UNKNOWN_ELEMENT_IN_AST,
  // UNKNOWN_TYPE_OF_AST_NODE, THERE_IS_NO_COLUMN, TOO_DEEP_AST, TOO_BIG_AST, UNEXPECTED_AST_STRUCTURE,
  // SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  ...[
    36, 427, 6, 25, 26, 38, 41, 72, 441, 675, 676, 27, 376, 15, 44, 37, 123, 8, 167, 168, 223, 62, 117, 53,
    321,
  ].map((c) => [c, 400] as [number, number]),
  // UNKNOWN_TABLE, UNKNOWN_FUNCTION, UNKNOWN_IDENTIFIER, UNKNOWN_TYPE, UNKNOWN_STORAGE, UNKNOWN_DATABASE,
  // UNKNOWN_SETTING, UNKNOWN_DIRECTION_OF_SORTING, UNKNOWN_AGGREGATE_FUNCTION, UNKNOWN_FORMAT,
  // UNKNOWN_DATABASE_ENGINE, UNKNOWN_TYPE_OF_QUERY, UNKNOWN_ROLE
  ...[60, 46, 47, 50, 56, 81, 115, 152, 63, 73, 336, 78, 511].map((c) => [c, 404] as [number, number]),
  [229, 413], // QUERY_IS_TOO_LARGE
  [48, 501], // NOT_IMPLEMENTED
  [209, 503], // SOCKET_TIMEOUT
  [76, 503], // CANNOT_OPEN_FILE
  [381, 411], // HTTP_LENGTH_REQUIRED
  [159, 408], // TIMEOUT_EXCEEDED
  [439, 503], // CANNOT_SCHEDULE_TASK
  [779, 415], // UNSUPPORTED_MEDIA_TYPE
])

/** An exception raised by this server in ClickHouse's shape. */
class ServerException extends Error {
  constructor(
    readonly code: number,
    readonly typeName: string,
    detail: string,
  ) {
    super(`Code: ${code}. DB::Exception: ${detail}. (${typeName})`)
  }
}

function raise(name: CodeName, detail: string): never {
  throw new ServerException(Code[name], name, detail)
}

/** The exception text and code of anything thrown while serving, chDB's errors verbatim. */
function describeError(err: unknown, version: string): { code: number; text: string } {
  const raw = err instanceof Error ? err.message : String(err)
  // The synchronous native entry points prefix their messages; the server's text never has it.
  const message = raw.replace(/^Query failed: /, '').trim()
  const m = /^Code: (\d+)\. /.exec(message)
  if (!m) {
    return {
      code: Code.UNKNOWN_EXCEPTION,
      text: `Code: ${Code.UNKNOWN_EXCEPTION}. DB::Exception: ${message}. (UNKNOWN_EXCEPTION) (version ${version})`,
    }
  }
  const text = /\(version [^()]*(?:\([^()]*\))?\)$/.test(message)
    ? message
    : `${message} (version ${version})`
  return { code: Number(m[1]), text }
}

// --- SQL scanning ------------------------------------------------------------------------------------

interface SqlShape {
  /** First keyword, upper-case ('' when the text holds no statement). */
  kind: string
  /** Offset of the `;` that ends the first of several statements, or -1. */
  secondStatementAt: number
  /** INSERT with inline data: the statement ends at `headEnd`, its data starts at `dataStart`. */
  insertData?: { via: 'FORMAT' | 'VALUES'; headEnd: number; dataStart: number }
  /** Name after a trailing `FORMAT` of a query. */
  outputFormat?: string
  /** SET statements: the setting names assigned, as written (setting names are case-sensitive). */
  assigned: string[]
  intoOutfile: boolean
  fromInfile: boolean
}

const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13)
// ClickHouse's lexer counts every byte >= 0x80 as part of a word, so UTF-8 identifiers are words too.
const isWordChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128

/**
 * Tokenises just enough of ClickHouse's SQL (comments, quoted strings and names, heredocs, words) to find
 * what the HTTP layer needs: the statement kind, a second statement, where an INSERT's inline data
 * begins, and the output format. Inline data after `FORMAT <name>` is never read, so binary data and
 * large bodies cost nothing here.
 */
function scanSql(sql: string): SqlShape {
  const shape: SqlShape = {
    kind: '',
    secondStatementAt: -1,
    intoOutfile: false,
    fromInfile: false,
    assigned: [],
  }
  const n = sql.length
  let i = 0
  let depth = 0
  let semicolonAt = -1
  // Previous significant token: an upper-cased word, or the punctuation character itself.
  let prev = ''
  let prevWordText = ''
  let insertPhase: 'head' | 'values' | 'select' = 'head'
  let formatPending = false
  let formatTail: 'none' | 'after' | 'settings' = 'none'
  while (i < n) {
    const c = sql.charCodeAt(i)
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : -1
    if (isSpace(c)) {
      i++
      continue
    }
    if ((c === 45 && next === 45) || (c === 35 && (next === 32 || next === 33))) {
      // `-- …` and `# …` / `#!…` run to the end of the line.
      const eol = sql.indexOf('\n', i)
      i = eol < 0 ? n : eol + 1
      continue
    }
    if (c === 47 && next === 42) {
      // Block comments nest in ClickHouse.
      let level = 0
      while (i < n) {
        if (sql.startsWith('/*', i)) {
          level++
          i += 2
        } else if (sql.startsWith('*/', i)) {
          level--
          i += 2
          if (level === 0) break
        } else i++
      }
      continue
    }
    if (c === 59) {
      if (semicolonAt < 0) semicolonAt = i
      i++
      continue
    }
    if (semicolonAt >= 0) {
      shape.secondStatementAt = semicolonAt
      return shape
    }
    let word = ''
    const start = i
    if (c === 39 || c === 34 || c === 96) {
      // '…' literal, "…" and `…` names: backslash escapes, and the quote doubled stands for itself.
      i++
      while (i < n) {
        const d = sql.charCodeAt(i)
        if (d === 92) i += 2
        else if (d === c) {
          if (sql.charCodeAt(i + 1) === c) i += 2
          else {
            i++
            break
          }
        } else i++
      }
    } else if (c === 36 && /^\$[A-Za-z0-9_]*\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$[A-Za-z0-9_]*\$/.exec(sql.slice(i, i + 64))![0]
      const end = sql.indexOf(tag, i + tag.length)
      i = end < 0 ? n : end + tag.length
    } else if (isWordChar(c)) {
      while (i < n && isWordChar(sql.charCodeAt(i))) i++
      word = sql.slice(start, i).toUpperCase()
    } else {
      if (c === 40 || c === 91 || c === 123) depth++
      else if ((c === 41 || c === 93 || c === 125) && depth > 0) depth--
      i++
    }
    const token = word || sql[start]!

    if (!shape.kind && word) shape.kind = word
    if (word && depth === 0) {
      if (shape.kind === 'INSERT') {
        if (insertPhase === 'head') {
          if (formatPending) {
            let dataStart = i
            while (dataStart < n && /[ \t\f]/.test(sql[dataStart]!)) dataStart++
            if (sql[dataStart] === '\r') dataStart++
            if (sql[dataStart] === '\n') dataStart++
            shape.insertData = { via: 'FORMAT', headEnd: i, dataStart }
            return shape
          }
          // `FORMAT` right after INTO/TABLE/FUNCTION or a dot is a table called format, not the clause.
          if (word === 'FORMAT' && !['INTO', 'TABLE', 'FUNCTION', '.'].includes(prev)) formatPending = true
          else if (word === 'VALUES' && !['INTO', 'TABLE', '.'].includes(prev)) {
            shape.insertData = { via: 'VALUES', headEnd: i, dataStart: i }
            insertPhase = 'values'
          } else if (word === 'SELECT' || word === 'WITH') insertPhase = 'select'
          else if (word === 'INFILE' && prev === 'FROM') shape.fromInfile = true
        }
      } else if (formatPending) {
        shape.outputFormat = sql.slice(start, i)
        formatTail = 'after'
      } else {
        // Only a trailing `FORMAT x [SETTINGS …]` is the clause; `SELECT format FROM t` names a column.
        if (formatTail === 'after' && word !== 'SETTINGS') shape.outputFormat = undefined
        formatTail =
          formatTail === 'settings' || (formatTail === 'after' && word === 'SETTINGS') ? 'settings' : 'none'
        if (word === 'FORMAT' && prev !== '.') formatPending = true
        else if (word === 'OUTFILE' && prev === 'INTO') shape.intoOutfile = true
      }
    }
    if (formatPending && !(word === 'FORMAT' && depth === 0)) formatPending = false
    if (shape.kind === 'SET' && depth === 0 && token === '=' && prevWordText !== '')
      shape.assigned.push(prevWordText)
    prevWordText = word ? sql.slice(start, i) : ''
    prev = token
  }
  return shape
}

// Statements a read-only request may run (GET, or `readonly` in the URL).
const readOnlyKinds = new Set([
  'SELECT',
  'WITH',
  'SHOW',
  'DESCRIBE',
  'DESC',
  'EXISTS',
  'EXPLAIN',
  'SET',
  'USE',
  'CHECK',
])

// --- Requests ----------------------------------------------------------------------------------------

// Parameters the HTTP handler of ClickHouse consumes itself; everything else in the URL is a setting.
const reservedParams = new Set([
  'query',
  'database',
  'default_format',
  'compress',
  'decompress',
  'user',
  'password',
  'quota_key',
  'query_id',
  'stacktrace',
  'role',
  'buffer_size',
  'wait_end_of_query',
  'session_id',
  'session_timeout',
  'session_check',
  'client_protocol_version',
  'close_session',
])

// Settings that shape the HTTP exchange rather than the query: honoured here, never sent to chDB.
// `readonly` in particular would lock chDB's connection for every later request.
const httpLayerSettings = new Set([
  'readonly',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_wait_end_of_query',
  'http_response_buffer_size',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'add_http_cors_header',
  'cancel_http_readonly_queries_on_client_close',
])

interface QueryRequest {
  readOnly: boolean
  database: string
  defaultFormat: string
  settings: Map<string, string>
  params: Record<string, string>
  waitEndOfQuery: boolean
  compression: 'gzip' | 'deflate' | 'br' | undefined
  urlQuery: string
  body: Buffer
}

const isTrue = (v: string | null | undefined) =>
  v !== null && v !== undefined && v !== '' && v !== '0' && v !== 'false'

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** ClickHouse's rules: X-ClickHouse-User/Key, or Basic auth, or user/password in the URL, never mixed. */
function authenticate(req: http.IncomingMessage, url: URL, password: string | undefined): void {
  const headerUser = header(req, 'x-clickhouse-user')
  const headerKey = header(req, 'x-clickhouse-key')
  const authorization = header(req, 'authorization')
  const inUrl = url.searchParams.has('user') || url.searchParams.has('password')
  let user = 'default'
  let given = ''
  if (headerUser !== undefined || headerKey !== undefined) {
    if (authorization !== undefined || inUrl) {
      raise(
        'AUTHENTICATION_FAILED',
        'Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and other authentication methods simultaneously',
      )
    }
    user = headerUser || 'default'
    given = headerKey ?? ''
  } else if (authorization !== undefined) {
    if (inUrl) {
      raise(
        'AUTHENTICATION_FAILED',
        'Invalid authentication: it is not allowed to use Authorization HTTP header and authentication via parameters simultaneously',
      )
    }
    const [scheme = '', token = ''] = authorization.split(/\s+/, 2)
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(token, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      user = (colon < 0 ? decoded : decoded.slice(0, colon)) || 'default'
      given = colon < 0 ? '' : decoded.slice(colon + 1)
    } else if (password !== undefined) {
      raise(
        'AUTHENTICATION_FAILED',
        `Invalid authentication: '${scheme}' HTTP Authorization scheme is not supported`,
      )
    }
  } else {
    user = url.searchParams.get('user') || 'default'
    given = url.searchParams.get('password') ?? ''
  }
  if (password !== undefined && !sameSecret(given, password)) {
    raise(
      'AUTHENTICATION_FAILED',
      `${user}: Authentication failed: password is incorrect, or there is no user with such name`,
    )
  }
}

/**
 * Reads the body, decompressing per Content-Encoding, keeping at most `limit` bytes. Past the limit, or on
 * a decompression error, the rest is drained undecompressed before failing, so the client gets the error
 * response instead of a reset socket (as the server does with `ignoreAll`).
 */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (header(req, 'content-encoding') ?? '').trim().toLowerCase()
  let decompress: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined
  if (encoding !== '' && encoding !== 'identity' && encoding !== 'none') {
    if (encoding === 'gzip' || encoding === 'x-gzip') decompress = zlib.createGunzip()
    else if (encoding === 'deflate') decompress = zlib.createInflate()
    else if (encoding === 'br') decompress = zlib.createBrotliDecompress()
    else {
      req.resume()
      raise(
        'UNKNOWN_COMPRESSION_METHOD',
        `Unknown compression method '${encoding}'. Only 'gzip', 'deflate', 'br' are supported by this server`,
      )
    }
  }
  return new Promise<Buffer>((done, reject) => {
    const source = decompress ?? req
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    const fail = (err: unknown) => {
      if (failed) return
      failed = true
      if (decompress) {
        req.unpipe(decompress)
        decompress.destroy()
      }
      req.resume()
      if (req.complete || req.destroyed) reject(err)
      else req.once('end', () => reject(err)).once('close', () => reject(err))
    }
    source.on('data', (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > limit) {
        fail(
          new ServerException(
            Code.QUERY_IS_TOO_LARGE,
            'QUERY_IS_TOO_LARGE',
            `Request body is larger than the ${limit} bytes this server accepts`,
          ),
        )
      } else chunks.push(chunk)
    })
    source.once('end', () => {
      if (!failed) done(Buffer.concat(chunks, size))
    })
    req.on('error', fail)
    if (decompress) {
      decompress.on('error', (err) =>
        fail(
          new ServerException(
            Code.CANNOT_DECOMPRESS,
            'CANNOT_DECOMPRESS',
            `Cannot decompress the request body (${encoding}): ${err.message}`,
          ),
        ),
      )
      req.pipe(decompress)
    }
  })
}

/** `multipart/form-data` the way @clickhouse/client sends long parameters: a `query` part and `param_*` parts. */
function parseMultipart(body: Buffer, contentType: string): Map<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  const boundary = m?.[1] ?? m?.[2]
  if (!boundary) raise('BAD_ARGUMENTS', 'multipart/form-data request without a boundary')
  const parts = new Map<string, string>()
  for (const part of body.toString('utf8').split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break
    const headerEnd = part.indexOf('\r\n\r\n')
    if (headerEnd < 0) continue
    const headers = part.slice(0, headerEnd)
    const name = /name="([^"]*)"/i.exec(headers)?.[1]
    if (name === undefined) continue
    if (/filename=/i.test(headers) || !(name === 'query' || name.startsWith('param_'))) {
      raise('NOT_IMPLEMENTED', `External data (multipart part '${name}') is not supported by this server`)
    }
    parts.set(name, part.slice(headerEnd + 4).replace(/\r\n$/, ''))
  }
  return parts
}

function chooseCompression(req: http.IncomingMessage): QueryRequest['compression'] {
  const accepted = (header(req, 'accept-encoding') ?? '').toLowerCase()
  if (accepted.includes('br')) return 'br'
  if (accepted.includes('gzip')) return 'gzip'
  if (accepted.includes('deflate')) return 'deflate'
  return undefined
}

async function readQueryRequest(
  req: http.IncomingMessage,
  url: URL,
  maxBytes: number,
): Promise<QueryRequest> {
  let body = await readBody(req, maxBytes)
  let urlQuery = url.searchParams.get('query') ?? ''
  const params: Record<string, string> = {}
  const settings = new Map<string, string>()
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) params[key.slice(6)] = value
    else if (key !== '' && !reservedParams.has(key)) {
      // Repeated settings: the last one wins, as in the server's SettingsChanges.
      settings.set(key, value)
    }
  }
  const contentType = header(req, 'content-type') ?? ''
  if (/^multipart\/form-data/i.test(contentType)) {
    const parts = parseMultipart(body, contentType)
    for (const [name, value] of parts) if (name.startsWith('param_')) params[name.slice(6)] = value
    urlQuery = parts.get('query') ?? urlQuery
    body = Buffer.alloc(0)
  }
  for (const key of settings.keys()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) raise('UNKNOWN_SETTING', `Unknown setting '${key}'`)
  }
  const compress = isTrue(settings.get('enable_http_compression'))
  const readonly = settings.get('readonly')
  for (const key of httpLayerSettings) settings.delete(key)
  return {
    readOnly: req.method === 'GET' || req.method === 'HEAD' || isTrue(readonly),
    database: header(req, 'x-clickhouse-database') || url.searchParams.get('database') || 'default',
    defaultFormat:
      header(req, 'x-clickhouse-format') || url.searchParams.get('default_format') || 'TabSeparated',
    settings,
    params,
    waitEndOfQuery:
      isTrue(url.searchParams.get('wait_end_of_query')) ||
      isTrue(url.searchParams.get('http_wait_end_of_query')),
    compression: compress ? chooseCompression(req) : undefined,
    urlQuery,
    body,
  }
}

// --- chDB --------------------------------------------------------------------------------------------

interface NativeResult {
  bytes: Uint8Array
  elapsed: number
  rowsRead: number
  bytesRead: number
}
interface NativeInsertResult {
  elapsed: number
  rowsWritten: number
  bytesWritten: number
}
interface NativeChunk {
  done: boolean
  bytes?: Uint8Array
  numRows?: number
}
/** chDB's native addon, the layer under its public Session API. */
interface ChdbNative {
  QueryAsyncConnection(
    conn: unknown,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<NativeResult>
  InsertRawAsyncConnection(
    conn: unknown,
    prefix: string,
    data: Buffer,
    countLines: boolean,
  ): Promise<NativeInsertResult>
  StreamQuery(conn: unknown, sql: string, format: string, params?: Record<string, string>): unknown
  StreamFetch(handle: unknown): Promise<NativeChunk>
  StreamCancel(handle: unknown): void
}

interface ChdbSession {
  connection: unknown
  close(): void
}

const toBuffer = (b: Uint8Array | undefined) =>
  b === undefined
    ? Buffer.alloc(0)
    : Buffer.isBuffer(b)
      ? b
      : Buffer.from(b.buffer, b.byteOffset, b.byteLength)

function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``
}

interface Summary {
  read_rows: number
  read_bytes: number
  written_rows: number
  written_bytes: number
  result_rows: number
  result_bytes: number
  elapsed_ns: number
}

function summaryHeader(s: Partial<Summary>): string {
  const v = (n: number | undefined) => String(Math.max(0, Math.round(n ?? 0)))
  return JSON.stringify({
    read_rows: v(s.read_rows),
    read_bytes: v(s.read_bytes),
    written_rows: v(s.written_rows),
    written_bytes: v(s.written_bytes),
    total_rows_to_read: '0',
    result_rows: v(s.result_rows),
    result_bytes: v(s.result_bytes),
    elapsed_ns: v(s.elapsed_ns),
  })
}

/**
 * The chDB connection and the per-request state a real server would give every query afresh: its
 * database and settings. All work goes through `exclusive`, one statement at a time.
 */
class Engine {
  private tail: Promise<unknown> = Promise.resolve()
  private currentDatabase: string | undefined = 'default'
  private closed = false
  /** Settings this server has SET on the connection for the current request, by name. */
  private readonly applied = new Map<string, string>()
  version = 'unknown'
  timezone = 'UTC'

  private constructor(
    private readonly session: ChdbSession,
    readonly native: ChdbNative,
    private readonly drainPending: () => Promise<void>,
    /** Settings chDB itself starts with changed from ClickHouse's defaults. */
    private baseline = new Map<string, string>(),
  ) {}

  static async open(dataDir: string, drainPendingOnClose = true): Promise<Engine> {
    const chdb = await import('chdb')
    // The native addon is loaded by chdb's own loader, so this is the very module its Session uses.
    const requireCjs = createRequire(import.meta.url)
    const loader = requireCjs(join(dirname(requireCjs.resolve('chdb')), 'dist', 'loader.js')) as {
      loadNative(): ChdbNative
    }
    const native = loader.loadNative()
    for (const fn of [
      'QueryAsyncConnection',
      'InsertRawAsyncConnection',
      'StreamQuery',
      'StreamFetch',
      'StreamCancel',
    ] as const) {
      if (typeof native[fn] !== 'function')
        throw new Error(`the installed chdb lacks the native ${fn}; this server needs chdb 3.4`)
    }
    let session: ChdbSession
    try {
      session = new chdb.Session(dataDir) as ChdbSession
    } catch (err) {
      // chDB prints the engine's reason (typically "Cannot lock file …/status") to stderr itself.
      throw new Error(
        `cannot open chDB on ${dataDir}; is another process holding this folder? chDB binds a data folder to one process`,
        { cause: err },
      )
    }
    const engine = new Engine(session, native, drainPendingOnClose ? chdb.drainPending : async () => {})
    const [version = 'unknown', timezone = 'UTC'] = (await engine.text('SELECT version(), timezone()'))
      .trim()
      .split('\t')
    engine.version = version
    engine.timezone = timezone
    engine.baseline = await engine.changedSettings()
    return engine
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    // A request that read its body while the server was stopping must not reach a closed connection.
    if (this.closed) return Promise.reject(new Error('the local ClickHouse server is shutting down'))
    const run = this.tail.then(fn)
    this.tail = run.catch(() => undefined)
    return run
  }

  private async text(sql: string): Promise<string> {
    return toBuffer(
      (await this.native.QueryAsyncConnection(this.session.connection, sql, 'TabSeparated')).bytes,
    ).toString('utf8')
  }

  private async changedSettings(): Promise<Map<string, string>> {
    const rows = (await this.text('SELECT name, value FROM system.settings WHERE changed FORMAT JSONEachRow'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { name: string; value: string })
    return new Map(rows.map((r) => [r.name, r.value]))
  }

  private resetValue(name: string): string {
    const base = this.baseline.get(name)
    return base === undefined ? 'DEFAULT' : quoteString(base)
  }

  /** Puts the connection in the state a fresh request with this database and these settings would have. */
  async prepare(database: string, wanted: Map<string, string>): Promise<void> {
    if (this.currentDatabase !== database) {
      await this.text(`USE ${quoteIdentifier(database)}`)
      this.currentDatabase = database
    }
    const changes: [string, string | undefined][] = []
    for (const [name, value] of wanted) if (this.applied.get(name) !== value) changes.push([name, value])
    for (const name of this.applied.keys()) if (!wanted.has(name)) changes.push([name, undefined])
    if (changes.length === 0) return
    const assignment = ([name, value]: [string, string | undefined]) =>
      `${name} = ${value === undefined ? this.resetValue(name) : quoteString(value)}`
    const record = ([name, value]: [string, string | undefined]) => {
      if (value === undefined) this.applied.delete(name)
      else this.applied.set(name, value)
    }
    try {
      await this.text(`SET ${changes.map(assignment).join(', ')}`)
      changes.forEach(record)
    } catch (err) {
      // One bad name or value fails the whole SET; apply the rest one by one so `applied` stays the truth.
      let first: unknown
      for (const change of changes) {
        try {
          await this.text(`SET ${assignment(change)}`)
          record(change)
        } catch (e) {
          first ??= e
        }
      }
      throw first ?? err
    }
  }

  /**
   * Undoes what a client's own statement did to the connection; over HTTP it lasts one request. Resets
   * by name rather than reading system.settings back, which a setting such as max_memory_usage = 1 could
   * make impossible.
   */
  async afterStatement(shape: SqlShape): Promise<void> {
    if (shape.kind === 'USE') this.currentDatabase = undefined
    if (shape.kind !== 'SET' || shape.assigned.length === 0) return
    const restore = [...new Set(shape.assigned)].map((name) => {
      const wanted = this.applied.get(name)
      return `${name} = ${wanted === undefined ? this.resetValue(name) : quoteString(wanted)}`
    })
    await this.text(`SET ${restore.join(', ')}`)
  }

  query(sql: string, format: string, params: Record<string, string> | undefined): Promise<NativeResult> {
    return this.native.QueryAsyncConnection(this.session.connection, sql, format, params)
  }

  insert(prefix: string, data: Buffer): Promise<NativeInsertResult> {
    return this.native.InsertRawAsyncConnection(this.session.connection, prefix, data, false)
  }

  /** Starts a streamed query, or returns undefined when chDB cannot stream this kind of statement. */
  stream(sql: string, format: string, params: Record<string, string> | undefined): unknown {
    try {
      return this.native.StreamQuery(this.session.connection, sql, format, params)
    } catch (err) {
      if (/^Code: 36\. DB::Exception: Streaming query is not supported/.test((err as Error).message))
        return undefined
      throw err
    }
  }

  /** Waits for running work, then releases the folder. */
  async close(): Promise<void> {
    this.closed = true
    await this.tail
    this.session.close()
    await this.drainPending()
  }
}

/**
 * Several engines (chDB sessions) over one folder. A request takes an idle one, or waits its turn in
 * arrival order; version and time zone are the first engine's (they are the process's).
 */
class EnginePool {
  private readonly idle: Engine[]
  private readonly waiting: ((engine: Engine) => void)[] = []

  private constructor(private readonly engines: Engine[]) {
    this.idle = [...engines]
  }

  static async open(dataDir: string, size: number): Promise<EnginePool> {
    const first = await Engine.open(dataDir, true)
    const engines = [first]
    try {
      for (let i = 1; i < size; i++) engines.push(await Engine.open(dataDir, false))
    } catch (err) {
      for (const e of engines) await e.close()
      throw err
    }
    return new EnginePool(engines)
  }

  get version(): string {
    return this.engines[0]!.version
  }

  get timezone(): string {
    return this.engines[0]!.timezone
  }

  get native(): ChdbNative {
    return this.engines[0]!.native
  }

  async exclusive<T>(fn: (engine: Engine) => Promise<T>): Promise<T> {
    const engine = this.idle.pop() ?? (await new Promise<Engine>((take) => this.waiting.push(take)))
    try {
      return await engine.exclusive(() => fn(engine))
    } finally {
      const next = this.waiting.shift()
      if (next) next(engine)
      else this.idle.push(engine)
    }
  }

  /** Waits for running work, then releases the folder (the engine that drains chDB closes last). */
  async close(): Promise<void> {
    for (const e of [...this.engines].reverse()) await e.close()
  }
}

// --- Responses ---------------------------------------------------------------------------------------

function contentTypeOf(format: string): string {
  const f = format.toLowerCase()
  if (/^(json|ndjson|jsonl)/.test(f)) {
    return /eachrow|ndjson|jsonl|lines/.test(f)
      ? 'application/x-ndjson; charset=UTF-8'
      : 'application/json; charset=UTF-8'
  }
  if (/^(tabseparated|tsv)/.test(f)) return 'text/tab-separated-values; charset=UTF-8'
  if (f.startsWith('csv'))
    return `text/csv; charset=UTF-8; header=${f.includes('withnames') ? 'present' : 'absent'}`
  if (/^(rowbinary|native|parquet|arrow|orc|avro|protobuf|capnproto|msgpack)/.test(f))
    return 'application/octet-stream'
  return 'text/plain; charset=UTF-8'
}

/** One HTTP response: headers held until the first bytes go out, then the body, optionally compressed. */
class Reply {
  private out: NodeJS.WritableStream | undefined
  readonly exceptionTag = randomBytes(8).toString('hex')
  aborted = false

  constructor(
    private readonly res: http.ServerResponse,
    private readonly base: Record<string, string>,
  ) {
    res.on('close', () => {
      if (!res.writableFinished) this.aborted = true
    })
    res.on('error', () => {
      this.aborted = true
    })
  }

  get started(): boolean {
    return this.res.headersSent
  }

  start(headers: Record<string, string>, compression: QueryRequest['compression']): void {
    const all: Record<string, string> = {
      'Content-Type': 'text/plain; charset=UTF-8',
      ...this.base,
      ...headers,
    }
    if (compression) all['Content-Encoding'] = compression
    this.res.writeHead(200, all)
    if (compression) {
      const z =
        compression === 'gzip'
          ? zlib.createGzip()
          : compression === 'br'
            ? zlib.createBrotliCompress()
            : zlib.createDeflate()
      z.on('error', () => this.res.destroy())
      z.pipe(this.res)
      this.out = z
    } else this.out = this.res
  }

  write(chunk: Buffer): void {
    if (!this.aborted && chunk.length > 0) this.out!.write(chunk)
  }

  async end(): Promise<void> {
    if (this.aborted) return
    const finished = new Promise<void>((done) => {
      this.res.once('finish', done).once('close', done)
    })
    this.out!.end()
    await finished
  }

  /** Before any byte is sent: ClickHouse's exception response. After: the in-stream exception block. */
  async fail(code: number, text: string): Promise<void> {
    if (!this.res.headersSent) {
      const body = `${text}\n`
      this.res.writeHead(statusByCode.get(code) ?? 500, {
        ...this.base,
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Exception-Code': String(code),
        'Content-Length': String(Buffer.byteLength(body)),
      })
      this.res.end(body)
      return
    }
    if (this.aborted) return
    // The framing @clickhouse/client >= 1.13 parses for errors after a 200 (ClickHouse 25.11+).
    const message = Buffer.from(`${text}\n`)
    this.write(
      Buffer.concat([
        Buffer.from(`\r\n__exception__\r\n${this.exceptionTag}\r\n`),
        message,
        Buffer.from(`${message.length} ${this.exceptionTag}\r\n__exception__\r\n`),
      ]),
    )
    await this.end()
  }
}

// --- Server ------------------------------------------------------------------------------------------

function notFound(res: http.ServerResponse, path: string): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' })
  res.end(
    `There is no handle ${path}\n\nUse / or /ping for health checks.\nSend queries from your program with POST method or GET /?query=...\n`,
  )
}

export async function startLocalClickHouseServer(
  opts: LocalClickHouseServerOptions,
): Promise<LocalClickHouseServer> {
  const dataDir = resolve(opts.dataDir)
  const host = opts.host ?? '127.0.0.1'
  const maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
  const log = opts.log
  mkdirSync(dataDir, { recursive: true })
  const engine = await EnginePool.open(dataDir, Math.max(1, opts.sessions ?? 4))
  const displayName = hostname()
  let stopping = false
  let inFlight = 0
  let idle: (() => void) | undefined

  async function execute(
    request: QueryRequest,
    reply: Reply,
    summary: Partial<Summary>,
    started: bigint,
  ): Promise<void> {
    let sql: string
    let insertPrefix: string | undefined
    let insertData: Buffer | undefined
    let shape: SqlShape | undefined
    const { urlQuery, body } = request
    if (urlQuery !== '' && body.length > 0) {
      // INSERT … FORMAT x in the URL with the rows in the body, the way the client inserts: the body is
      // data and is never decoded as text.
      const head = scanSql(urlQuery)
      if (head.kind === 'INSERT' && head.insertData?.via === 'FORMAT' && head.secondStatementAt < 0) {
        shape = head
        insertPrefix = urlQuery.slice(0, head.insertData.headEnd)
        const tail = urlQuery.slice(head.insertData.dataStart)
        insertData = tail === '' ? body : Buffer.concat([Buffer.from(`${tail}\n`), body])
      }
    }
    if (shape) sql = insertPrefix!
    else {
      // ClickHouse reads the URL query, a newline, then the body, as one text.
      sql =
        urlQuery === ''
          ? body.toString('utf8')
          : body.length === 0
            ? urlQuery
            : `${urlQuery}\n${body.toString('utf8')}`
      shape = scanSql(sql)
      if (shape.kind === 'INSERT' && shape.insertData) {
        insertPrefix = sql.slice(0, shape.insertData.headEnd)
        insertData = Buffer.from(sql.slice(shape.insertData.dataStart), 'utf8')
      }
    }
    if (shape.kind === '') raise('SYNTAX_ERROR', 'Empty query')
    if (shape.secondStatementAt >= 0) {
      const at = shape.secondStatementAt
      raise(
        'SYNTAX_ERROR',
        `Syntax error (Multi-statements are not allowed): failed at position ${at + 1} (end of query): ${sql.slice(at, at + 100)}. `,
      )
    }
    if (shape.intoOutfile) raise('INTO_OUTFILE_NOT_ALLOWED', 'INTO OUTFILE is not allowed')
    if (shape.fromInfile) raise('UNKNOWN_TYPE_OF_QUERY', 'Query has infile and was send directly to server')
    if (request.readOnly && !readOnlyKinds.has(shape.kind)) {
      raise(
        'READONLY',
        'Cannot execute query in readonly mode. For queries over HTTP, method GET implies readonly. You should use method POST for modifying queries',
      )
    }
    if (insertData?.[0] === 0x3b) {
      raise(
        'SYNTAX_ERROR',
        "You have excessive ';' symbol before data for INSERT. Note that there is no ';' just after format name, you need to put at least one whitespace symbol before the data",
      )
    }
    if (shape.kind === 'SET' && shape.assigned.some((name) => name.toLowerCase() === 'readonly')) {
      // On a server this lasts the one request and nothing else runs in it; on chDB's connection it
      // would lock every later request out of changing settings, including the rollback.
      reply.start({ 'X-ClickHouse-Summary': summaryHeader({}) }, undefined)
      await reply.end()
      return
    }
    const params = Object.keys(request.params).length > 0 ? request.params : undefined
    const elapsed = () => Number(process.hrtime.bigint() - started)
    const queryHeaders = (format: string | undefined): Record<string, string> => ({
      ...(format ? { 'X-ClickHouse-Format': format, 'Content-Type': contentTypeOf(format) } : {}),
      'X-ClickHouse-Summary': summaryHeader({ ...summary, elapsed_ns: elapsed() }),
    })

    const runStatement = async (engine: Engine): Promise<void> => {
      if (shape.kind === 'INSERT' && !params) {
        // Rows go to chDB as bytes; its own INSERT parser reads them, as the server's would.
        const data = insertData ?? Buffer.alloc(0)
        const isEmpty = shape.insertData?.via === 'FORMAT' && data.every((b) => isSpace(b))
        if (!isEmpty) {
          const r = await engine.insert(insertPrefix ?? sql, data)
          Object.assign(summary, {
            read_rows: r.rowsWritten,
            read_bytes: r.bytesWritten,
            written_rows: r.rowsWritten,
            written_bytes: r.bytesWritten,
          })
        }
        reply.start(queryHeaders(undefined), undefined)
        await reply.end()
        return
      }
      const handle = shape.kind === 'INSERT' ? undefined : engine.stream(sql, request.defaultFormat, params)
      if (handle !== undefined) {
        await streamResult(engine, handle, request, reply, summary, shape.outputFormat, queryHeaders)
        return
      }
      const full = insertData === undefined ? sql : `${insertPrefix}\n${insertData.toString('utf8')}`
      const r = await engine.query(full, request.defaultFormat, params)
      const bytes = toBuffer(r.bytes)
      Object.assign(summary, { read_rows: r.rowsRead, read_bytes: r.bytesRead })
      const format = bytes.length > 0 ? (shape.outputFormat ?? request.defaultFormat) : undefined
      reply.start(queryHeaders(format), bytes.length > 0 ? request.compression : undefined)
      reply.write(bytes)
      await reply.end()
    }

    await engine.exclusive(async (session) => {
      await session.prepare(request.database, request.settings)
      await runStatement(session)
      // Only after success: a statement that failed changed nothing on the connection.
      await session.afterStatement(shape).catch((err) => {
        log?.error({ err, kind: shape.kind }, "could not roll back a statement's session state")
      })
    })
  }

  async function streamResult(
    engine: Engine,
    handle: unknown,
    request: QueryRequest,
    reply: Reply,
    summary: Partial<Summary>,
    outputFormat: string | undefined,
    queryHeaders: (format: string | undefined) => Record<string, string>,
  ): Promise<void> {
    const format = outputFormat ?? request.defaultFormat
    const held: Buffer[] = []
    let heldBytes = 0
    let rows = 0
    const flush = () => {
      if (!reply.started) {
        Object.assign(summary, { result_rows: rows, result_bytes: heldBytes })
        reply.start(
          { ...queryHeaders(format), 'X-ClickHouse-Exception-Tag': reply.exceptionTag },
          request.compression,
        )
      }
      for (const chunk of held) reply.write(chunk)
      held.length = 0
    }
    try {
      for (;;) {
        if (reply.aborted) return
        const chunk = await engine.native.StreamFetch(handle)
        const bytes = toBuffer(chunk.bytes)
        rows += chunk.numRows ?? 0
        if (bytes.length > 0) {
          held.push(bytes)
          heldBytes += bytes.length
        }
        if (chunk.done) break
        // Writes do not wait for the socket: a slow reader must not hold every other request behind it.
        if (reply.started || (!request.waitEndOfQuery && heldBytes >= RESPONSE_HOLD_BYTES)) flush()
      }
      flush()
      await reply.end()
    } catch (err) {
      if (!reply.started) throw err
      const { code, text } = describeError(err, engine.version)
      await reply.fail(code, text)
    } finally {
      engine.native.StreamCancel(handle)
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = process.hrtime.bigint()
    const url = new URL(req.url ?? '/', 'http://localhost')
    const method = req.method ?? 'GET'
    if (stopping) res.setHeader('Connection', 'close')
    const isRead = method === 'GET' || method === 'HEAD'
    if (
      isRead &&
      (url.pathname === '/ping' ||
        url.pathname === '/replicas_status' ||
        (url.pathname === '/' && !url.searchParams.has('query')))
    ) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' })
      res.end('Ok.\n')
      return
    }
    if (!(method === 'POST' || (isRead && url.searchParams.has('query')))) {
      req.resume()
      notFound(res, url.pathname)
      return
    }
    const queryId = url.searchParams.get('query_id') || header(req, 'x-clickhouse-query-id') || randomUUID()
    const reply = new Reply(res, {
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Timezone': engine.timezone,
      'X-ClickHouse-Server-Display-Name': displayName,
    })
    const summary: Partial<Summary> = {}
    try {
      authenticate(req, url, opts.password)
      const request = await readQueryRequest(req, url, maxRequestBytes)
      await execute(request, reply, summary, started)
      log?.debug({ queryId, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'query done')
    } catch (err) {
      const { code, text } = describeError(err, engine.version)
      if (code === Code.UNKNOWN_EXCEPTION) log?.error({ err, queryId }, 'query failed unexpectedly')
      else log?.debug({ queryId, code, error: text }, 'query failed')
      if (code === Code.QUERY_IS_TOO_LARGE && !res.headersSent) res.setHeader('Connection', 'close')
      await reply.fail(code, text)
    }
  }

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    inFlight++
    res.once('close', () => {
      inFlight--
      if (inFlight === 0) idle?.()
    })
    handle(req, res).catch((err) => {
      log?.error({ err }, 'request handler crashed')
      res.destroy()
    })
  }
  const tls = opts.tls
  // A real server accepts a request line (query and parameters in the URL) up to http_max_uri_size,
  // 1 MiB by default; node's parser would stop at 16 KiB.
  const parser = { maxHeaderSize: MAX_URI_BYTES }
  const server = tls
    ? https.createServer(
        {
          ...parser,
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          ...(tls.ca ? { ca: readFileSync(tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        onRequest,
      )
    : http.createServer(parser, onRequest)
  // Mirrors the server's own keep-alive so the client's idle-socket TTL (2.5 s) stays below it.
  server.keepAliveTimeout = 10_000
  // Long queries are legitimate; only the time to send request headers is bounded.
  server.requestTimeout = 0
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    log?.debug({ err: err.message }, 'malformed HTTP request')
    if (socket.writable && !socket.destroyed)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')
    else socket.destroy()
  })

  try {
    await new Promise<void>((ready, fail) => {
      server.once('error', fail)
      server.listen(opts.port ?? 0, host, () => {
        server.off('error', fail)
        ready()
      })
    })
  } catch (err) {
    await engine.close()
    throw err
  }
  const port = (server.address() as AddressInfo).port
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`
  log?.debug({ url, dataDir, version: engine.version }, 'local ClickHouse listening')

  let stopped: Promise<void> | undefined
  return {
    url,
    port,
    stop: () => {
      stopped ??= (async () => {
        stopping = true
        const closed = new Promise<void>((done) => server.close(() => done()))
        server.closeIdleConnections()
        if (inFlight > 0) {
          const grace = new Promise<void>((done) => setTimeout(done, STOP_GRACE_MS).unref())
          await Promise.race([new Promise<void>((done) => (idle = done)), grace])
        }
        server.closeAllConnections()
        await closed
        await engine.close()
        log?.debug({ dataDir }, 'local ClickHouse stopped')
      })()
      return stopped
    },
  }
}
