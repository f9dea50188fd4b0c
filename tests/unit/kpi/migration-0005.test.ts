import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { entityStateMigration, fairnessMigration } from '../../../shared/kpi/entity-state.js'

describe('migration 0005', () => {
  it('is exactly what shared/kpi/entity-state.ts generates', () => {
    const file = readFileSync(
      new URL('../../../deploy/clickhouse/migrations/0005_fairness.sql', import.meta.url),
      'utf8',
    )
    expect(file).toBe(fairnessMigration())
  })

  it('adds the fact columns the views of 0003 read before them, and the uncertainty columns in 0005', () => {
    const m0003 = entityStateMigration()
    expect(m0003.indexOf('ADD COLUMN IF NOT EXISTS cell_attributes Array(String)')).toBeGreaterThan(0)
    expect(m0003.indexOf('ADD COLUMN IF NOT EXISTS cell_attributes')).toBeLessThan(
      m0003.indexOf('CREATE MATERIALIZED VIEW IF NOT EXISTS fairness_group_state_mv'),
    )
    expect(m0003).toContain('selected AggregateFunction(argMax, UInt64, UInt128)')
    expect(fairnessMigration()).toContain('ADD COLUMN IF NOT EXISTS ci_low Nullable(Float64)')
  })
})
