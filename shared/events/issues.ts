import type { z } from 'zod'
import { quote } from './common.js'

/**
 * Turns zod issues into the one-line reasons producers and operators read on the dead-letter topic and
 * in the CLI: `data.fairness[0].groups[1]: group "x" has no samples (tp+fp+tn+fn = 0)`.
 */

type Issue = z.core.$ZodIssue
type RawIssue = z.core.$ZodRawIssue

/** At most this many issues are spelled out; the rest are counted, so one reason stays readable. */
const MAX_ISSUES_IN_REASON = 5

const SIMPLE_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** Segments shown of a deep path: its first and last ones, with the count of those left out between. */
const PATH_HEAD = 12
const PATH_TAIL = 4
/** Longest key shown as is; longer ones are cut (quote), so a hostile key cannot bloat a reason. */
const MAX_KEY_CHARS = 80

function segmentText(segment: PropertyKey, first: boolean): string {
  if (typeof segment === 'number') return `[${segment}]`
  if (typeof segment === 'string' && segment.length <= MAX_KEY_CHARS && SIMPLE_KEY.test(segment)) {
    return first ? segment : `.${segment}`
  }
  return `[${quote(String(segment), MAX_KEY_CHARS)}]`
}

/**
 * `data.fairness[0].groups[1]`; keys that are not identifiers are quoted: `metrics.extra["bad key"]`.
 * Bounded whatever the input: long keys are cut and a path deeper than 16 levels shows its first 12 and
 * last 4 segments around `[…N levels…]`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  const shown =
    path.length <= PATH_HEAD + PATH_TAIL
      ? path.map((segment, i) => segmentText(segment, i === 0))
      : [
          ...path.slice(0, PATH_HEAD).map((segment, i) => segmentText(segment, i === 0)),
          `[…${path.length - PATH_HEAD - PATH_TAIL} levels…]`,
          ...path.slice(-PATH_TAIL).map((segment) => segmentText(segment, false)),
        ]
  return shown.join('')
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}

/** A producer's value as it would appear in their JSON: strings quoted, scalars as is, containers by kind. */
function shown(value: unknown): string {
  if (typeof value === 'string') return quote(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value)
  return kindOf(value)
}

/**
 * Parse-time error map: zod's default wording ("Invalid input: expected string, received undefined")
 * is replaced with messages that read well after a field path. Messages set on a schema take precedence.
 */
export function eventErrorMap(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required'
      // JSON numbers beyond float range (1e400) parse to Infinity, which zod refuses as "not a number".
      if (typeof issue.input === 'number') return `must be a finite number, got ${issue.input}`
      return `must be ${issue.expected}, got ${kindOf(issue.input)}`
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}, got ${shown(issue.input)}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}; got ${shown(issue.input)}`
    case 'invalid_key':
      return `invalid key: ${issue.issues[0]?.message ?? 'not allowed'}`
    default:
      return undefined
  }
}

function issueLines(issue: Issue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown field`)
  }
  const where = formatPath(issue.path)
  return [where === '' ? issue.message : `${where}: ${issue.message}`]
}

/** One line naming every problem (up to a few), each as `path: message`. */
export function describeIssues(issues: readonly Issue[]): string {
  const lines = issues.flatMap(issueLines)
  if (lines.length <= MAX_ISSUES_IN_REASON) return lines.join('; ')
  return `${lines.slice(0, MAX_ISSUES_IN_REASON).join('; ')}; and ${lines.length - MAX_ISSUES_IN_REASON} more`
}
