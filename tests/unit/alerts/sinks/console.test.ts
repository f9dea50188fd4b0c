import { Writable } from 'node:stream'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { ConsoleSender } from '../../../../services/alerter/sinks/console/sender.js'
import { createScreen, plainText, visibleLength } from '../../../../shared/terminal.js'
import { resolveOf, sampleAlert } from '../../../helpers/alert-fixtures.js'

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
  return { entries, log }
}

function fakeTerminal(tty: boolean, columns = 80) {
  const writes: string[] = []
  const out = createScreen({ isTTY: tty, columns, write: (c: string) => writes.push(c) > 0 })
  return { out, writes }
}

describe('console sink', () => {
  it('off a terminal: one log entry per transition, warn while firing and info on resolve', async () => {
    const { entries, log } = capture()
    const { out, writes } = fakeTerminal(false)
    const sender = new ConsoleSender('console', {}, out)
    const firing = sampleAlert()
    expect(await sender.send(firing, { attempt: 1, log })).toEqual({ outcome: 'ok' })
    expect(await sender.send(resolveOf(firing), { attempt: 1, log })).toEqual({ outcome: 'ok' })
    expect(entries.map((l) => l.level)).toEqual([40, 30])
    expect(entries[0]!.msg).toMatch(/^ALERT \[FIRING critical\] Disparate impact ratio/)
    expect(entries[1]!.msg).toMatch(/^ALERT \[RESOLVED\]/)
    expect(writes).toEqual([])
  })

  it('on a terminal: exactly one line per alert, never wider than the terminal', async () => {
    const { entries, log } = capture()
    const { out, writes } = fakeTerminal(true, 60)
    const sender = new ConsoleSender('console', {}, out)
    await sender.send(sampleAlert(), { attempt: 1, log })
    await sender.send(resolveOf(sampleAlert()), { attempt: 1, log })
    const printed = writes
      .join('')
      .split('\n')
      .filter((l) => plainText(l).trim() !== '')
    expect(printed).toHaveLength(2)
    for (const line of printed) expect(visibleLength(plainText(line))).toBeLessThanOrEqual(60)
    expect(printed[0]).toContain('FIRING critical')
    expect(printed[1]).toContain('RESOLVED')
    // Nothing at warn or info: the terminal line is the notification; the record is at debug level.
    expect(entries.map((e) => e.level)).toEqual([20, 20])
  })

  it('auto stays JSON on a terminal when the process logs JSON on purpose (LOG_FORMAT=json)', async () => {
    const { entries, log } = capture()
    const tty = fakeTerminal(true)
    await new ConsoleSender('console', {}, tty.out, false).send(sampleAlert(), { attempt: 1, log })
    expect(tty.writes).toEqual([])
    expect(entries.map((e) => e.level)).toEqual([40])
  })

  it('format: json keeps the log entry on a terminal too; format: line writes lines off one', async () => {
    const { entries, log } = capture()
    const tty = fakeTerminal(true)
    await new ConsoleSender('console', { format: 'json' }, tty.out).send(sampleAlert(), { attempt: 1, log })
    expect(tty.writes).toEqual([])
    expect(entries).toHaveLength(1)
    const pipe = fakeTerminal(false)
    await new ConsoleSender('console', { format: 'line' }, pipe.out).send(sampleAlert(), { attempt: 1, log })
    expect(pipe.writes.join('')).toMatch(
      /^\d\d:\d\d:\d\d FIRING critical {2}Disparate impact ratio: [\d.]+ \(threshold [\d.]+\)( · [^·]+)+\n$/,
    )
  })
})
