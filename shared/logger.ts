import pino, { type Logger } from 'pino'
import type { Config } from './config/env.js'

export type { Logger }

/** The one logger. Services take a child with their name: `createLogger(cfg).child({ service: 'collector' })`. */
export function createLogger(cfg: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>): Logger {
  const pretty = cfg.LOG_FORMAT === 'pretty' || (cfg.LOG_FORMAT === 'auto' && process.stdout.isTTY === true)
  return pino({
    level: cfg.LOG_LEVEL,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets travel in config and HTTP errors; never let a stray object log them.
    redact: {
      paths: ['*.password', '*.routingKey', '*.secret', '*.webhookUrl', 'headers.authorization'],
      censor: '[redacted]',
    },
    ...(pretty
      ? {
          transport: {
            target: 'pino-pretty',
            options: { colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' },
          },
        }
      : {}),
  })
}
