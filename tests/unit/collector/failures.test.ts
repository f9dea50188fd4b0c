import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import {
  clickHouseErrorCode,
  isClickHouseDataError,
  isKafkaRefusal,
} from '../../../services/collector/failures.js'
import { payloadTtlDays } from '../../../services/collector/retention.js'

/** Which write failures are the message's (bounded retries, then record and skip) and which the infrastructure's. */

// kafkajs's own error classes, as its producer throws them.
const require = createRequire(import.meta.url)
const errors = require('kafkajs/src/errors')
const { createErrorFromCode } = require('kafkajs/src/protocol/error')

function protocolError(type: string) {
  const codes: Record<string, number> = {
    MESSAGE_TOO_LARGE: 10,
    INVALID_RECORD: 87,
    TOPIC_AUTHORIZATION_FAILED: 29,
    UNKNOWN_TOPIC_OR_PARTITION: 3,
    NOT_LEADER_FOR_PARTITION: 6,
    REQUEST_TIMED_OUT: 7,
    NOT_ENOUGH_REPLICAS: 19,
  }
  return new errors.KafkaJSProtocolError(createErrorFromCode(codes[type]))
}

describe('Kafka produce failures', () => {
  it.each([
    ['MESSAGE_TOO_LARGE', true],
    ['INVALID_RECORD', true],
    ['TOPIC_AUTHORIZATION_FAILED', true],
    ['UNKNOWN_TOPIC_OR_PARTITION', true],
    ['NOT_LEADER_FOR_PARTITION', false],
    ['REQUEST_TIMED_OUT', false],
    ['NOT_ENOUGH_REPLICAS', false],
  ])('%s from the broker is a refusal of the message: %s', (type, refusal) => {
    const err = protocolError(type)
    expect(err.type).toBe(type)
    expect(isKafkaRefusal(err)).toBe(refusal)
    // As the producer's retry wrapper hands it over.
    expect(isKafkaRefusal(new errors.KafkaJSNonRetriableError(err, { cause: err }))).toBe(refusal)
    expect(
      isKafkaRefusal(new errors.KafkaJSNumberOfRetriesExceeded(err, { retryCount: 5, retryTime: 100 })),
    ).toBe(refusal)
  })

  it('an unreachable broker is not the message, an encoding error is', () => {
    const closed = new errors.KafkaJSConnectionError('Connection error: connect ECONNREFUSED', {
      broker: 'b:9092',
    })
    expect(isKafkaRefusal(closed)).toBe(false)
    expect(
      isKafkaRefusal(new errors.KafkaJSNumberOfRetriesExceeded(closed, { retryCount: 5, retryTime: 100 })),
    ).toBe(false)
    expect(
      isKafkaRefusal(new errors.KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')),
    ).toBe(false)
    const encoding = new TypeError('The "string" argument must be of type string or an instance of Buffer')
    expect(isKafkaRefusal(encoding)).toBe(true)
    expect(isKafkaRefusal(new errors.KafkaJSNonRetriableError(encoding, { cause: encoding }))).toBe(true)
  })
})

describe('ClickHouse insert failures', () => {
  it('reads the code from the client error or the message', () => {
    expect(clickHouseErrorCode({ code: '469', message: 'Constraint violated' })).toBe(469)
    expect(clickHouseErrorCode(new Error('Code: 27. DB::Exception: Cannot parse input'))).toBe(27)
    expect(clickHouseErrorCode(new Error('connect ECONNREFUSED 127.0.0.1:8123'))).toBeUndefined()
  })

  it('counts parse, type and constraint errors as the data, everything else as the server', () => {
    for (const code of [6, 27, 53, 117, 131, 469])
      expect(isClickHouseDataError({ code: String(code) }), String(code)).toBe(true)
    // Unknown table, memory limit, too many parts, timeout: the server's state, which changes.
    for (const code of [60, 241, 252, 159])
      expect(isClickHouseDataError({ code: String(code) }), String(code)).toBe(false)
    expect(isClickHouseDataError(new Error('socket hang up'))).toBe(false)
  })
})

describe('dead-letter payload retention', () => {
  it("reads each payload column's TTL from the table definition", () => {
    const ddl =
      "CREATE TABLE aims.dead_letters (`received_at` DateTime64(3, 'UTC') DEFAULT now64(3), `topic` String, " +
      '`value_base64` String TTL toDateTime(received_at) + toIntervalDay(30), `value_bytes` UInt64 DEFAULT 0, ' +
      '`headers` Map(String, String), `reason` String) ENGINE = ReplacingMergeTree ORDER BY (topic)'
    expect(payloadTtlDays(ddl)).toEqual(
      new Map([
        ['value_base64', 30],
        ['headers', 0],
      ]),
    )
  })
})
