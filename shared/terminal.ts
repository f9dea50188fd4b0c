/**
 * Output for people at a terminal. One screen per process owns stdout when it is a TTY: permanent lines
 * (an alert, a summary, a warning) are cut to the terminal's width, so nothing wraps into a wall of text,
 * and one live status line (a start-up step with its elapsed time) is redrawn in place under them.
 * Off a TTY (pipes, CI, containers) there is no live line and text is written as it comes: there,
 * machines read the JSON logs.
 *
 * Nothing is written at import time; the screen is created on first use.
 */

export interface TerminalStream {
  write(chunk: string): boolean
  isTTY?: boolean
  columns?: number
  on?(event: 'resize', listener: () => void): unknown
}

export interface Screen {
  /** True when the stream is a terminal (live status line, width cutting, colours). */
  readonly tty: boolean
  /** Columns of the terminal (80 when unknown). */
  readonly width: number
  /** Writes one permanent line (cut to the width on a TTY), keeping the live status line under it. */
  line(text: string): void
  /** Sets (or, with undefined, clears) the live status line. A no-op off a TTY. */
  status(text: string | undefined): void
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

/** What a line shows: no escape sequences, no carriage returns. */
export function plainText(text: string): string {
  return text.replace(ANSI, '').replace(/\r/g, '')
}

/** Length as the terminal shows it: escape sequences take no room; one column per code point. */
export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length
}

/**
 * `text` cut to `width` columns with a trailing "…" when it is longer. Escape sequences are kept whole
 * and a reset is appended after a cut, so a cut never leaves the terminal coloured.
 */
export function fitWidth(text: string, width: number): string {
  const oneLine = text.replace(/\r?\n/g, ' ⏎ ')
  if (visibleLength(oneLine) <= width) return oneLine
  let out = ''
  let shown = 0
  let coloured = false
  for (let i = 0; i < oneLine.length; ) {
    ANSI.lastIndex = i
    const m = ANSI.exec(oneLine)
    if (m !== null && m.index === i) {
      out += m[0]
      coloured = m[0] !== '\x1b[0m'
      i += m[0].length
      continue
    }
    const cp = oneLine.codePointAt(i)!
    const ch = String.fromCodePoint(cp)
    if (shown === width - 1) break
    out += ch
    shown++
    i += ch.length
  }
  return `${out}…${coloured ? '\x1b[0m' : ''}`
}

export const colour = {
  red: (s: string) => `\x1b[31m${s}\x1b[0m`,
  yellow: (s: string) => `\x1b[33m${s}\x1b[0m`,
  green: (s: string) => `\x1b[32m${s}\x1b[0m`,
  dim: (s: string) => `\x1b[2m${s}\x1b[0m`,
  bold: (s: string) => `\x1b[1m${s}\x1b[0m`,
}

export function createScreen(stream: TerminalStream): Screen {
  const tty = stream.isTTY === true
  let width = stream.columns ?? 80
  stream.on?.('resize', () => {
    width = stream.columns ?? width
  })
  let live: string | undefined
  // \r + clear-to-end-of-line: a shorter line leaves nothing of the longer one before it.
  const drawLive = () => {
    if (live !== undefined) stream.write(`\r${fitWidth(live, width - 1)}\x1b[K`)
  }
  const plain = (text: string) => (tty ? text : text.replace(ANSI, ''))
  return {
    tty,
    get width() {
      return width
    },
    line(text: string) {
      if (!tty) {
        stream.write(`${plain(text)}\n`)
        return
      }
      stream.write(`\r\x1b[K${fitWidth(text, width)}\n`)
      drawLive()
    },
    status(text: string | undefined) {
      if (!tty) return
      live = text
      if (text === undefined) stream.write('\r\x1b[K')
      else drawLive()
    },
  }
}

let stdoutScreen: Screen | undefined

/** The process's screen on stdout. */
export function screen(): Screen {
  stdoutScreen ??= createScreen(process.stdout)
  return stdoutScreen
}

/** `03:51:48`, local time: what a person at the terminal reads their clock in. */
export function clock(at = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`
}

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
}
const QUIET_KEYS = new Set(['level', 'time', 'msg', 'service', 'component', 'pid', 'hostname', 'err'])

function inline(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value)
}

/**
 * One pino JSON entry as one line for people: `03:51:48 WARN collector: batch write failed, retrying
 * (clickhouse unreachable) stage=clickhouse attempt=3`. The caller cuts it to the terminal's width.
 */
export function formatLogEntry(entry: Record<string, unknown>, tty: boolean): string {
  const level = typeof entry.level === 'number' ? entry.level : 30
  const name = LEVELS[level] ?? String(level)
  const tag = !tty
    ? name
    : level >= 50
      ? colour.red(name)
      : level >= 40
        ? colour.yellow(name)
        : colour.dim(name)
  const time =
    typeof entry.time === 'string' || typeof entry.time === 'number' ? new Date(entry.time) : new Date()
  const who = String(entry.component ?? entry.service ?? '')
  const err = entry.err
  const errText =
    err === undefined
      ? ''
      : ` (${typeof err === 'object' && err !== null && 'message' in err ? String((err as { message: unknown }).message) : String(err)})`
  const extras = Object.entries(entry)
    .filter(([k, v]) => !QUIET_KEYS.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${inline(v)}`)
    .join(' ')
  return `${clock(time)} ${tag} ${who ? `${who}: ` : ''}${String(entry.msg ?? '')}${errText}${extras ? ` ${extras}` : ''}`
}
