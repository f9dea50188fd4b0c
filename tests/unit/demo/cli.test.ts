import { describe, expect, it } from 'vitest'
import { parseDemoArgs, parseDuration, UsageError } from '../../../services/demo/cli-args.js'
import { createProgressBar } from '../../../services/demo/progress.js'

describe('demo command line', () => {
  it('parses durations', () => {
    expect(parseDuration('60s')).toBe(60_000)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('1h')).toBe(3_600_000)
    expect(parseDuration('1500ms')).toBe(1500)
    expect(parseDuration('1.5m')).toBe(90_000)
    expect(parseDuration('30')).toBe(30_000)
    for (const bad of ['', 'soon', '5d', '-1s', '0s', '1 h 2'])
      expect(() => parseDuration(bad), bad).toThrow(UsageError)
  })

  it('has defaults and reads every flag', () => {
    expect(parseDemoArgs([])).toEqual({
      rate: 20,
      durationMs: undefined,
      brokers: undefined,
      seed: 42,
      months: 4,
      history: true,
    })
    expect(
      parseDemoArgs([
        '--rate',
        '500',
        '--duration',
        '60s',
        '--brokers',
        'localhost:9093,kafka:9092',
        '--seed',
        'board',
        '--months',
        '6',
        '--no-history',
      ]),
    ).toEqual({
      rate: 500,
      durationMs: 60_000,
      brokers: ['localhost:9093', 'kafka:9092'],
      seed: 'board',
      months: 6,
      history: false,
    })
    expect(parseDemoArgs(['--seed', '7'])).toMatchObject({ seed: 7 })
    expect(parseDemoArgs(['--help'])).toBe('help')
  })

  it.each([
    [['--rate', 'fast'], /--rate/],
    [['--rate', '-5'], /--rate/],
    [['--months', '0'], /--months/],
    [['--months', '2.5'], /--months/],
    [['--duration', '1 week'], /--duration/],
    [['--brokers', 'nohostport'], /--brokers/],
    [['--bogus'], /bogus/],
    [['stray'], /stray/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError)
    expect(() => parseDemoArgs(argv)).toThrow(message)
  })
})

describe('progress bar', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = []
    return { chunks, stream: { isTTY, columns: 100, write: (c: string) => chunks.push(c) > 0 } }
  }

  it('prints one plain line at completion when not on a TTY', () => {
    const { chunks, stream } = sink(false)
    const bar = createProgressBar('history', 1000, stream)
    bar.update(500)
    bar.update(1000)
    expect(chunks).toEqual([])
    bar.done('0.4 s')
    bar.done()
    expect(chunks).toEqual(['history: 1,000/1,000 done (0.4 s)\n'])
  })

  it('redraws in place on a TTY, with percentage, or a running count when the total is unknown', () => {
    const { chunks, stream } = sink(true)
    const bar = createProgressBar('history', 200, stream)
    bar.update(100)
    expect(chunks[0]).toMatch(/^\rhistory \[█+░+\]\s+50% 100\/200/)
    bar.done()
    expect(chunks.at(-1)).toMatch(/100% 200|50% 100/)
    expect(chunks.at(-1)).toMatch(/\n$/)
    const open = sink(true)
    const live = createProgressBar('live', 0, open.stream)
    live.update(42)
    expect(open.chunks[0]?.startsWith('\rlive 42')).toBe(true)
  })
})
