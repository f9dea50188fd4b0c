import { describe, expect, it } from 'vitest'
import { Coalescing, Serial } from '../../../services/processor/serial.js'

/** A round that waits until the test lets it finish, recording what it was given. */
function gatedRounds() {
  const rounds: { ids: string[]; now: number }[] = []
  const gates: (() => void)[] = []
  const round = (ids: string[], now: number) =>
    new Promise<void>((resolve) => {
      rounds.push({ ids: [...ids].sort(), now })
      gates.push(resolve)
    })
  const release = async () => {
    await new Promise((r) => setImmediate(r))
    gates.shift()?.()
    await new Promise((r) => setImmediate(r))
  }
  return { rounds, round, release }
}

describe('Coalescing', () => {
  it('gathers the triggers that arrive during a round into one next round, at the latest time', async () => {
    const g = gatedRounds()
    const c = new Coalescing(new Serial(), g.round)
    const first = c.submit(['a'], 1)
    await new Promise((r) => setImmediate(r))
    const later = [c.submit(['b'], 2), c.submit(['c', 'b'], 5), c.submit(['d'], 3)]
    await g.release()
    await first
    expect(g.rounds).toEqual([
      { ids: ['a'], now: 1 },
      { ids: ['b', 'c', 'd'], now: 5 },
    ])
    await g.release()
    await Promise.all(later)
    expect(g.rounds).toHaveLength(2)
  })

  it('starts a new round for a trigger that arrives once the gathered round is running', async () => {
    const g = gatedRounds()
    const c = new Coalescing(new Serial(), g.round)
    const one = c.submit(['a'], 1)
    await new Promise((r) => setImmediate(r))
    const two = c.submit(['b'], 2)
    await g.release()
    await one
    const three = c.submit(['c'], 3)
    await g.release()
    await two
    await g.release()
    await three
    expect(g.rounds.map((r) => r.ids)).toEqual([['a'], ['b'], ['c']])
  })

  it('fails every caller of a failed round, and the next round still runs', async () => {
    let calls = 0
    const c = new Coalescing(new Serial(), async (ids) => {
      calls++
      if (ids.includes('bad')) throw new Error('ClickHouse down')
    })
    const [x, y] = [c.submit(['bad'], 1), c.submit(['other'], 1)]
    await expect(x).rejects.toThrow('ClickHouse down')
    await expect(y).rejects.toThrow('ClickHouse down')
    await expect(c.submit(['fine'], 2)).resolves.toBeUndefined()
    expect(calls).toBe(2)
  })
})
