import { Writable } from 'node:stream'
import { logLevel } from 'kafkajs'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { isSettlingError, kafkaLogCreator } from '../../../shared/kafka/log.js'

describe('kafkajs logs', () => {
  function capture() {
    const entries: { level: number; msg: string }[] = []
    const log = pino(
      { level: 'debug' },
      new Writable({
        write: (c, _e, cb) => {
          entries.push(JSON.parse(String(c)))
          cb()
        },
      }),
    )
    const write = kafkaLogCreator(log)()
    return { entries, write }
  }
  const entry = (level: number, message: string, error?: string) => ({
    namespace: 'Connection',
    level,
    label: 'ERROR',
    log: { timestamp: '', message, ...(error === undefined ? {} : { error }) },
  })

  it('a coordinator still loading or a leader moving is retried detail: debug', () => {
    const { entries, write } = capture()
    write(
      entry(
        logLevel.ERROR,
        'Response InitProducerId(key: 22, version: 1)',
        "The coordinator is loading and hence can't process requests for this group",
      ),
    )
    write(
      entry(
        logLevel.ERROR,
        'Response ListOffsets(key: 2, version: 3)',
        'This server is not the leader for that topic-partition',
      ),
    )
    expect(entries.map((e) => e.level)).toEqual([20, 20])
  })

  it('anything else goes one level down: errors as warnings, warnings as info', () => {
    const { entries, write } = capture()
    write(
      entry(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092', 'connect ECONNREFUSED'),
    )
    write(entry(logLevel.WARN, 'KafkaJS v2 switched default partitioner'))
    expect(entries.map((e) => e.level)).toEqual([40, 30])
  })

  it('recognises only the settling answers', () => {
    expect(isSettlingError('The group coordinator is not available')).toBe(true)
    expect(isSettlingError('Topic authorization failed')).toBe(false)
    expect(isSettlingError(undefined)).toBe(false)
  })
})
