import { type LogEntry, logLevel } from 'kafkajs'
import type { Logger } from '../logger.js'

/**
 * Broker answers that mean "the cluster is settling, ask again": a group coordinator still loading its
 * state, a partition leader moving or not elected yet, metadata not propagated. kafkajs retries each of
 * them by itself, and a broker that starts or a topic just created produces a burst of them at every
 * start. When retrying fails, the caller gets the error as an exception and logs it; the retried
 * attempts themselves are debug-level detail. (Messages as kafkajs's protocol error table words them.)
 */
const SETTLING = [
  'The coordinator is loading and hence can',
  'The group coordinator is not available',
  'This is not the correct coordinator for this group',
  'This server is not the leader for that topic-partition',
  'This server does not host this topic-partition',
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'The replica is not available for the requested topic-partition',
  'This is not the correct controller for this cluster',
  'The leader epoch in the request is',
  'The leader high watermark has not caught up from a recent leader election',
  'The preferred leader was not available',
  'Eligible topic partition leaders are not available',
  'The group is rebalancing, so a rejoin is needed',
]

export function isSettlingError(error: unknown): boolean {
  return typeof error === 'string' && SETTLING.some((m) => error.startsWith(m))
}

/**
 * kafkajs's own log entries into pino, one level down (kafkajs logs every retried protocol error as an
 * error; real failures reach the caller as exceptions and are logged there), and the settling answers
 * above at debug.
 */
export function kafkaLogCreator(log: Logger) {
  const kafkaLog = log.child({ component: 'kafkajs' })
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry
      if (isSettlingError(rest.error)) kafkaLog.debug(rest, message)
      else if (level === logLevel.ERROR) kafkaLog.warn(rest, message)
      else if (level === logLevel.WARN) kafkaLog.info(rest, message)
      else kafkaLog.debug(rest, message)
    }
}
