import { describe, expect, it } from 'vitest'
import { createStartup } from '../../../services/all-in-one/startup.js'
import { formatSummary } from '../../../services/all-in-one/summary.js'
import { colour, createScreen, fitWidth, formatLogEntry, visibleLength } from '../../../shared/terminal.js'
import { renderTerminal } from '../../helpers/terminal.js'

function fake(tty: boolean, columns = 40) {
  const writes: string[] = []
  return { out: createScreen({ isTTY: tty, columns, write: (c: string) => writes.push(c) > 0 }), writes }
}

const lines = (writes: string[]) => renderTerminal(writes).filter((l) => l !== '')

describe('fitWidth', () => {
  it('leaves a short line alone and cuts a long one to the width with an ellipsis', () => {
    expect(fitWidth('short', 10)).toBe('short')
    const cut = fitWidth('0123456789abcdef', 10)
    expect(cut).toBe('012345678…')
    expect(visibleLength(cut)).toBe(10)
  })

  it('does not count colour codes and resets the colour after a cut', () => {
    const red = colour.red('0123456789abcdef')
    expect(visibleLength(red)).toBe(16)
    const cut = fitWidth(red, 8)
    expect(visibleLength(cut)).toBe(8)
    expect(cut.endsWith('\x1b[0m')).toBe(true)
  })

  it('keeps a multi-line text on one line', () => {
    expect(fitWidth('a\nb', 20)).toBe('a ⏎ b')
  })
})

describe('screen', () => {
  it('on a terminal: lines fit the width, and the live status line is redrawn under each', () => {
    const { out, writes } = fake(true, 20)
    out.status('working · 3 s')
    out.line('a line that is much longer than twenty columns')
    out.status('still working')
    out.status(undefined)
    // The permanent line stays; the live line is redrawn under it, then cleared.
    expect(lines(writes)).toEqual(['a line that is much…'])
    expect(renderTerminal(writes.slice(0, -1)).at(-1)).toBe('still working')
  })

  it('off a terminal: no status line, no cutting, no colour', () => {
    const { out, writes } = fake(false, 20)
    out.status('working')
    out.line(colour.red('a line that is much longer than twenty columns'))
    expect(writes).toEqual(['a line that is much longer than twenty columns\n'])
  })
})

describe('log entries for people', () => {
  it('one line: time, level, component, message, error, then the other fields', () => {
    const line = formatLogEntry(
      {
        level: 40,
        time: '2026-03-02T09:00:00.000Z',
        service: 'aims',
        component: 'collector',
        msg: 'batch write failed, retrying',
        err: 'ECONNREFUSED',
        stage: 'clickhouse',
        attempt: 3,
      },
      false,
    )
    expect(line).toMatch(
      /^\d\d:\d\d:\d\d WARN collector: batch write failed, retrying \(ECONNREFUSED\) stage=clickhouse attempt=3$/,
    )
  })
})

describe('start-up steps', () => {
  it('a done step is one line with its duration and result', () => {
    let t = 0
    const { out, writes } = fake(false, 80)
    const startup = createStartup(out, () => t)
    const step = startup.step('Kafka broker')
    t = 12_300
    step.done('127.0.0.1:9092')
    expect(lines(writes)).toEqual(['✔ Kafka broker (12.3 s) 127.0.0.1:9092'])
    expect(startup.elapsedS()).toBeCloseTo(12.3)
  })

  it('on a terminal the running step shows its elapsed time and, after a while, its hint', () => {
    let t = 0
    const { out, writes } = fake(true, 100)
    const step = createStartup(out, () => t).step('collector', [
      { afterMs: 5_000, text: 'waiting for the group' },
    ])
    t = 6_000
    step.note('joining the consumer group')
    expect(renderTerminal(writes).at(-1)).toMatch(
      /collector: joining the consumer group \(waiting for the group\) · 6 s/,
    )
    step.fail('gave up')
    expect(lines(writes).at(-1)).toBe('✖ collector (6.0 s) gave up')
  })
})

describe('the summary line', () => {
  it('names what it counts', () => {
    const line = formatSummary(
      { eventsPerSecond: 5.2, stored: 12_345, deadLetters: 1, openBreaches: 11, alertsDelivered: 11 },
      new Date(2026, 2, 2, 9, 5, 7),
    )
    expect(line).toBe(
      '09:05:07 · 5 events/s · 12,345 stored · 1 dead letter · 11 open breaches · 11 alerts delivered',
    )
  })
})
