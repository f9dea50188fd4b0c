import { decodeKafkaMessage } from './decode.js'
import type { AimsEvent, EventErrorType } from './parse.js'

/**
 * One line of a JSONL event file (the CLI's input). A line is judged exactly as the collector would
 * judge the same bytes arriving on Kafka in structured mode, so what the CLI accepts, the pipeline keeps.
 */
export type JsonlLineResult =
  | { kind: 'blank' }
  | { kind: 'event'; event: AimsEvent }
  | { kind: 'invalid'; errorType: EventErrorType; reason: string }

export function parseJsonlLine(line: string, maxBytes: number): JsonlLineResult {
  // Blank lines (a trailing newline, spacing between groups of events) carry nothing and are skipped.
  if (line.trim() === '') return { kind: 'blank' }
  const result = decodeKafkaMessage({ value: Buffer.from(line, 'utf8') }, maxBytes)
  return result.ok
    ? { kind: 'event', event: result.event }
    : { kind: 'invalid', errorType: result.errorType, reason: result.reason }
}

/** `line 12: data.severity: must be one of ...` (1-based, as editors number lines). */
export function formatLineError(lineNumber: number, reason: string): string {
  return `line ${lineNumber}: ${reason}`
}
