import { describe, expect, it } from 'vitest'
import {
  classifyHttpStatus,
  classifyNetworkError,
  parseRetryAfter,
  scrub,
} from '../../../services/alerter/sinks/http.js'

describe('classifyHttpStatus', () => {
  // status, expected outcome, expected reason (Alertmanager's notify/util.go table, plus ours)
  const table: [number, string, string | undefined][] = [
    [200, 'ok', undefined],
    [202, 'ok', undefined],
    [204, 'ok', undefined],
    [301, 'permanent', 'client_error'],
    [400, 'permanent', 'client_error'],
    [401, 'permanent', 'auth_error'],
    [403, 'permanent', 'auth_error'],
    [404, 'permanent', 'client_error'],
    [408, 'retryable', 'timeout'],
    [410, 'permanent', 'client_error'],
    [413, 'permanent', 'client_error'],
    [422, 'permanent', 'client_error'],
    [429, 'retryable', 'rate_limited'],
    [500, 'retryable', 'server_error'],
    [502, 'retryable', 'server_error'],
    [503, 'retryable', 'server_error'],
    [504, 'retryable', 'server_error'],
  ]
  it.each(table)('%i → %s (%s)', (status, outcome, reason) => {
    const r = classifyHttpStatus(status)
    expect(r.outcome).toBe(outcome)
    if (r.outcome !== 'ok') {
      expect(r.reason).toBe(reason)
      expect(r.status).toBe(status)
    }
  })

  it('honours Retry-After on 429, 408 and 503 (seconds or HTTP-date)', () => {
    expect(classifyHttpStatus(429, { retryAfter: '7' })).toMatchObject({
      outcome: 'retryable',
      retryAfterMs: 7000,
    })
    expect(classifyHttpStatus(408, { retryAfter: '1.5' })).toMatchObject({ retryAfterMs: 1500 })
    const now = Date.parse('2024-01-01T00:00:00Z')
    expect(
      classifyHttpStatus(503, { retryAfter: 'Mon, 01 Jan 2024 00:00:30 GMT', nowMs: now }),
    ).toMatchObject({
      retryAfterMs: 30_000,
    })
    expect(classifyHttpStatus(500, { retryAfter: '9' })).not.toHaveProperty('retryAfterMs')
  })

  it('applies per-sink extras', () => {
    expect(classifyHttpStatus(409, { retryable: [409] }).outcome).toBe('retryable')
    expect(classifyHttpStatus(500, { permanent: [500] })).toMatchObject({
      outcome: 'permanent',
      reason: 'server_error',
    })
  })

  it('puts the status and detail in the message', () => {
    const r = classifyHttpStatus(400, { detail: 'invalid_payload' })
    expect(r).toMatchObject({ outcome: 'permanent', detail: 'HTTP 400: invalid_payload' })
  })
})

describe('parseRetryAfter', () => {
  it('reads seconds, dates, and ignores garbage', () => {
    expect(parseRetryAfter('0')).toBe(0)
    expect(parseRetryAfter('120')).toBe(120_000)
    expect(parseRetryAfter(undefined)).toBeUndefined()
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:00 GMT', Date.parse('2024-01-02T00:00:00Z'))).toBe(0)
  })
})

describe('classifyNetworkError', () => {
  it('names connection errors by code and timeouts as timeout', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })
    expect(classifyNetworkError(refused)).toMatchObject({
      outcome: 'retryable',
      reason: 'network_error',
      detail: 'connection refused (ECONNREFUSED)',
    })
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError')
    expect(classifyNetworkError(timeout)).toMatchObject({ outcome: 'retryable', reason: 'timeout' })
    expect(classifyNetworkError(new Error('weird'))).toMatchObject({
      reason: 'network_error',
      detail: 'network error',
    })
  })
})

describe('scrub', () => {
  it('removes secrets and their URL-encoded form', () => {
    expect(scrub('key=a/b+c and a%2Fb%2Bc', ['a/b+c'])).toBe('key=[redacted] and [redacted]')
    expect(scrub('nothing', [''])).toBe('nothing')
  })
})
