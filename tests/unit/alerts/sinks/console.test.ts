import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { ConsoleSender } from '../../../../services/alerter/sinks/console/sender.js'
import { resolveOf, sampleAlert } from '../../../helpers/alert-fixtures.js'

describe('console sink', () => {
  it('logs one line per transition, warn while firing and info on resolve', async () => {
    const lines: { level: number; msg: string }[] = []
    const log = pino(
      { level: 'info' },
      new Writable({
        write: (c, _e, cb) => {
          lines.push(JSON.parse(String(c)))
          cb()
        },
      }),
    )
    const firing = sampleAlert()
    expect(await new ConsoleSender('console').send(firing, { attempt: 1, log })).toEqual({ outcome: 'ok' })
    expect(await new ConsoleSender('console').send(resolveOf(firing), { attempt: 1, log })).toEqual({
      outcome: 'ok',
    })
    expect(lines.map((l) => l.level)).toEqual([40, 30])
    expect(lines[0]!.msg).toMatch(/^ALERT \[FIRING critical\] Disparate impact ratio/)
    expect(lines[1]!.msg).toMatch(/^ALERT \[RESOLVED\]/)
  })
})
