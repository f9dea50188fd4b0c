import pino, { type DestinationStream, type Level, type Logger } from 'pino'
import type { Config } from './config/env.js'
import { formatLogEntry, type Screen, screen } from './terminal.js'

export type { Logger }

export interface LoggerOptions {
  /**
   * Also write the complete JSON log to this file; the terminal then shows only entries at
   * `terminalLevel` and above. For the run command, whose terminal is for people.
   */
  file?: string
  /** Least level shown on the terminal when `file` is set. Default warn. */
  terminalLevel?: Level
  /** Where terminal lines go. Default the process's screen on stdout. */
  screen?: Screen
}

/**
 * The one logger. Services take a child with their name: `createLogger(cfg).child({ service: 'collector' })`.
 * Formats (LOG_FORMAT): `json` one JSON object per line; `pretty` pino-pretty's detailed multi-line form;
 * `auto` JSON, except on a terminal: one line per entry, cut to the terminal's width.
 */
export function createLogger(
  cfg: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>,
  options: LoggerOptions = {},
): Logger {
  const base = {
    level: cfg.LOG_LEVEL,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets travel in config and HTTP errors; never let a stray object log them.
    redact: {
      paths: ['*.password', '*.routingKey', '*.secret', '*.webhookUrl', 'headers.authorization'],
      censor: '[redacted]',
    },
  }
  if (cfg.LOG_FORMAT === 'pretty') {
    return pino({
      ...base,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' },
      },
    })
  }
  const out = options.screen ?? screen()
  if (cfg.LOG_FORMAT === 'json' || !out.tty) return pino(base)

  const lines: DestinationStream = {
    write(chunk: string) {
      out.line(formatLogEntry(JSON.parse(chunk) as Record<string, unknown>, out.tty))
    },
  }
  if (options.file === undefined) return pino(base, lines)
  const file = pino.destination({ dest: options.file, mkdir: true, sync: true })
  return pino(
    base,
    pino.multistream([
      { level: cfg.LOG_LEVEL === 'silent' ? 'fatal' : cfg.LOG_LEVEL, stream: file },
      { level: options.terminalLevel ?? 'warn', stream: lines },
    ]),
  )
}
