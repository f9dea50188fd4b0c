import { describe, expect, it } from 'vitest'
import { parseBackfillArgs } from '../../../services/cli/backfill-args.js'
import { backfillSteps } from '../../../services/processor/history.js'
import { changedPaths } from '../../../shared/kpi/definition-log.js'

const NOW = new Date('2026-06-01T12:00:00.000Z')
const DAY = 86_400_000

describe('npm run backfill: arguments', () => {
  it('reads dates, times, steps and the axis, with defaults', () => {
    expect(parseBackfillArgs(['--from', '2026-05-01'], NOW)).toEqual({
      from: new Date('2026-05-01T00:00:00.000Z'),
      to: NOW,
      stepMs: DAY,
      axis: 'event_time',
    })
    expect(
      parseBackfillArgs(
        ['--from', '2026-05-01T06:00:00+02:00', '--to', '2026-05-02', '--step', '6h', '--known-at'],
        NOW,
      ),
    ).toEqual({
      from: new Date('2026-05-01T04:00:00.000Z'),
      to: new Date('2026-05-02T00:00:00.000Z'),
      stepMs: 6 * 3600_000,
      axis: 'ingested_at',
    })
    expect(parseBackfillArgs(['--help'], NOW)).toBe('help')
  })

  it.each([
    [[], '--from: required'],
    [['--from', 'yesterday'], '--from: "yesterday" is not a date'],
    [['--from', '2026-05-02', '--to', '2026-05-01'], '--to: 2026-05-01T00:00:00.000Z is before --from'],
    [['--from', '2026-05-01', '--step', 'daily'], '--step: "daily" is not a duration'],
    [['--from', '2026-05-01', '--step', '10s'], '--step: at least 1m'],
    [['--from', '2000-01-01', '--step', '1m'], '--step: more than 100000 steps'],
    [['--from', '2026-05-01', '--axis', 'x'], "Unknown option '--axis'"],
  ])('rejects %j naming the option', (argv, message) => {
    expect(() => parseBackfillArgs(argv, NOW)).toThrow(message)
  })
})

describe('backfill steps', () => {
  it('runs from `from` to `to` inclusive', () => {
    const steps = backfillSteps(new Date(0), new Date(2 * DAY), DAY)
    expect(steps.map((d) => d.getTime())).toEqual([0, DAY, 2 * DAY])
    expect(backfillSteps(new Date(0), new Date(DAY - 1), DAY)).toHaveLength(1)
  })
})

describe('definition changes: the paths that differ', () => {
  it('names leaf paths, array elements and whole arrays that changed length', () => {
    expect(changedPaths({ a: 1, b: { c: 2, d: [1, 2] } }, { a: 1, b: { c: 3, d: [1, 5] } })).toEqual([
      'b.c',
      'b.d[1]',
    ])
    expect(changedPaths({ d: [1] }, { d: [1, 2], e: true })).toEqual(['d', 'e'])
    expect(changedPaths({ config: null }, { config: { warning: 6 } })).toEqual(['config'])
    expect(changedPaths({ x: { b: 1, a: 2 } }, { x: { a: 2, b: 1 } })).toEqual([])
  })
})
